//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match over `D` data bytes (4 for IPv4, 16 for IPv6).
//!
//! Keys have Linux's layout: a native-endian `u32` prefix length, then the `D` data bytes in
//! network order (bit 0 is the top bit of the first byte). The trie is Linux's path-compressed
//! binary trie: value nodes hold a prefix and a value; intermediate nodes, created where two
//! prefixes diverge, always have two children. Hence at most `N - 1` intermediate nodes, and a
//! pool of `2 N` nodes always suffices. Values live outside the lock as atomics; the trie sits
//! behind one map-wide lock, taken by lookups too (Linux reads under RCU instead).

use core::ptr::NonNull;

use spin::Mutex;

use super::hash::NIL;
use super::word::{copy_in, copy_out, value_words, words_addr, words_usize, Word};
use super::{
    check_update_flags, Map, MapDef, MapError, MapType, ValueRegion, BPF_EXIST, BPF_NOEXIST,
};

#[derive(Clone, Copy, Debug)]
struct Node<const D: usize> {
    prefixlen: u32,
    data: [u8; D],
    child: [u32; 2],
    /// The value slot, or `NIL` for an intermediate node.
    value: u32,
}

impl<const D: usize> Node<D> {
    const EMPTY: Node<D> = Node {
        prefixlen: 0,
        data: [0; D],
        child: [NIL; 2],
        value: NIL,
    };
}

/// Where a node hangs: the root pointer, or a child pointer of a node.
#[derive(Clone, Copy, Debug)]
enum Link {
    Root,
    Child(u32, usize),
}

/// Bit `index` of `data`, counting from the top bit of the first byte.
fn bit(data: &[u8], index: u32) -> usize {
    data.get(index as usize / 8)
        .map_or(0, |b| usize::from((b >> (7 - index % 8)) & 1))
}

#[derive(Debug)]
struct Trie<const D: usize, const N: usize> {
    /// `2 N` nodes, as pairs because array lengths cannot be computed from generics.
    nodes: [[Node<D>; 2]; N],
    root: u32,
    /// Free nodes, chained through `child[0]`.
    free_node: u32,
    bump_node: u32,
    /// The node owning each value slot, `NIL` when free.
    owner: [u32; N],
    len: u32,
    /// Whether the links have been set to `NIL`: done on first use, so that an empty trie is
    /// all zeros (a `static` of it goes to `.bss` and costs no flash).
    ready: bool,
}

impl<const D: usize, const N: usize> Trie<D, N> {
    const MAX_PREFIXLEN: u32 = (D * 8) as u32;

    /// All zeros; [`Trie::ready`] makes it the empty trie.
    const fn new() -> Self {
        Trie {
            nodes: [[Node {
                prefixlen: 0,
                data: [0; D],
                child: [0; 2],
                value: 0,
            }; 2]; N],
            root: 0,
            free_node: 0,
            bump_node: 0,
            owner: [0; N],
            len: 0,
            ready: false,
        }
    }

    /// Sets every link to `NIL` the first time, in place.
    fn ready(&mut self) {
        if !self.ready {
            for n in self.nodes.as_flattened_mut() {
                *n = Node::EMPTY;
            }
            self.owner.fill(NIL);
            (self.root, self.free_node) = (NIL, NIL);
            self.ready = true;
        }
    }

    /// Whether every byte of every field is zero.
    #[cfg(test)]
    fn is_zeroed(&self) -> bool {
        self.nodes.as_flattened().iter().all(|n| {
            n.prefixlen == 0 && n.data.iter().all(|&b| b == 0) && n.child == [0; 2] && n.value == 0
        }) && self.owner.iter().all(|&o| o == 0)
            && (
                self.root,
                self.free_node,
                self.bump_node,
                self.len,
                self.ready,
            ) == (0, 0, 0, 0, false)
    }

    fn node(&self, n: u32) -> Option<&Node<D>> {
        self.nodes.get(n as usize / 2)?.get(n as usize % 2)
    }

    fn node_mut(&mut self, n: u32) -> Option<&mut Node<D>> {
        self.nodes.get_mut(n as usize / 2)?.get_mut(n as usize % 2)
    }

    fn get_link(&self, link: Link) -> u32 {
        match link {
            Link::Root => self.root,
            Link::Child(n, b) => self
                .node(n)
                .and_then(|n| n.child.get(b).copied())
                .unwrap_or(NIL),
        }
    }

    fn set_link(&mut self, link: Link, to: u32) {
        match link {
            Link::Root => self.root = to,
            Link::Child(n, b) => {
                if let Some(c) = self.node_mut(n).and_then(|n| n.child.get_mut(b)) {
                    *c = to;
                }
            }
        }
    }

    /// How many leading bits `node` and the key share, at most both prefix lengths.
    fn match_len(node: &Node<D>, prefixlen: u32, data: &[u8; D]) -> u32 {
        let limit = node.prefixlen.min(prefixlen);
        let mut len = 0;
        for (a, b) in node.data.iter().zip(data) {
            let diff = a ^ b;
            len += diff.leading_zeros();
            if len >= limit {
                return limit;
            }
            if diff != 0 {
                break;
            }
        }
        len
    }

    fn alloc_node(&mut self, node: Node<D>) -> Option<u32> {
        let n = if self.free_node != NIL {
            let n = self.free_node;
            self.free_node = self.node(n)?.child[0];
            n
        } else if (self.bump_node as usize) < 2 * N {
            self.bump_node += 1;
            self.bump_node - 1
        } else {
            return None;
        };
        *self.node_mut(n)? = node;
        Some(n)
    }

    fn free_node(&mut self, n: u32) {
        let head = self.free_node;
        if let Some(node) = self.node_mut(n) {
            *node = Node {
                child: [head, NIL],
                ..Node::EMPTY
            };
            self.free_node = n;
        }
    }

    fn alloc_value(&mut self, owner: u32) -> Option<u32> {
        let v = self.owner.iter().position(|&o| o == NIL)?;
        self.owner[v] = owner;
        self.len += 1;
        u32::try_from(v).ok()
    }

    fn free_value(&mut self, v: u32) {
        if let Some(o) = self.owner.get_mut(v as usize) {
            *o = NIL;
            self.len -= 1;
        }
    }

    /// The value slot of the longest prefix matching `data` within `prefixlen` bits.
    fn lookup(&self, prefixlen: u32, data: &[u8; D]) -> Option<u32> {
        let mut found = None;
        let mut cur = self.root;
        for _ in 0..=Self::MAX_PREFIXLEN {
            let Some(node) = self.node(cur) else { break };
            let m = Self::match_len(node, prefixlen, data);
            if m < node.prefixlen {
                break;
            }
            if node.value != NIL {
                found = Some(node.value);
            }
            if m == Self::MAX_PREFIXLEN {
                break;
            }
            cur = node.child[bit(data, node.prefixlen)];
        }
        found
    }

    /// The node holding exactly `prefixlen`/`data` (value or intermediate), with the links to
    /// it and to its parent, and the parent.
    fn find_exact(&self, prefixlen: u32, data: &[u8; D]) -> Option<(u32, Link, Link, u32)> {
        let (mut link, mut parent_link, mut parent) = (Link::Root, Link::Root, NIL);
        for _ in 0..=Self::MAX_PREFIXLEN {
            let cur = self.get_link(link);
            let node = self.node(cur)?;
            let m = Self::match_len(node, prefixlen, data);
            if node.prefixlen != m || node.prefixlen == prefixlen {
                return (node.prefixlen == prefixlen && m == prefixlen).then_some((
                    cur,
                    link,
                    parent_link,
                    parent,
                ));
            }
            parent = cur;
            parent_link = link;
            link = Link::Child(cur, bit(data, node.prefixlen));
        }
        None
    }

    /// Inserts or replaces; returns the value slot to write.
    fn insert(&mut self, prefixlen: u32, data: &[u8; D], flags: u64) -> Result<u32, MapError> {
        let mut link = Link::Root;
        let mut m = 0;
        let mut cur = self.root;
        for _ in 0..=Self::MAX_PREFIXLEN {
            cur = self.get_link(link);
            let Some(node) = self.node(cur) else { break };
            m = Self::match_len(node, prefixlen, data);
            if node.prefixlen != m
                || node.prefixlen == prefixlen
                || node.prefixlen == Self::MAX_PREFIXLEN
            {
                break;
            }
            link = Link::Child(cur, bit(data, node.prefixlen));
        }
        let existing = self.node(cur).copied();
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
            if let Some(n) = self.node_mut(cur) {
                n.value = v;
            }
            return Ok(v);
        }
        if flags == BPF_EXIST {
            return Err(MapError::NotFound);
        }
        if self.len as usize >= N {
            return Err(MapError::NoSpace);
        }
        let leaf = Node {
            prefixlen,
            data: *data,
            child: [NIL; 2],
            value: NIL,
        };
        let new = self.alloc_node(leaf).ok_or(MapError::NoSpace)?;
        let top = match existing {
            None => new,
            Some(node) if m == prefixlen => {
                // The new prefix covers the existing node: it goes above it.
                if let Some(n) = self.node_mut(new) {
                    n.child[bit(&node.data, m)] = cur;
                }
                new
            }
            Some(node) => {
                // The prefixes diverge at bit `m`: an intermediate node joins them.
                let mut child = [cur, new];
                if bit(data, m) == 0 {
                    child = [new, cur];
                }
                let im = Node {
                    prefixlen: m,
                    data: node.data,
                    child,
                    value: NIL,
                };
                let Some(im) = self.alloc_node(im) else {
                    self.free_node(new);
                    return Err(MapError::NoSpace);
                };
                im
            }
        };
        let Some(v) = self.alloc_value(new) else {
            self.free_node(new);
            return Err(MapError::NoSpace);
        };
        if let Some(n) = self.node_mut(new) {
            n.value = v;
        }
        self.set_link(link, top);
        Ok(v)
    }

    fn remove(&mut self, prefixlen: u32, data: &[u8; D]) -> Result<(), MapError> {
        let (cur, link, parent_link, parent) =
            self.find_exact(prefixlen, data).ok_or(MapError::NotFound)?;
        let node = *self.node(cur).ok_or(MapError::NotFound)?;
        if node.value == NIL {
            return Err(MapError::NotFound);
        }
        self.free_value(node.value);
        let [c0, c1] = node.child;
        if c0 != NIL && c1 != NIL {
            // Still needed to join its two children.
            if let Some(n) = self.node_mut(cur) {
                n.value = NIL;
            }
            return Ok(());
        }
        let parent_node = self.node(parent).copied();
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
        self.set_link(link, if c0 != NIL { c0 } else { c1 });
        self.free_node(cur);
        Ok(())
    }
}

/// An LPM trie of up to `N` prefixes of `D` data bytes (key size `4 + D`) to values of `V`
/// bytes (`W = value_words(V)`). A new prefix in a full trie fails with [`MapError::NoSpace`]
/// (`ENOSPC`), as in Linux.
pub struct LpmTrie<const D: usize, const V: usize, const W: usize, const N: usize> {
    trie: Mutex<Trie<D, N>>,
    values: [[Word; W]; N],
}

impl<const D: usize, const V: usize, const W: usize, const N: usize> LpmTrie<D, V, W, N> {
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
            assert!(N > 0 && N < (NIL / 2) as usize, "capacity out of range");
        }
        LpmTrie {
            trie: Mutex::new(Trie::new()),
            values: [const { [const { Word::new() }; W] }; N],
        }
    }

    /// The trie, locked, with its links set.
    fn trie(&self) -> spin::MutexGuard<'_, Trie<D, N>> {
        let mut t = self.trie.lock();
        t.ready();
        t
    }

    /// Whether every byte of every field is zero (as [`new`](Self::new) makes it).
    #[cfg(test)]
    pub(crate) fn is_zeroed(&self) -> bool {
        let unlocked = !self.trie.is_locked();
        unlocked
            && self.trie.lock().is_zeroed()
            && self
                .values
                .as_flattened()
                .iter()
                .all(|w| w.load(core::sync::atomic::Ordering::Relaxed) == [0; 8])
    }

    /// The number of prefixes.
    pub fn len(&self) -> usize {
        self.trie().len as usize
    }

    /// Whether the trie has no prefixes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value words of the longest prefix matching `data` (all `8 D` bits considered).
    pub fn get(&self, data: &[u8; D]) -> Option<&[Word; W]> {
        let v = self.trie().lookup(Trie::<D, N>::MAX_PREFIXLEN, data)?;
        self.values.get(v as usize)
    }

    /// Splits a Linux LPM key into prefix length and data.
    fn parse(key: &[u8]) -> Option<(u32, &[u8; D])> {
        let (len, data) = key.split_first_chunk::<4>()?;
        Some((u32::from_ne_bytes(*len), data.try_into().ok()?))
    }
}

impl<const D: usize, const V: usize, const W: usize, const N: usize> Default
    for LpmTrie<D, V, W, N>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize, const V: usize, const W: usize, const N: usize> core::fmt::Debug
    for LpmTrie<D, V, W, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LpmTrie")
            .field("data_size", &D)
            .field("value_size", &V)
            .field("max_entries", &N)
            .finish()
    }
}

impl<const D: usize, const V: usize, const W: usize, const N: usize> Map for LpmTrie<D, V, W, N> {
    fn def(&self) -> MapDef {
        MapDef {
            map_type: MapType::LpmTrie,
            key_size: (4 + D) as u32,
            value_size: V as u32,
            max_entries: N as u32,
            flags: 1, // BPF_F_NO_PREALLOC, which Linux requires for LPM tries
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<NonNull<u8>> {
        let (prefixlen, data) = Self::parse(key)?;
        let v = self.trie().lookup(prefixlen, data)?;
        self.values.get(v as usize).map(|w| words_addr(w))
    }

    fn lookup_copy(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapError> {
        let (prefixlen, data) = Self::parse(key).ok_or(MapError::Invalid)?;
        if out.len() != V {
            return Err(MapError::Invalid);
        }
        let trie = self.trie();
        let v = trie.lookup(prefixlen, data).ok_or(MapError::NotFound)?;
        copy_out(self.values.get(v as usize).ok_or(MapError::NotFound)?, out);
        Ok(())
    }

    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        check_update_flags(flags)?;
        let (prefixlen, data) = Self::parse(key).ok_or(MapError::Invalid)?;
        if prefixlen > Trie::<D, N>::MAX_PREFIXLEN || value.len() != V {
            return Err(MapError::Invalid);
        }
        let mut trie = self.trie();
        let v = trie.insert(prefixlen, data, flags)?;
        copy_in(self.values.get(v as usize).ok_or(MapError::Invalid)?, value);
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let (prefixlen, data) = Self::parse(key).ok_or(MapError::Invalid)?;
        if prefixlen > Trie::<D, N>::MAX_PREFIXLEN {
            return Err(MapError::Invalid);
        }
        self.trie().remove(prefixlen, data)
    }

    /// In value-slot order (Linux walks the trie in post-order instead).
    fn next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> Result<(), MapError> {
        if out.len() != 4 + D {
            return Err(MapError::Invalid);
        }
        let trie = self.trie();
        let start = match key {
            None => 0,
            Some(k) => {
                let (prefixlen, data) = Self::parse(k).ok_or(MapError::Invalid)?;
                match trie.find_exact(prefixlen, data) {
                    Some((n, ..)) => match trie.node(n).map(|n| n.value) {
                        Some(v) if v != NIL => v as usize + 1,
                        _ => 0,
                    },
                    None => 0,
                }
            }
        };
        let owner = trie
            .owner
            .iter()
            .skip(start)
            .find(|&&o| o != NIL)
            .ok_or(MapError::NotFound)?;
        let node = trie.node(*owner).ok_or(MapError::NotFound)?;
        let (len, data) = out.split_at_mut(4);
        len.copy_from_slice(&node.prefixlen.to_ne_bytes());
        data.copy_from_slice(&node.data);
        Ok(())
    }

    fn value_region(&self) -> ValueRegion {
        ValueRegion {
            start: words_usize(self.values.as_flattened()),
            len: N * W * 8,
            stride: W * 8,
            value_size: V,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::testutil::XorShift;
    use crate::maps::BPF_ANY;
    use std::collections::BTreeMap;

    fn key<const D: usize>(prefixlen: u32, data: [u8; D]) -> std::vec::Vec<u8> {
        let mut k = prefixlen.to_ne_bytes().to_vec();
        k.extend_from_slice(&data);
        k
    }

    fn get<const D: usize, const N: usize>(m: &LpmTrie<D, 8, 1, N>, data: [u8; D]) -> Option<u64> {
        let mut out = [0u8; 8];
        m.lookup_copy(&key(8 * D as u32, data), &mut out).ok()?;
        Some(u64::from_ne_bytes(out))
    }

    fn put<const D: usize, const N: usize>(
        m: &LpmTrie<D, 8, 1, N>,
        len: u32,
        data: [u8; D],
        v: u64,
    ) {
        m.update(&key(len, data), &v.to_ne_bytes(), BPF_ANY)
            .unwrap();
    }

    #[test]
    fn ipv4_overlapping_prefixes() {
        let m = LpmTrie::<4, 8, 1, 16>::new();
        put(&m, 8, [10, 0, 0, 0], 8);
        put(&m, 16, [10, 1, 0, 0], 16);
        put(&m, 24, [10, 1, 2, 0], 24);
        put(&m, 32, [10, 1, 2, 3], 32);
        put(&m, 0, [0; 4], 1);
        put(&m, 12, [10, 16, 0, 0], 12);
        assert_eq!(get(&m, [10, 1, 2, 3]), Some(32));
        assert_eq!(get(&m, [10, 1, 2, 4]), Some(24));
        assert_eq!(get(&m, [10, 1, 3, 4]), Some(16));
        assert_eq!(get(&m, [10, 2, 3, 4]), Some(8));
        assert_eq!(get(&m, [10, 31, 0, 0]), Some(12));
        assert_eq!(get(&m, [10, 32, 0, 0]), Some(8));
        assert_eq!(get(&m, [11, 0, 0, 0]), Some(1));
        // A shorter lookup prefix limits the match, as in Linux.
        let mut out = [0; 8];
        m.lookup_copy(&key(20, [10, 1, 2, 3]), &mut out).unwrap();
        assert_eq!(u64::from_ne_bytes(out), 16);
        m.delete(&key(16, [10, 1, 0, 0])).unwrap();
        assert_eq!(get(&m, [10, 1, 3, 4]), Some(8));
        assert_eq!(get(&m, [10, 1, 2, 9]), Some(24));
        m.delete(&key(0, [0; 4])).unwrap();
        assert_eq!(get(&m, [11, 0, 0, 0]), None);
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
    fn ipv6_overlapping_prefixes_and_capacity() {
        let m = LpmTrie::<16, 8, 1, 4>::new();
        let net = |a: u16, b: u16| {
            let mut d = [0u8; 16];
            d[..2].copy_from_slice(&a.to_be_bytes());
            d[2..4].copy_from_slice(&b.to_be_bytes());
            d
        };
        put(&m, 32, net(0x2001, 0x0db8), 32);
        put(&m, 48, net(0x2001, 0x0db8), 48);
        put(&m, 16, net(0x2001, 0), 16);
        put(&m, 128, net(0x2001, 0x0db8), 128);
        assert_eq!(
            m.update(&key(64, net(0x2001, 1)), &[0; 8], BPF_ANY),
            Err(MapError::NoSpace)
        );
        put(&m, 48, net(0x2001, 0x0db8), 480); // replacing works when full
        assert_eq!(get(&m, net(0x2001, 0x0db8)), Some(128));
        let mut d = net(0x2001, 0x0db8);
        d[15] = 1;
        assert_eq!(get(&m, d), Some(480));
        d[5] = 1;
        assert_eq!(get(&m, d), Some(32));
        assert_eq!(get(&m, net(0x2001, 0x0db9)), Some(16));
        assert_eq!(get(&m, net(0x2002, 0)), None);
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

    fn random_ops<const D: usize>(seed: u64) {
        const N: usize = 24;
        let m = LpmTrie::<D, 8, 1, N>::new();
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
            assert_eq!(m.len(), model.len());
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
        random_ops::<4>(0xabc);
    }

    #[test]
    fn random_ops_match_model_ipv6() {
        random_ops::<16>(0x1234);
    }
}
