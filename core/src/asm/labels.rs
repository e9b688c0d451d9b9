//! The label table: a fixed-capacity array filled while reading the source once, then sorted by
//! name so that each reference is a binary search.

use super::{AsmError, AsmErrorKind};

/// Labels [`assemble`](super::assemble) can hold.
pub const MAX_LABELS: usize = 1024;

/// One label: its name as a byte range of the source, its slot and where it was defined.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    start: u32,
    len: u32,
    slot: u32,
    line: u32,
    col: u32,
}

const _: () = assert!(core::mem::size_of::<Entry>() == 20);

impl Entry {
    fn name<'s>(&self, src: &'s str) -> &'s str {
        let start = self.start as usize;
        src.get(start..start.saturating_add(self.len as usize))
            .unwrap_or("")
    }
}

/// The label table of one assembly, with room for `N` labels (20 bytes each).
///
/// It stores byte ranges of the source, not the names, so it borrows nothing and can live in a
/// `static`. After [`assemble_with`](super::assemble_with) it describes that source.
#[derive(Clone, Debug)]
pub struct Labels<const N: usize> {
    entries: [Entry; N],
    len: usize,
    implicit_exit: Option<u32>,
}

impl<const N: usize> Default for Labels<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Labels<N> {
    /// An empty table.
    pub const fn new() -> Self {
        const EMPTY: Entry = Entry {
            start: 0,
            len: 0,
            slot: 0,
            line: 0,
            col: 0,
        };
        Labels {
            entries: [EMPTY; N],
            len: 0,
            implicit_exit: None,
        }
    }

    /// Number of labels written in the source last assembled (the implicit `exit` not counted).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slot a label names in `src`, which must be the source last assembled with this table.
    pub fn lookup(&self, src: &str, name: &str) -> Option<usize> {
        let sorted = self.entries.get(..self.len)?;
        match sorted.binary_search_by(|e| e.name(src).cmp(name)) {
            Ok(i) => sorted.get(i).map(|e| e.slot as usize),
            Err(_) if name == "exit" => self.implicit_exit.map(|s| s as usize),
            Err(_) => None,
        }
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.implicit_exit = None;
    }

    /// Records a label at `slot`; `name` must be a slice of `src`.
    pub(super) fn push(
        &mut self,
        src: &str,
        name: &str,
        slot: usize,
        err: AsmError,
    ) -> Result<(), AsmError> {
        let start = (name.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
        let too_many = AsmError {
            kind: AsmErrorKind::TooManyLabels,
            ..err
        };
        let (Ok(start), Ok(len), Ok(slot)) = (
            u32::try_from(start),
            u32::try_from(name.len()),
            u32::try_from(slot),
        ) else {
            return Err(too_many);
        };
        let entry = self.entries.get_mut(self.len).ok_or(too_many)?;
        *entry = Entry {
            start,
            len,
            slot,
            line: err.line,
            col: err.column,
        };
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// Notes an `exit` at `slot`; the first one is the target of label `exit` if none is written.
    pub(super) fn saw_exit(&mut self, slot: usize) {
        if self.implicit_exit.is_none() {
            self.implicit_exit = u32::try_from(slot).ok();
        }
    }

    /// Sorts the table by name and rejects names defined twice, reporting the definition that
    /// comes first in the source among those that repeat an earlier one.
    pub(super) fn finish(&mut self, src: &str) -> Result<(), AsmError> {
        let Some(entries) = self.entries.get_mut(..self.len) else {
            return Ok(());
        };
        entries.sort_unstable_by(|a, b| a.name(src).cmp(b.name(src)).then(a.start.cmp(&b.start)));
        let mut dup: Option<Entry> = None;
        for w in entries.windows(2) {
            if let [a, b] = w {
                if a.name(src) == b.name(src) && dup.is_none_or(|d| b.start < d.start) {
                    dup = Some(*b);
                }
            }
        }
        match dup {
            Some(d) => Err(AsmError {
                line: d.line,
                column: d.col,
                kind: AsmErrorKind::DuplicateLabel,
            }),
            None => Ok(()),
        }
    }
}
