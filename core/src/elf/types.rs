//! The object's BTF types, walked in place: what a host tool needs to show map keys and
//! values as the program's own types (struct fields by name, integers, enums, arrays).
//!
//! [`Object::btf_types`] gives a [`BtfTypes`] view; [`BtfTypes::get`] describes one type in a
//! small `Copy` [`BtfType`], [`BtfTypes::resolve`] follows typedefs and qualifiers, and
//! [`BtfTypes::members`] and [`BtfTypes::enumerators`] iterate over a struct's (or union's,
//! or data section's) members and an enum's values. Nothing is allocated and every chain is
//! bounded by [`MAX_BTF_DEPTH`](super::MAX_BTF_DEPTH); malformed records are [`LoadError`]s
//! naming the `.BTF` section and the offset.

use super::btf::{
    Btf, BtfError, Ty, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_ENUM, KIND_ENUM64, KIND_FLOAT,
    KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION,
    KIND_VAR, KIND_VOLATILE, MAX_DEPTH,
};
use super::error::{LoadError, LoadErrorKind as K};
use super::object::{Object, Section};
use super::read::u32_at;

/// A BTF type id: 0 is `void`, 1 the first type record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BtfTypeId(pub u32);

/// What a type is, with the numbers needed to read a value of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtfTypeKind {
    /// `void` (id 0).
    Void,
    /// An integer of `size` bytes (`bits` of them used); `char` and `bool` are BTF's
    /// encodings.
    Int {
        /// Bytes.
        size: u32,
        /// Signed.
        signed: bool,
        /// Declared `char`.
        char: bool,
        /// Declared `bool`/`_Bool`.
        bool: bool,
        /// Bits of value.
        bits: u8,
    },
    /// A pointer.
    Ptr(BtfTypeId),
    /// `len` elements of `elem`.
    Array {
        /// The element type.
        elem: BtfTypeId,
        /// The number of elements.
        len: u32,
    },
    /// A struct of `size` bytes with `members` members.
    Struct {
        /// Bytes.
        size: u32,
        /// Number of members.
        members: u16,
    },
    /// A union of `size` bytes with `members` members.
    Union {
        /// Bytes.
        size: u32,
        /// Number of members.
        members: u16,
    },
    /// An enum (32- or 64-bit values) of `size` bytes with `values` enumerators.
    Enum {
        /// Bytes.
        size: u32,
        /// Signed values.
        signed: bool,
        /// Number of enumerators.
        values: u16,
    },
    /// A floating-point number of `size` bytes.
    Float {
        /// Bytes.
        size: u32,
    },
    /// `typedef` of the target.
    Typedef(BtfTypeId),
    /// `volatile`, `const`, `restrict` or a type tag on the target.
    Qualified(BtfTypeId),
    /// A data section (`.rodata`, `.data`, `.bss`): its variables are its members.
    Datasec {
        /// Bytes.
        size: u32,
        /// Number of variables.
        vars: u16,
    },
    /// A variable of the target type.
    Var(BtfTypeId),
    /// A function, prototype, forward declaration or declaration tag: nothing to read.
    Other,
}

/// One type: its id, its name (empty when anonymous) and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfType<'a> {
    /// The id.
    pub id: BtfTypeId,
    /// The name, empty for anonymous types.
    pub name: &'a str,
    /// What it is.
    pub kind: BtfTypeKind,
}

/// One member of a struct or union, or one variable of a data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfMember<'a> {
    /// The member's name (empty for an anonymous struct or union member).
    pub name: &'a str,
    /// Its type.
    pub ty: BtfTypeId,
    /// Offset from the start of the enclosing type, in bits.
    pub bit_offset: u32,
    /// Width of a bitfield in bits; 0 for a whole member.
    pub bitfield_size: u8,
}

/// One enumerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfEnumerator<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value (64-bit enums: the bits as `i64`).
    pub value: i64,
}

/// The BTF types of an object; see the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct BtfTypes<'a> {
    btf: Btf<'a>,
    section: Section<'a>,
    /// For what clang leaves to the loader in data sections: their sizes and variables'
    /// offsets (libbpf fills them in from the section headers and the symbol table).
    obj: Object<'a>,
}

impl<'a> Object<'a> {
    /// The object's BTF types, when it has a `.BTF` section.
    pub fn btf_types(&self) -> Option<BtfTypes<'a>> {
        Some(BtfTypes {
            btf: self.btf?,
            section: self.btf_section()?,
            obj: *self,
        })
    }
}

impl<'a> BtfTypes<'a> {
    fn err(&self, (off, kind): BtfError) -> LoadError {
        self.section.err(off, kind)
    }

    fn record(&self, id: BtfTypeId) -> Result<Ty<'a>, LoadError> {
        self.btf.get(id.0).map_err(|e| self.err(e))
    }

    /// Describes type `id`.
    ///
    /// # Errors
    /// An id with no record, or a record that does not read (its name, its data).
    pub fn get(&self, id: BtfTypeId) -> Result<BtfType<'a>, LoadError> {
        if id.0 == 0 {
            return Ok(BtfType {
                id,
                name: "",
                kind: BtfTypeKind::Void,
            });
        }
        let ty = self.record(id)?;
        let name = self.btf.name(&ty).map_err(|e| self.err(e))?;
        let word = |at: u64| u32_at(ty.extra, at).ok_or(self.err((ty.at, K::BtfTruncated)));
        let target = BtfTypeId(ty.size_type);
        let kind = match ty.kind {
            KIND_INT => {
                let enc = word(0)?;
                BtfTypeKind::Int {
                    size: ty.size_type,
                    signed: enc & (1 << 24) != 0,
                    char: enc & (2 << 24) != 0,
                    bool: enc & (4 << 24) != 0,
                    bits: enc as u8,
                }
            }
            KIND_PTR => BtfTypeKind::Ptr(target),
            KIND_ARRAY => BtfTypeKind::Array {
                elem: BtfTypeId(word(0)?),
                len: word(8)?,
            },
            KIND_STRUCT => BtfTypeKind::Struct {
                size: ty.size_type,
                members: ty.vlen,
            },
            KIND_UNION => BtfTypeKind::Union {
                size: ty.size_type,
                members: ty.vlen,
            },
            KIND_ENUM | KIND_ENUM64 => BtfTypeKind::Enum {
                size: ty.size_type,
                signed: ty.kflag,
                values: ty.vlen,
            },
            KIND_FLOAT => BtfTypeKind::Float { size: ty.size_type },
            KIND_TYPEDEF => BtfTypeKind::Typedef(target),
            KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                BtfTypeKind::Qualified(target)
            }
            KIND_DATASEC => BtfTypeKind::Datasec {
                // clang leaves it 0: the section's size (what libbpf fills in).
                size: match ty.size_type {
                    0 => self
                        .obj
                        .section_by_name(name)
                        .and_then(|s| u32::try_from(s.size).ok())
                        .unwrap_or(0),
                    n => n,
                },
                vars: ty.vlen,
            },
            KIND_VAR => BtfTypeKind::Var(target),
            _ => BtfTypeKind::Other,
        };
        Ok(BtfType { id, name, kind })
    }

    /// Type `id` with typedefs, qualifiers and type tags followed to what they name.
    ///
    /// # Errors
    /// As [`BtfTypes::get`], or a chain longer than 32 references.
    pub fn resolve(&self, id: BtfTypeId) -> Result<BtfType<'a>, LoadError> {
        let mut id = id;
        for _ in 0..MAX_DEPTH {
            let ty = self.get(id)?;
            match ty.kind {
                BtfTypeKind::Typedef(t) | BtfTypeKind::Qualified(t) => id = t,
                _ => return Ok(ty),
            }
        }
        Err(self.err((0, K::BtfTooDeep)))
    }

    /// The size in bytes of a value of type `id`.
    ///
    /// # Errors
    /// As [`BtfTypes::get`], for a type without a size (a function, `void`), or a size over
    /// `u32::MAX`.
    pub fn size_of(&self, id: BtfTypeId) -> Result<u32, LoadError> {
        let size = self.btf.size_of(id.0, 0).map_err(|e| self.err(e))?;
        u32::try_from(size).map_err(|_| self.err((0, K::BadMapSize)))
    }

    /// The members of struct or union `id`, or the variables of data section `id` (after
    /// typedefs and qualifiers).
    ///
    /// # Errors
    /// As [`BtfTypes::resolve`], or a type that has no members.
    pub fn members(
        &self,
        id: BtfTypeId,
    ) -> Result<impl Iterator<Item = Result<BtfMember<'a>, LoadError>> + 'a, LoadError> {
        let r = self.resolve(id)?;
        let ty = self.record(r.id)?;
        if !matches!(ty.kind, KIND_STRUCT | KIND_UNION | KIND_DATASEC) {
            return Err(self.err((ty.at, K::BadBtfType(r.id.0))));
        }
        Ok(BtfMembers {
            types: *self,
            ty,
            next: 0,
        })
    }

    /// The enumerators of enum `id` (after typedefs and qualifiers).
    ///
    /// # Errors
    /// As [`BtfTypes::resolve`], or a type that is not an enum.
    pub fn enumerators(
        &self,
        id: BtfTypeId,
    ) -> Result<impl Iterator<Item = Result<BtfEnumerator<'a>, LoadError>> + 'a, LoadError> {
        let r = self.resolve(id)?;
        let ty = self.record(r.id)?;
        if !matches!(ty.kind, KIND_ENUM | KIND_ENUM64) {
            return Err(self.err((ty.at, K::BadBtfType(r.id.0))));
        }
        Ok(BtfEnumerators {
            types: *self,
            ty,
            next: 0,
        })
    }
}

impl BtfTypes<'_> {
    /// The offset of variable `var` in data section `datasec`, from the symbol table.
    fn var_offset(&self, datasec: &Ty<'_>, var: &str) -> Option<u32> {
        let sec_name = self.btf.name(datasec).ok()?;
        let sec = self.obj.section_by_name(sec_name)?;
        (0..self.obj.symbol_count())
            .filter_map(|i| self.obj.symbol(i).ok())
            .find(|s| s.shndx == sec.index && s.name == var)
            .and_then(|s| u32::try_from(s.value).ok())
    }
}

/// The members of a struct, union or data section; see [`BtfTypes::members`].
#[derive(Clone, Debug)]
pub(crate) struct BtfMembers<'a> {
    types: BtfTypes<'a>,
    ty: Ty<'a>,
    next: u16,
}

impl<'a> BtfMembers<'a> {
    fn member(&self, i: u16) -> Result<BtfMember<'a>, LoadError> {
        let t = &self.types;
        let at = u64::from(i).saturating_mul(12);
        let trunc = || t.err((self.ty.at, K::BtfTruncated));
        let word = |k: u64| {
            u32_at(self.ty.extra, at.saturating_add(k.saturating_mul(4))).ok_or_else(trunc)
        };
        if self.ty.kind == KIND_DATASEC {
            // { var type id, offset, size }: the variable names the member.
            let var_id = BtfTypeId(word(0)?);
            let var = t.record(var_id)?;
            if var.kind != KIND_VAR {
                return Err(t.err((var.at, K::BadBtfType(var_id.0))));
            }
            let name = t.btf.name(&var).map_err(|e| t.err(e))?;
            // clang leaves offsets 0: the variable's symbol gives it (as libbpf does).
            let offset = match word(1)? {
                0 => t.var_offset(&self.ty, name).unwrap_or(0),
                n => n,
            };
            return Ok(BtfMember {
                name,
                ty: BtfTypeId(var.size_type),
                bit_offset: offset.saturating_mul(8),
                bitfield_size: 0,
            });
        }
        // { name, type, offset }; with kind_flag, the offset holds the bitfield size on top.
        let name_off = word(0)?;
        let named = Ty {
            name_off,
            ..self.ty
        };
        let offset = word(2)?;
        let (bit_offset, bitfield_size) = if self.ty.kflag {
            (offset & 0x00ff_ffff, (offset >> 24) as u8)
        } else {
            (offset, 0)
        };
        Ok(BtfMember {
            name: t.btf.name(&named).map_err(|e| t.err(e))?,
            ty: BtfTypeId(word(1)?),
            bit_offset,
            bitfield_size,
        })
    }
}

impl<'a> Iterator for BtfMembers<'a> {
    type Item = Result<BtfMember<'a>, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.ty.vlen {
            return None;
        }
        let m = self.member(self.next);
        self.next = self.next.saturating_add(1);
        Some(m)
    }
}

/// The enumerators of an enum; see [`BtfTypes::enumerators`].
#[derive(Clone, Debug)]
pub(crate) struct BtfEnumerators<'a> {
    types: BtfTypes<'a>,
    ty: Ty<'a>,
    next: u16,
}

impl<'a> Iterator for BtfEnumerators<'a> {
    type Item = Result<BtfEnumerator<'a>, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.ty.vlen {
            return None;
        }
        let t = &self.types;
        let wide = self.ty.kind == KIND_ENUM64;
        let at = u64::from(self.next).saturating_mul(if wide { 12 } else { 8 });
        self.next = self.next.saturating_add(1);
        let word = |k: u64| {
            u32_at(self.ty.extra, at.saturating_add(k.saturating_mul(4)))
                .ok_or_else(|| t.err((self.ty.at, K::BtfTruncated)))
        };
        let one = || -> Result<BtfEnumerator<'a>, LoadError> {
            let named = Ty {
                name_off: word(0)?,
                ..self.ty
            };
            let lo = word(1)?;
            let value = if wide {
                (u64::from(word(2)?) << 32 | u64::from(lo)) as i64
            } else if self.ty.kflag {
                i64::from(lo as i32)
            } else {
                i64::from(lo)
            };
            Ok(BtfEnumerator {
                name: t.btf.name(&named).map_err(|e| t.err(e))?,
                value,
            })
        };
        Some(one())
    }
}
