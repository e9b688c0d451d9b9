//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match over `D` data bytes (4 for IPv4, 16 for IPv6).
//!
//! Keys have Linux's layout: a native-endian `u32` prefix length, then the `D` data bytes in
//! network order (bit 0 is the top bit of the first byte). The trie is Linux's path-compressed
//! binary trie: value nodes hold a prefix and a value; intermediate nodes, created where two
//! prefixes diverge, always have two children. Hence at most `N - 1` intermediate nodes, and a
//! pool of `2 N` nodes always suffices. Values live outside the lock as atomics; the trie sits
//! behind one map-wide lock, taken by lookups too (Linux reads under RCU instead).

use core::ptr::NonNull;

use super::hash::{link, stored, NIL};
use super::layout::{check_storage, mul, sum, Carve, LayoutError, MapSizing, Shape};
use super::word::{copy_in, copy_out, copy_words, value_words, words_addr, zero, Word};
use super::{
    check_update_flags, Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};

/// Where a node hangs: the root pointer, or a child pointer of a node.
#[derive(Clone, Copy, Debug)]
enum Link {
    Root,
    Child(u32, usize),
}

/// Meta words per node before its data: (prefix length, value slot), (child 0, child 1).
const NODE_META: usize = 2;

/// Bit `index % 8` of `b`, counting from the top bit.
fn bit_of_byte(b: u8, index: u32) -> usize {
    usize::from(b.wrapping_shl(index % 8) >> 7)
}

/// Bit `index` of `data`, counting from the top bit of the first byte.
fn bit(data: &[u8], index: u32) -> usize {
    data.get(index as usize / 8)
        .map_or(0, |&b| bit_of_byte(b, index))
}

/// Byte `i` of the bytes held in `words`.
fn byte_of(words: &[Word], i: usize) -> u8 {
    words
        .get(i / 8)
        .and_then(|w| {
            w.load(core::sync::atomic::Ordering::Relaxed)
                .get(i % 8)
                .copied()
        })
        .unwrap_or(0)
}

/// How many leading bits the data in `node` (of prefix length `node_len`) and `data` share,
/// at most both prefix lengths: 32 bits at a time (one half of a word, one load on 32-bit
/// targets; both sides are zero-padded).
#[inline(always)]
fn match_words(node: &[Word], node_len: u32, prefixlen: u32, data: &[u8]) -> u32 {
    let limit = node_len.min(prefixlen);
    let mut len = 0u32;
    for (i, chunk) in data.chunks(4).enumerate() {
        let Some(w) = node.get(i / 2) else { break };
        // Big-endian: bit 0 of the data is the top bit of the first byte.
        let have = u32::from_be_bytes(w.half(i % 2).to_ne_bytes());
        let want = match <[u8; 4]>::try_from(chunk) {
            Ok(bytes) => u32::from_be_bytes(bytes),
            Err(_) => {
                // The short last chunk, zero-padded.
                let mut bytes = [0u8; 4];
                bytes.iter_mut().zip(chunk).for_each(|(d, &b)| *d = b);
                u32::from_be_bytes(bytes)
            }
        };
        let diff = have ^ want;
        len = len.saturating_add(diff.leading_zeros());
        if len >= limit {
            return limit;
        }
        if diff != 0 {
            return len;
        }
    }
    len
}

/// A node as read from storage (its data stays in storage).
#[derive(Clone, Copy, Debug)]
struct Node {
    prefixlen: u32,
    child: [u32; 2],
    /// The value slot, or `NIL` for an intermediate node.
    value: u32,
}

/// An LPM trie over borrowed storage, sized at run time: longest-prefix match over `d` data
/// bytes, up to `n` prefixes, values of `vw` words.
///
/// Storage, in order: the trie lock, (root, first free node), (never-used node mark, prefix
/// count), `2 n` nodes of `2 + dw` words ((prefix length, value slot), (child 0, child 1), the
/// data), `n` value-slot owners (the node holding each slot), and `n` values. Links are
/// stored complemented, so zeroed storage is the empty trie.
#[derive(Debug)]
pub struct LpmView<'a> {
    lock: &'a Word,
    top: &'a Word,
    counts: &'a Word,
    nodes: &'a [Word],
    owners: &'a [Word],
    values: &'a [Word],
    d: u32,
    value_size: u32,
    n: u32,
    stride: usize,
    vw: usize,
    flags: u32,
}

impl<'a> LpmView<'a> {
    pub(crate) fn words(s: &Shape) -> Result<usize, LayoutError> {
        let dw = value_words(s.k.saturating_sub(4));
        sum(&[
            3,
            mul(mul(s.n, 2)?, dw.saturating_add(NODE_META))?,
            s.n,
            mul(s.n, s.vw)?,
        ])
    }

    /// A view of `def` (an LPM trie) over `words`, which must be exactly
    /// [`words_needed`](super::words_needed) long.
    ///
    /// # Errors
    ///
    /// A definition the type does not accept, or storage of the wrong length.
    pub fn new(def: &MapDef, sizing: &MapSizing, words: &'a [Word]) -> Result<Self, LayoutError> {
        let s = check_storage(def, sizing, words)?;
        if def.map_type != MapType::LpmTrie {
            return Err(LayoutError::UnsupportedType(def.map_type));
        }
        let d = s.k.saturating_sub(4);
        let stride = value_words(d).saturating_add(NODE_META);
        let mut c = Carve::new(words);
        let (lock, top, counts) = (c.one()?, c.one()?, c.one()?);
        let nodes = c.take(mul(mul(s.n, 2)?, stride)?)?;
        let owners = c.take(s.n)?;
        let values = c.take(mul(s.n, s.vw)?)?;
        Ok(LpmView {
            lock,
            top,
            counts,
            nodes,
            owners,
            values,
            d: d as u32,
            value_size: s.v as u32,
            n: s.n as u32,
            stride,
            vw: s.vw,
            flags: def.flags,
        })
    }

    /// Over the parts of a trie of `n` prefixes of `d` data bytes to values of `v` bytes.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn from_parts(
        meta: &'a [Word; 3],
        nodes: &'a [Word],
        owners: &'a [Word],
        values: &'a [Word],
        d: usize,
        v: usize,
        n: usize,
        flags: u32,
    ) -> Self {
        let [lock, top, counts] = meta;
        LpmView {
            lock,
            top,
            counts,
            nodes,
            owners,
            values,
            d: d as u32,
            value_size: v as u32,
            n: n as u32,
            stride: value_words(d).saturating_add(NODE_META),
            vw: value_words(v),
            flags,
        }
    }

    #[inline]
    fn max_prefixlen(&self) -> u32 {
        self.d.saturating_mul(8)
    }

    /// The number of prefixes.
    pub fn len(&self) -> usize {
        let _guard = self.lock.lock();
        self.counts.half(1) as usize
    }

    /// Whether the trie has no prefixes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of the longest prefix matching `data` (all `8 d` bits considered).
    #[inline]
    pub fn get(&self, data: &[u8]) -> Option<&'a [Word]> {
        if data.len() != self.d as usize {
            return None;
        }
        let _guard = self.lock.lock();
        let v = self.find_longest(self.max_prefixlen(), data)?;
        self.value_words(v)
    }

    /// Splits a Linux LPM key into prefix length and data.
    #[inline]
    fn parse<'k>(&self, key: &'k [u8]) -> Option<(u32, &'k [u8])> {
        let (len, data) = key.split_first_chunk::<4>()?;
        (data.len() == self.d as usize).then_some((u32::from_ne_bytes(*len), data))
    }

    #[inline(always)]
    fn value_words(&self, v: u32) -> Option<&'a [Word]> {
        if v >= self.n {
            return None;
        }
        let at = (v as usize).saturating_mul(self.vw);
        self.values.get(at..at.saturating_add(self.vw))
    }

    // Everything below runs under the trie lock.

    #[inline(always)]
    fn node_words(&self, n: u32) -> Option<&'a [Word]> {
        if n >= self.n.saturating_mul(2) {
            return None;
        }
        // No overflow: `2 n × stride` words exist.
        let at = (n as usize).saturating_mul(self.stride);
        self.nodes.get(at..at.saturating_add(self.stride))
    }

    #[inline]
    fn node_data(&self, n: u32) -> &'a [Word] {
        self.node_words(n)
            .and_then(|w| w.get(NODE_META..))
            .unwrap_or(&[])
    }

    #[inline(always)]
    fn node(&self, n: u32) -> Option<Node> {
        let w = self.node_words(n)?;
        let (prefixlen, value) = w.first()?.pair();
        let (c0, c1) = w.get(1)?.pair();
        Some(Node {
            prefixlen,
            child: [link(c0), link(c1)],
            value: link(value),
        })
    }

    #[inline]
    fn set_node(&self, n: u32, node: Node) {
        if let Some(w) = self.node_words(n) {
            if let (Some(a), Some(b)) = (w.first(), w.get(1)) {
                a.set_pair(node.prefixlen, stored(node.value));
                b.set_pair(stored(node.child[0]), stored(node.child[1]));
            }
        }
    }

    #[inline]
    fn root(&self) -> u32 {
        link(self.top.half(0))
    }

    #[inline]
    fn get_link(&self, at: Link) -> u32 {
        match at {
            Link::Root => self.root(),
            Link::Child(n, b) => self
                .node(n)
                .and_then(|n| n.child.get(b).copied())
                .unwrap_or(NIL),
        }
    }

    #[inline]
    fn set_link(&self, at: Link, to: u32) {
        match at {
            Link::Root => self.top.set_half(0, stored(to)),
            Link::Child(n, b) => {
                if let Some(mut node) = self.node(n) {
                    if let Some(c) = node.child.get_mut(b) {
                        *c = to;
                        self.set_node(n, node);
                    }
                }
            }
        }
    }

    /// How many leading bits node `n` (of prefix length `node_len`) and the key share, at
    /// most both prefix lengths.
    #[inline(always)]
    fn match_len(&self, n: u32, node_len: u32, prefixlen: u32, data: &[u8]) -> u32 {
        match_words(self.node_data(n), node_len, prefixlen, data)
    }

    fn alloc_node(&self) -> Option<u32> {
        let (_, free) = self.top.pair();
        let free = link(free);
        let (bump, len) = self.counts.pair();
        let n = if free != NIL {
            let next = self.node(free)?.child[0];
            let (root, _) = self.top.pair();
            self.top.set_pair(root, stored(next));
            free
        } else if bump < self.n.saturating_mul(2) {
            self.counts.set_pair(bump.saturating_add(1), len);
            bump
        } else {
            return None;
        };
        Some(n)
    }

    fn free_node(&self, n: u32) {
        let (root, head) = self.top.pair();
        if self.node_words(n).is_some() {
            self.set_node(
                n,
                Node {
                    prefixlen: 0,
                    child: [link(head), NIL],
                    value: NIL,
                },
            );
            zero(self.node_data(n));
            self.top.set_pair(root, stored(n));
        }
    }

    fn alloc_value(&self, owner: u32) -> Option<u32> {
        let v = self.owners.iter().position(|o| link(o.half(0)) == NIL)?;
        self.owners.get(v)?.set_half(0, stored(owner));
        let (bump, len) = self.counts.pair();
        self.counts.set_pair(bump, len.saturating_add(1));
        u32::try_from(v).ok()
    }

    fn free_value(&self, v: u32) {
        if let Some(o) = self.owners.get(v as usize) {
            o.set_half(0, stored(NIL));
            let (bump, len) = self.counts.pair();
            self.counts.set_pair(bump, len.saturating_sub(1));
        }
    }

    /// The value slot of the longest prefix matching `data` within `prefixlen` bits.
    #[inline(always)]
    fn find_longest(&self, prefixlen: u32, data: &[u8]) -> Option<u32> {
        let max = self.max_prefixlen();
        let mut found = None;
        let mut cur = self.root();
        for _ in 0..=max {
            // One look at each node's words: meta, children, data.
            let Some(w) = self.node_words(cur) else { break };
            let (Some(meta), Some(kids), Some(node_data)) =
                (w.first(), w.get(1), w.get(NODE_META..))
            else {
                break;
            };
            let (node_len, value) = meta.pair();
            let m = match_words(node_data, node_len, prefixlen, data);
            if m < node_len {
                break;
            }
            if link(value) != NIL {
                found = Some(link(value));
            }
            if m == max {
                break;
            }
            cur = link(kids.half(bit(data, node_len)));
        }
        found
    }

    /// The node holding exactly `prefixlen`/`data` (value or intermediate), with the links to
    /// it and to its parent, and the parent.
    fn find_exact(&self, prefixlen: u32, data: &[u8]) -> Option<(u32, Link, Link, u32)> {
        let (mut at, mut parent_link, mut parent) = (Link::Root, Link::Root, NIL);
        for _ in 0..=self.max_prefixlen() {
            let cur = self.get_link(at);
            let node = self.node(cur)?;
            let m = self.match_len(cur, node.prefixlen, prefixlen, data);
            if node.prefixlen != m || node.prefixlen == prefixlen {
                return (node.prefixlen == prefixlen && m == prefixlen).then_some((
                    cur,
                    at,
                    parent_link,
                    parent,
                ));
            }
            parent = cur;
            parent_link = at;
            at = Link::Child(cur, bit(data, node.prefixlen));
        }
        None
    }

    /// Inserts or replaces; returns the value slot to write.
    fn insert(&self, prefixlen: u32, data: &[u8], flags: u64) -> Result<u32, MapError> {
        let max = self.max_prefixlen();
        let mut at = Link::Root;
        let mut m = 0;
        let mut cur = self.root();
        let mut next = cur;
        for _ in 0..=max {
            cur = next;
            // One look at each node's words, as in `find_longest`.
            let Some(w) = self.node_words(cur) else { break };
            let (Some(meta), Some(kids), Some(node_data)) =
                (w.first(), w.get(1), w.get(NODE_META..))
            else {
                break;
            };
            let node_len = meta.half(0);
            m = match_words(node_data, node_len, prefixlen, data);
            if node_len != m || node_len == prefixlen || node_len == max {
                break;
            }
            let b = bit(data, node_len);
            at = Link::Child(cur, b);
            next = link(kids.half(b));
        }
        let existing = self.node(cur);
        if let Some(node) = existing.filter(|n| n.prefixlen == m && m == prefixlen) {
            // Exactly this prefix: replace the value, or give an intermediate node one.
            if node.value != NIL {
                return if flags == BPF_NOEXIST {
                    Err(MapError::Exists)
                } else {
                    Ok(node.value)
                };
            }
            if flags == BPF_EXIST {
                return Err(MapError::NotFound);
            }
            let v = self.alloc_value(cur).ok_or(MapError::NoSpace)?;
            self.set_node(cur, Node { value: v, ..node });
            return Ok(v);
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        if self.counts.half(1) >= self.n {
            return Err(MapError::NoSpace);
        }
        let new = self.alloc_node().ok_or(MapError::NoSpace)?;
        self.set_node(
            new,
            Node {
                prefixlen,
                child: [NIL; 2],
                value: NIL,
            },
        );
        copy_in(self.node_data(new), data);
        let top = match existing {
            None => new,
            Some(_) if m == prefixlen => {
                // The new prefix covers the existing node: it goes above it.
                let b = bit_of_byte(byte_of(self.node_data(cur), m as usize / 8), m);
                let mut child = [NIL; 2];
                if let Some(c) = child.get_mut(b) {
                    *c = cur;
                }
                self.set_node(
                    new,
                    Node {
                        prefixlen,
                        child,
                        value: NIL,
                    },
                );
                new
            }
            Some(_) => {
                // The prefixes diverge at bit `m`: an intermediate node joins them.
                let mut child = [cur, new];
                if bit(data, m) == 0 {
                    child = [new, cur];
                }
                let Some(im) = self.alloc_node() else {
                    self.free_node(new);
                    return Err(MapError::NoSpace);
                };
                self.set_node(
                    im,
                    Node {
                        prefixlen: m,
                        child,
                        value: NIL,
                    },
                );
                copy_words(self.node_data(im), self.node_data(cur));
                im
            }
        };
        let Some(v) = self.alloc_value(new) else {
            self.free_node(new);
            return Err(MapError::NoSpace);
        };
        if let Some(node) = self.node(new) {
            self.set_node(new, Node { value: v, ..node });
        }
        self.set_link(at, top);
        Ok(v)
    }

    fn remove(&self, prefixlen: u32, data: &[u8]) -> Result<(), MapError> {
        let (cur, at, parent_link, parent) =
            self.find_exact(prefixlen, data).ok_or(MapError::NotFound)?;
        let node = self.node(cur).ok_or(MapError::NotFound)?;
        if node.value == NIL {
            return Err(MapError::NotFound);
        }
        self.free_value(node.value);
        let [c0, c1] = node.child;
        if c0 != NIL && c1 != NIL {
            // Still needed to join its two children.
            self.set_node(cur, Node { value: NIL, ..node });
            return Ok(());
        }
        let parent_node = self.node(parent);
        if let Some(p) = parent_node.filter(|p| p.value == NIL && c0 == NIL && c1 == NIL) {
            // A leaf under an intermediate node: the sibling takes the parent's place.
            let sibling = if p.child[0] == cur {
                p.child[1]
            } else {
                p.child[0]
            };
            self.set_link(parent_link, sibling);
            self.free_node(parent);
            self.free_node(cur);
            return Ok(());
        }
        self.set_link(at, if c0 != NIL { c0 } else { c1 });
        self.free_node(cur);
        Ok(())
    }

    /// Whether every word is zero.
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        [self.lock, self.top, self.counts]
            .iter()
            .all(|w| w.is_zero())
            && self.nodes.iter().all(Word::is_zero)
            && self.owners.iter().all(Word::is_zero)
            && self.values.iter().all(Word::is_zero)
    }
}

impl crate::maps::sealed::Sealed for LpmView<'_> {
    fn value_region(&self) -> ValueRegion {
        ValueRegion::of_words(self.values, self.vw, self.value_size)
    }
}

impl Map for LpmView<'_> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::LpmTrie,
            key_size: self.d.saturating_add(4),
            value_size: self.value_size,
            max_entries: self.n,
            flags: self.flags,
        }
    }

    #[inline(always)]
    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let (prefixlen, data) = self.parse(key)?;
        let _guard = self.lock.lock();
        let v = self.find_longest(prefixlen, data)?;
        self.value_words(v).map(words_addr)
    }

    /// As [`Map::lookup`]: one trie for every CPU (spelled out so that it inlines, as the
    /// helpers call this one).
    #[inline(always)]
    fn lookup_cpu(&self, key: &[u8], _cpu: u32) -> Option<NonNull<u8>> {
        self.lookup(key)
    }

    #[inline]
    fn update_cpu(&self, key: &[u8], value: &[u8], flags: u64, _cpu: u32) -> Result<(), MapError> {
        self.update(key, value, flags)
    }

    #[inline]
    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let (prefixlen, data) = self.parse(key).ok_or(MapError::Invalid)?;
        if out.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let _guard = self.lock.lock();
        let v = self
            .find_longest(prefixlen, data)
            .ok_or(MapError::NotFound)?;
        copy_out(self.value_words(v).ok_or(MapError::NotFound)?, out);
        Ok(())
    }

    #[inline]
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let (prefixlen, data) = self.parse(key).ok_or(MapError::Invalid)?;
        if prefixlen > self.max_prefixlen() || value.len() != self.value_size as usize {
            return Err(MapError::Invalid);
        }
        let _guard = self.lock.lock();
        let v = self.insert(prefixlen, data, flags)?;
        copy_in(self.value_words(v).ok_or(MapError::Invalid)?, value);
        Ok(())
    }

    #[inline]
    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let (prefixlen, data) = self.parse(key).ok_or(MapError::Invalid)?;
        if prefixlen > self.max_prefixlen() {
            return Err(MapError::Invalid);
        }
        let _guard = self.lock.lock();
        self.remove(prefixlen, data)
    }

    /// In value-slot order (Linux walks the trie in post-order instead).
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != (self.d as usize).saturating_add(4) {
            return Err(MapError::Invalid);
        }
        let parsed = match key {
            None => None,
            Some(k) => Some(self.parse(k).ok_or(MapError::Invalid)?),
        };
        let _guard = self.lock.lock();
        let start = match parsed {
            None => 0,
            Some((prefixlen, data)) => match self.find_exact(prefixlen, data) {
                Some((n, ..)) => match self.node(n).map(|n| n.value) {
                    Some(v) if v != NIL => (v as usize).saturating_add(1),
                    _ => 0,
                },
                None => 0,
            },
        };
        let owner = self
            .owners
            .iter()
            .skip(start)
            .map(|o| link(o.half(0)))
            .find(|&o| o != NIL)
            .ok_or(MapError::NotFound)?;
        let node = self.node(owner).ok_or(MapError::NotFound)?;
        let (len, data) = out.split_at_mut(4);
        len.copy_from_slice(&node.prefixlen.to_ne_bytes());
        copy_out(self.node_data(owner), data);
        Ok(())
    }
}

/// An LPM trie of up to `N` prefixes of `D` data bytes (key size `4 + D`) to values of `V`
/// bytes (`W = value_words(V)`): the storage of an [`LpmView`] sized at compile time.
/// `NW = 2 + value_words(D)` is the words of one trie node (the default, 3, fits data of up
/// to 8 bytes: IPv4; IPv6 takes 4). A new prefix in a full trie fails with
/// [`MapError::NoSpace`] (`ENOSPC`), as in Linux.
pub struct LpmTrie<
    const D: usize,
    const V: usize,
    const W: usize,
    const N: usize,
    const NW: usize = 3,
> {
    meta: [Word; 3],
    /// `2 N` nodes, as pairs because array lengths cannot be computed from generics.
    nodes: [[[Word; NW]; 2]; N],
    owners: [Word; N],
    values: [[Word; W]; N],
}

impl<const D: usize, const V: usize, const W: usize, const N: usize, const NW: usize>
    LpmTrie<D, V, W, N, NW>
{
    /// Bytes of storage of one map.
    pub const STORAGE_BYTES: usize = core::mem::size_of::<Self>();

    /// An empty trie.
    pub const fn new() -> Self {
        const {
            assert!(
                D > 0 && D <= 256,
                "data size out of range (Linux allows 1 to 256 bytes)"
            );
            assert!(V > 0 && V <= u32::MAX as usize, "value size out of range");
            assert!(W == value_words(V), "W must be value_words(V)");
            assert!(
                NW == NODE_META + value_words(D),
                "NW must be 2 + value_words(D)"
            );
            assert!(N > 0 && N < (NIL / 2) as usize, "capacity out of range");
        }
        LpmTrie {
            meta: [const { Word::new() }; 3],
            nodes: [const { [const { [const { Word::new() }; NW] }; 2] }; N],
            owners: [const { Word::new() }; N],
            values: [const { [const { Word::new() }; W] }; N],
        }
    }

    /// The run-time view of this storage.
    #[inline]
    pub fn view(&self) -> LpmView<'_> {
        let nodes: &[[Word; NW]] = self.nodes.as_flattened();
        LpmView::from_parts(
            &self.meta,
            nodes.as_flattened(),
            &self.owners,
            self.values.as_flattened(),
            D,
            V,
            N,
            1, // BPF_F_NO_PREALLOC, which Linux requires for LPM tries
        )
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        self.view().is_zeroed()
    }

    /// The number of prefixes.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// Whether the trie has no prefixes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of the longest prefix matching `data` (all `8 D` bits considered).
    pub fn get(&self, data: &[u8; D]) -> Option<&[Word; W]> {
        self.view().get(data)?.try_into().ok()
    }
}

impl<const D: usize, const V: usize, const W: usize, const N: usize, const NW: usize> Default
    for LpmTrie<D, V, W, N, NW>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize, const V: usize, const W: usize, const N: usize, const NW: usize>
    core::fmt::Debug for LpmTrie<D, V, W, N, NW>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LpmTrie")
            .field("data_size", &D)
            .field("value_size", &V)
            .field("max_entries", &N)
            .finish()
    }
}

super::forward_map!(single_cpu
    [const D: usize, const V: usize, const W: usize, const N: usize, const NW: usize]
    LpmTrie<D, V, W, N, NW>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::sealed::Sealed as _;
    use crate::maps::testutil::arena_map;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;
    use std::collections::BTreeMap;

    fn key<const D: usize>(prefixlen: u32, data: [u8; D]) -> std::vec::Vec<u8> {
        let mut k = prefixlen.to_ne_bytes().to_vec();
        k.extend_from_slice(&data);
        k
    }

    fn get<const D: usize>(m: &dyn Map, data: [u8; D]) -> Option<u64> {
        let mut out = [0u8; 8];
        m.lookup_copy(&key(8 * D as u32, data), &mut out).ok()?;
        Some(u64::from_ne_bytes(out))
    }

    fn put<const D: usize>(m: &dyn Map, len: u32, data: [u8; D], v: u64) {
        m.update(&key(len, data), &v.to_ne_bytes(), BPF_ANY)
            .unwrap();
    }

    #[test]
    fn ipv4_overlapping_prefixes_wrapper() {
        ipv4_overlapping_prefixes(&LpmTrie::<4, 8, 1, 16>::new().view());
    }

    #[test]
    fn ipv4_overlapping_prefixes_arena() {
        match arena_map(MapType::LpmTrie, 8, 8, 16) {
            crate::maps::AnyMap::Lpm(m) => ipv4_overlapping_prefixes(m),
            other => panic!("{other:?}"),
        }
    }

    fn ipv4_overlapping_prefixes(m: &LpmView<'_>) {
        put(m, 8, [10, 0, 0, 0], 8);
        put(m, 16, [10, 1, 0, 0], 16);
        put(m, 24, [10, 1, 2, 0], 24);
        put(m, 32, [10, 1, 2, 3], 32);
        put(m, 0, [0; 4], 1);
        put(m, 12, [10, 16, 0, 0], 12);
        assert_eq!(get(m, [10, 1, 2, 3]), Some(32));
        assert_eq!(get(m, [10, 1, 2, 4]), Some(24));
        assert_eq!(get(m, [10, 1, 3, 4]), Some(16));
        assert_eq!(get(m, [10, 2, 3, 4]), Some(8));
        assert_eq!(get(m, [10, 31, 0, 0]), Some(12));
        assert_eq!(get(m, [10, 32, 0, 0]), Some(8));
        assert_eq!(get(m, [11, 0, 0, 0]), Some(1));
        // A shorter lookup prefix limits the match, as in Linux.
        let mut out = [0; 8];
        m.lookup_copy(&key(20, [10, 1, 2, 3]), &mut out).unwrap();
        assert_eq!(u64::from_ne_bytes(out), 16);
        m.delete(&key(16, [10, 1, 0, 0])).unwrap();
        assert_eq!(get(m, [10, 1, 3, 4]), Some(8));
        assert_eq!(get(m, [10, 1, 2, 9]), Some(24));
        m.delete(&key(0, [0; 4])).unwrap();
        assert_eq!(get(m, [11, 0, 0, 0]), None);
        assert_eq!(m.delete(&key(0, [0; 4])), Err(MapError::NotFound));
        assert_eq!(m.delete(&key(20, [10, 1, 2, 3])), Err(MapError::NotFound));
        assert_eq!(
            m.update(&key(33, [0; 4]), &[0; 8], BPF_ANY),
            Err(MapError::Invalid)
        );
        assert_eq!(
            m.update(&key(8, [10, 9, 9, 9]), &[0; 8], BPF_NOEXIST),
            Err(MapError::Exists)
        );
        assert_eq!(
            m.update(&key(9, [10, 0, 0, 0]), &[0; 8], BPF_EXIST),
            Err(MapError::NotFound)
        );
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn ipv6_overlapping_prefixes_and_capacity_wrapper() {
        ipv6_overlapping_prefixes_and_capacity(&LpmTrie::<16, 8, 1, 4, 4>::new().view());
    }

    #[test]
    fn ipv6_overlapping_prefixes_and_capacity_arena() {
        match arena_map(MapType::LpmTrie, 20, 8, 4) {
            crate::maps::AnyMap::Lpm(m) => ipv6_overlapping_prefixes_and_capacity(m),
            other => panic!("{other:?}"),
        }
    }

    fn ipv6_overlapping_prefixes_and_capacity(m: &LpmView<'_>) {
        let net = |a: u16, b: u16| {
            let mut d = [0u8; 16];
            d[..2].copy_from_slice(&a.to_be_bytes());
            d[2..4].copy_from_slice(&b.to_be_bytes());
            d
        };
        put(m, 32, net(0x2001, 0x0db8), 32);
        put(m, 48, net(0x2001, 0x0db8), 48);
        put(m, 16, net(0x2001, 0), 16);
        put(m, 128, net(0x2001, 0x0db8), 128);
        assert_eq!(
            m.update(&key(64, net(0x2001, 1)), &[0; 8], BPF_ANY),
            Err(MapError::NoSpace)
        );
        put(m, 48, net(0x2001, 0x0db8), 480); // replacing works when full
        assert_eq!(get(m, net(0x2001, 0x0db8)), Some(128));
        let mut d = net(0x2001, 0x0db8);
        d[15] = 1;
        assert_eq!(get(m, d), Some(480));
        d[5] = 1;
        assert_eq!(get(m, d), Some(32));
        assert_eq!(get(m, net(0x2001, 0x0db9)), Some(16));
        assert_eq!(get(m, net(0x2002, 0)), None);
        let a = m.lookup(&key(128, d)).unwrap().as_ptr().addr();
        assert!(m.value_region().contains(a, 8));
    }

    fn mask<const D: usize>(len: u32, mut data: [u8; D]) -> [u8; D] {
        for (i, b) in data.iter_mut().enumerate() {
            let keep = len.saturating_sub(8 * i as u32).min(8);
            *b &= !(0xffu16 >> keep) as u8;
        }
        data
    }

    const N: usize = 24;

    /// Keys by iteration.
    fn count(m: &dyn Map, d: usize) -> usize {
        let mut out = std::vec![0u8; 4 + d];
        let mut cur: Option<std::vec::Vec<u8>> = None;
        let mut n = 0;
        while m.next_key(cur.as_deref(), &mut out).is_ok() {
            n += 1;
            cur = Some(out.clone());
        }
        n
    }

    fn random_ops<const D: usize>(m: &dyn Map, seed: u64) {
        let mut model: BTreeMap<(u32, [u8; D]), u64> = BTreeMap::new();
        let mut rng = XorShift(seed);
        let max = 8 * D as u32;
        for step in 0..4000 {
            // Data from a small neighbourhood so that prefixes overlap.
            let mut data = [0u8; D];
            data[0] = 0x0a;
            for b in data.iter_mut().skip(1) {
                *b = [0u8, 1, 0x80, 0xff][rng.below(4) as usize];
            }
            let len = match rng.below(3) {
                0 => [0, 8, 16, 24, max][rng.below(5) as usize].min(max),
                _ => rng.below(max as u64 + 1) as u32,
            };
            let canon = (len, mask(len, data));
            let v = rng.next();
            match rng.below(3) {
                0 => {
                    let exists = model.contains_key(&canon);
                    let r = m.update(&key(len, data), &v.to_ne_bytes(), BPF_ANY);
                    if !exists && model.len() == N {
                        assert_eq!(r, Err(MapError::NoSpace), "step {step}");
                    } else {
                        assert_eq!(r, Ok(()), "step {step}");
                        model.insert(canon, v);
                    }
                }
                1 => {
                    let want = model.remove(&canon).map(|_| ()).ok_or(MapError::NotFound);
                    assert_eq!(m.delete(&key(len, data)), want, "step {step}");
                }
                _ => {
                    let want = (0..=len)
                        .rev()
                        .find_map(|l| model.get(&(l, mask(l, data))).copied());
                    let mut out = [0u8; 8];
                    let got = m.lookup_copy(&key(len, data), &mut out).ok().map(|_| out);
                    assert_eq!(got.map(u64::from_ne_bytes), want, "step {step}");
                }
            }
            assert_eq!(count(m, D), model.len());
        }
        let mut seen = BTreeMap::new();
        let mut out = std::vec![0u8; 4 + D];
        let mut cur: Option<std::vec::Vec<u8>> = None;
        while m.next_key(cur.as_deref(), &mut out).is_ok() {
            let len = u32::from_ne_bytes(out[..4].try_into().unwrap());
            let data: [u8; D] = out[4..].try_into().unwrap();
            assert!(
                seen.insert((len, mask(len, data)), ()).is_none(),
                "repeated key"
            );
            cur = Some(out.clone());
        }
        assert_eq!(
            seen.keys().collect::<std::vec::Vec<_>>(),
            model.keys().collect::<std::vec::Vec<_>>()
        );
    }

    #[test]
    fn random_ops_match_model_ipv4() {
        random_ops::<4>(&LpmTrie::<4, 8, 1, N>::new(), 0xabc);
    }

    #[test]
    fn random_ops_match_model_arena() {
        random_ops::<4>(arena_map(MapType::LpmTrie, 8, 8, N as u32), 0xabc);
        random_ops::<16>(arena_map(MapType::LpmTrie, 20, 8, N as u32), 0x1234);
    }

    #[test]
    fn random_ops_match_model_ipv6() {
        random_ops::<16>(&LpmTrie::<16, 8, 1, N, 4>::new(), 0x1234);
    }
}
