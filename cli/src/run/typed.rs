//! Map keys and values read as the program's own types, from their bytes and the object's BTF,
//! the way bpftool shows them: struct fields by name, integers in decimal, enums by name,
//! `char` arrays as text, and IPv4/IPv6 addresses where a 4- or 16-byte field is named like
//! one. Only bytes and a type go in: nothing here knows how the host stores a map.

use nanobpf_core::{BtfTypeId, BtfTypeKind, BtfTypes};
use serde::ser::{SerializeMap, SerializeSeq};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Nesting deeper than this is shown as hex.
const MAX_NESTING: u32 = 16;
/// Array elements shown; the rest are counted.
const MAX_ELEMENTS: usize = 256;

/// A value read as its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An unsigned integer (or one whose type is unknown to be signed).
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A `bool`.
    Bool(bool),
    /// A floating-point number.
    Float(f64),
    /// An enumerator, by name.
    Enum(String),
    /// Text from a `char` array (up to the first NUL).
    Str(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// A struct or union: fields by name, in order.
    Struct(Vec<(String, Value)>),
    /// An array; `more` elements were left out.
    Array(Vec<Value>, usize),
    /// Bytes of no known type.
    Hex(Vec<u8>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Uint(n) => write!(f, "{n}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Enum(name) => f.write_str(name),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Ipv4(a) => write!(f, "{a}"),
            Value::Ipv6(a) => write!(f, "{a}"),
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, (name, v)) in fields.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{name}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Array(items, more) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{v}")?;
                }
                if *more > 0 {
                    write!(f, ", ... {more} more")?;
                }
                f.write_str("]")
            }
            Value::Hex(bytes) => f.write_str(&hex(bytes)),
        }
    }
}

/// Bytes as lowercase hex digits, in memory order.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Uint(n) => s.serialize_u64(*n),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Enum(t) | Value::Str(t) => s.serialize_str(t),
            Value::Ipv4(a) => s.collect_str(a),
            Value::Ipv6(a) => s.collect_str(a),
            Value::Hex(bytes) => s.serialize_str(&hex(bytes)),
            Value::Struct(fields) => {
                let mut m = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Value::Array(items, _) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

/// Last words of a name that say a 4- or 16-byte field is an address.
const ADDRESS_WORDS: &[&str] = &[
    "ip", "ipv4", "ipv6", "ip4", "ip6", "src", "dst", "source", "dest", "sip", "dip", "srcip",
    "dstip", "nexthop", "gateway", "gw", "peer", "prefix",
];

/// Whether `name` (a field's, a variable's, or for a whole key or value the map's) reads
/// like an address: its last `_`-separated word contains `addr` (`saddr`, `daddr`,
/// `src_addr`) or is one of `ip`, `src`, `dst`, `source`, `dest`, ... (`src_ip`,
/// `per_source`), so that `src_port`, `ip_len` or `non_ip_verdict` are not.
pub fn is_address_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let last = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|w| !w.is_empty())
        .unwrap_or_default();
    last.contains("addr") || ADDRESS_WORDS.contains(&last)
}

/// How a value is being read: its name for the address test, whether a `__be*` typedef said
/// it is in network byte order, and whether it is an LPM trie key (whose data after the
/// prefix length is an address, whatever its name).
#[derive(Clone, Copy)]
struct Hint<'n> {
    name: &'n str,
    big_endian: bool,
    lpm_key: bool,
    address: bool,
}

/// Reads `bytes` as type `ty` of `types`. `name` is the name the value goes by (the map's
/// for a whole key or value): a 4- or 16-byte integer or byte array with an address-like name
/// is shown as an address; so is the data after the prefix length of an LPM trie key
/// (`lpm_key`). Bytes that do not fit the type are shown as hex.
pub fn decode(
    types: &BtfTypes<'_>,
    ty: BtfTypeId,
    bytes: &[u8],
    name: &str,
    lpm_key: bool,
) -> Value {
    let hint = Hint {
        name,
        big_endian: false,
        lpm_key,
        address: false,
    };
    let size = match types.get(ty).map(|t| t.kind) {
        Ok(BtfTypeKind::Datasec { size, .. }) => Ok(size),
        _ => types.size_of(ty),
    };
    match size {
        Ok(size) if size as usize == bytes.len() => {
            decode_at(types, ty, bytes, hint, 0).unwrap_or_else(|| Value::Hex(bytes.to_vec()))
        }
        _ => Value::Hex(bytes.to_vec()),
    }
}

fn address(bytes: &[u8]) -> Option<Value> {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        return Some(Value::Ipv4(Ipv4Addr::from(b)));
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|b| Value::Ipv6(Ipv6Addr::from(b)))
}

fn decode_at(
    types: &BtfTypes<'_>,
    ty: BtfTypeId,
    bytes: &[u8],
    hint: Hint<'_>,
    depth: u32,
) -> Option<Value> {
    if depth > MAX_NESTING {
        return None;
    }
    // Follow typedefs and qualifiers, noting names that say what the bytes are.
    let mut id = ty;
    let mut hint = hint;
    let t = loop {
        let t = types.get(id).ok()?;
        match t.kind {
            BtfTypeKind::Typedef(next) | BtfTypeKind::Qualified(next) => {
                hint.big_endian |= t.name.starts_with("__be");
                id = next;
            }
            _ => break t,
        }
    };
    let addressy = matches!(bytes.len(), 4 | 16)
        && (hint.address || is_address_name(hint.name) || matches!(t.name, "in_addr" | "in6_addr"));
    match t.kind {
        BtfTypeKind::Int {
            size,
            signed,
            char: _,
            bool,
            ..
        } => {
            let bytes = bytes.get(..size as usize)?;
            if addressy {
                return address(bytes);
            }
            let mut word = [0u8; 8];
            let n = bytes.len().min(8);
            if hint.big_endian {
                let mut b = bytes.to_vec();
                b.reverse();
                word[..n].copy_from_slice(b.get(..n)?);
            } else {
                word[..n].copy_from_slice(bytes.get(..n)?);
            }
            let raw = u64::from_le_bytes(word);
            if size > 8 {
                return Some(Value::Hex(bytes.to_vec()));
            }
            Some(if bool {
                Value::Bool(raw != 0)
            } else if signed {
                let shift = 64 - 8 * size;
                Value::Int(((raw << shift) as i64) >> shift)
            } else {
                Value::Uint(raw)
            })
        }
        BtfTypeKind::Enum { size, signed, .. } => {
            let mut word = [0u8; 8];
            let b = bytes.get(..size as usize)?;
            word.get_mut(..b.len())?.copy_from_slice(b);
            let raw = u64::from_le_bytes(word);
            let shift = 64u32.checked_sub(8 * size)?;
            let value = if signed {
                ((raw << shift) as i64) >> shift
            } else {
                raw as i64
            };
            let named = types
                .enumerators(t.id)
                .ok()?
                .filter_map(Result::ok)
                .find(|e| e.value == value);
            Some(match named {
                Some(e) => Value::Enum(e.name.to_string()),
                None if signed => Value::Int(value),
                None => Value::Uint(raw),
            })
        }
        BtfTypeKind::Float { size: 4 } => Some(Value::Float(
            f32::from_le_bytes(bytes.try_into().ok()?).into(),
        )),
        BtfTypeKind::Float { size: 8 } => {
            Some(Value::Float(f64::from_le_bytes(bytes.try_into().ok()?)))
        }
        BtfTypeKind::Ptr(_) => Some(Value::Uint(u64::from_le_bytes(bytes.try_into().ok()?))),
        BtfTypeKind::Array { elem, len } => {
            let elem_size = types.size_of(elem).ok()? as usize;
            let elem_t = types.resolve(elem).ok()?;
            let byte_like = matches!(elem_t.kind, BtfTypeKind::Int { size: 1, .. });
            if addressy && byte_like {
                return address(bytes);
            }
            if matches!(
                elem_t.kind,
                BtfTypeKind::Int {
                    size: 1,
                    char: true,
                    ..
                }
            ) || (byte_like && elem_t.name == "char")
            {
                let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
                if text.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                    return Some(Value::Str(String::from_utf8_lossy(text).into_owned()));
                }
            }
            if elem_size == 0 {
                return Some(Value::Array(Vec::new(), 0));
            }
            let shown = (len as usize).min(MAX_ELEMENTS);
            let items = bytes
                .chunks_exact(elem_size)
                .take(shown)
                .map(|b| {
                    let h = Hint {
                        name: "",
                        lpm_key: false,
                        ..hint
                    };
                    decode_at(types, elem, b, h, depth + 1)
                        .unwrap_or_else(|| Value::Hex(b.to_vec()))
                })
                .collect();
            Some(Value::Array(items, len as usize - shown))
        }
        BtfTypeKind::Struct { .. } | BtfTypeKind::Union { .. } | BtfTypeKind::Datasec { .. } => {
            if addressy && matches!(t.name, "in_addr" | "in6_addr") {
                return address(bytes);
            }
            let mut fields = Vec::new();
            for m in types.members(t.id).ok()? {
                let m = m.ok()?;
                // `struct { __u32 prefixlen; <address> }`, as `bpf_lpm_trie_key` lays it out.
                let address = hint.lpm_key && depth == 0 && m.bit_offset >= 32;
                let v = member(types, m, bytes, depth, address)?;
                fields.push((m.name.to_string(), v));
            }
            Some(Value::Struct(fields))
        }
        BtfTypeKind::Var(inner) => decode_at(types, inner, bytes, hint, depth + 1),
        BtfTypeKind::Void
        | BtfTypeKind::Typedef(_)
        | BtfTypeKind::Qualified(_)
        | BtfTypeKind::Float { .. }
        | BtfTypeKind::Other => None,
    }
}

/// One member of a struct, union or data section, from the bytes of the whole.
fn member(
    types: &BtfTypes<'_>,
    m: nanobpf_core::BtfMember<'_>,
    bytes: &[u8],
    depth: u32,
    address: bool,
) -> Option<Value> {
    let hint = Hint {
        name: m.name,
        big_endian: false,
        lpm_key: false,
        address,
    };
    let start = (m.bit_offset / 8) as usize;
    if m.bitfield_size > 0 {
        let mut word = [0u8; 8];
        let avail = bytes.get(start..)?;
        let n = avail.len().min(8);
        word[..n].copy_from_slice(avail.get(..n)?);
        let shift = m.bit_offset % 8;
        let raw = u64::from_le_bytes(word) >> shift;
        let bits = u32::from(m.bitfield_size).min(64);
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1 << bits) - 1
        };
        return Some(Value::Uint(raw & mask));
    }
    let size = types.size_of(m.ty).ok()? as usize;
    let field = bytes.get(start..start.checked_add(size)?)?;
    Some(
        decode_at(types, m.ty, field, hint, depth + 1)
            .unwrap_or_else(|| Value::Hex(field.to_vec())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_names() {
        for yes in [
            "saddr",
            "daddr",
            "addr",
            "src_ip",
            "ip",
            "per_source",
            "dst",
            "ipv6_dst",
        ] {
            assert!(is_address_name(yes), "{yes}");
        }
        for no in [
            "src_port",
            "count",
            "packets",
            "prefixlen",
            "verdicts",
            "ip_len",
            "non_ip_verdict",
            "src_count",
        ] {
            assert!(!is_address_name(no), "{no}");
        }
    }
}
