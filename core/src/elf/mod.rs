//! The ELF loader: BPF objects from `clang -O2 -g -target bpf`, with libbpf's conventions,
//! read in place from a byte slice, with no allocation.
//!
//! ```text
//! Object::parse(bytes)            validate everything once
//!   .license()                    the `license` section
//!   .programs() / .program(name)  functions of code sections, by SEC() name
//!   .maps() / .map(i)             BTF maps, legacy maps, global data, in index order
//!   .load_program(name, &mut out) copy + link + relocate into the caller's slots
//!   .btf_types()                  the BTF types of map keys and values, walked in place
//! ```
//!
//! # What is supported
//!
//! - ELF64 little-endian relocatable objects for `EM_BPF`.
//! - Programs: every global function of a code section other than `.text`; in objects from
//!   older clang, which mark no functions, a global symbol without a type at an offset of a
//!   code section, or the whole section when no symbol names a place in it
//!   ([`ProgramOrigin`]); a function of `.text` when named explicitly. The section name gives
//!   the program type ([`program_type_for_section`], [`unsupported_program_kind`]). Functions
//!   they call (in `.text` or elsewhere, static or not) are placed after them, see
//!   [`Object::load`].
//! - Maps: BTF-defined maps in `.maps` (`__uint`, `__type` attributes: `type`, `key_size`,
//!   `key`, `value_size`, `value`, `max_entries`, `map_flags`; `pinning` by name marks a map
//!   that a program slot carries over, see [`MapInfo::pinned`]), legacy
//!   `struct bpf_map_def` in `maps`, and global data in `.rodata`, `.data` and `.bss` as
//!   one-element array maps (`.rodata` with [`BPF_F_RDONLY_PROG`]). A map of a type nanobpf
//!   does not have still parses: [`MapInfo::def`] is then an [`UnsupportedMap`] with the Linux
//!   type number, and only the programs that refer to it fail to load
//!   ([`LoadErrorKind::UnsupportedMap`], naming the map).
//! - Relocations: `R_BPF_64_64` on `lddw` (maps and global variables) and `R_BPF_64_32` on
//!   local calls. Relocation tables for other sections (`.BTF`, `.BTF.ext`, debug info) are
//!   not read.
//!
//! Not supported (each is a [`LoadError`]): externs (`__ksym`, `__kconfig`), map initial values
//! (`__array(values, ...)`), inner maps, function pointers (`lddw` of a function, for
//! `bpf_loop` callbacks), CO-RE relocations from `.BTF.ext`.
//!
//! # Map indices
//!
//! Maps are numbered in this order: BTF maps (symbol-table order), legacy maps (symbol-table
//! order), then one map per non-empty global data section (section order). Loaded programs
//! refer to maps by these indices, so the embedder's [`MapTable`](crate::maps::MapTable) must
//! hold the storage of map `i` at position `i`, each checked with
//! [`Map::check_def`](crate::maps::Map::check_def) against [`MapInfo::def`], and global data
//! maps initialised from [`MapInfo::init`].
//!
//! # Hostile input
//!
//! Every offset, size, count and index in the file is checked before use ([`Object::parse`]
//! checks the structure once; loading checks what depends on the program); any failure is a
//! [`LoadError`] naming the section and the byte offset. BTF type chains are followed at most
//! [`MAX_BTF_DEPTH`] steps. Nothing panics and nothing loops without bound; costs are at most
//! quadratic in the number of sections ([`MAX_SECTIONS`]), symbols and BTF types.
//!
//! # Why not the `object` crate
//!
//! `object` (with `read_core` and `elf`) parses ELF without allocation and would have been a
//! reasonable base. We use this small reader instead because:
//! - we need a handful of structures (section headers, symbols, `REL` entries, a `.BTF`
//!   subset), about 400 lines here, against a dependency of some 40,000 lines that must then
//!   be audited for panics on hostile input and follows its own release cadence;
//! - every error must name the section and offset in our own `Copy` error type; with `object`
//!   we would translate its string-only errors and lose the location;
//! - BTF is not covered by `object` at all, so the map path needs our own reader either way;
//! - it keeps the firmware image small (the loader runs on the device, see the footprint
//!   goals), with no generic code instantiated for formats we never load.

mod btf;
mod error;
mod load;
mod maps;
mod object;
mod program;
mod read;
mod types;

pub use error::{LoadError, LoadErrorKind, SectionName, SectionRef};
pub use load::{LoadedProgram, MAX_FUNCTIONS};
pub use maps::{MapInfo, MapSource, UnsupportedMap, MAX_MAPS};
pub use object::{Object, MAX_SECTIONS};
#[cfg(test)]
use program::program_type_for_section;
pub use program::{unsupported_program_kind, ProgramInfo, ProgramOrigin};
pub use types::{BtfEnumerator, BtfMember, BtfType, BtfTypeId, BtfTypeKind, BtfTypes};

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_run;
#[cfg(test)]
mod tests_types;
