//! The scalar domain: a reduced product of a [`Tnum`] with unsigned and signed ranges of the
//! full 64-bit value and of its low 32 bits, with sound transfer functions for every ALU
//! operation of the ISA.
//!
//! Each operation computes each component from the operands' components, then
//! [`Scalar::sync`] lets the components refine one another (Linux's `reg_bounds_sync`).
//! 32-bit operations are computed on the 64-bit extension of the operands' low halves
//! (zero-extended, or sign-extended for signed operations) and truncated: the low 32 bits of
//! the exact 64-bit result of `add`, `sub`, `mul`, `lsh`, `rsh`, `arsh`, `div`, `mod` of the
//! extended operands are exactly the 32-bit result.

use super::tnum::{low_mask, Tnum};

/// An abstract 64-bit number: every component is a superset of the concrete values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scalar {
    /// Known bits.
    pub var: Tnum,
    /// Unsigned bounds of the 64-bit value.
    pub umin: u64,
    /// Unsigned upper bound.
    pub umax: u64,
    /// Signed bounds of the 64-bit value.
    pub smin: i64,
    /// Signed upper bound.
    pub smax: i64,
    /// Unsigned bounds of the low 32 bits.
    pub u32min: u32,
    /// Unsigned upper bound of the low 32 bits.
    pub u32max: u32,
    /// Signed bounds of the low 32 bits.
    pub s32min: i32,
    /// Signed upper bound of the low 32 bits.
    pub s32max: i32,
}

impl Scalar {
    /// Every number.
    pub const UNKNOWN: Scalar = Scalar {
        var: Tnum::UNKNOWN,
        umin: 0,
        umax: u64::MAX,
        smin: i64::MIN,
        smax: i64::MAX,
        u32min: 0,
        u32max: u32::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Scalar {
        Scalar {
            var: Tnum::constant(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
            u32min: v as u32,
            u32max: v as u32,
            s32min: v as i32,
            s32max: v as i32,
        }
    }

    /// The members of a tnum, with ranges derived from it.
    pub fn from_tnum(var: Tnum) -> Scalar {
        let mut s = Scalar {
            var,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// Any number in `[0, 2^bits)`.
    pub fn unknown_bits(bits: u32) -> Scalar {
        Scalar::from_tnum(Tnum::UNKNOWN.trunc(bits))
    }

    /// Any number in `[umin, umax]` and `[smin, smax]`; `None` when that is empty.
    #[cfg(test)]
    pub fn from_ranges(umin: u64, umax: u64, smin: i64, smax: i64) -> Option<Scalar> {
        let mut s = Scalar {
            umin,
            umax,
            smin,
            smax,
            ..Scalar::UNKNOWN
        };
        s.sync().then_some(s)
    }

    /// The value when it is known.
    #[inline]
    pub const fn as_const(&self) -> Option<u64> {
        if self.var.is_const() {
            Some(self.var.value)
        } else {
            None
        }
    }

    /// Whether `x` is a member of every component.
    #[cfg(test)]
    pub fn contains(&self, x: u64) -> bool {
        self.var.contains(x)
            && self.umin <= x
            && x <= self.umax
            && self.smin <= x as i64
            && x as i64 <= self.smax
            && self.u32min <= x as u32
            && x as u32 <= self.u32max
            && self.s32min <= x as i32
            && x as i32 <= self.s32max
    }

    /// Whether every member of `other` is a member of `self` (component-wise inclusion).
    pub fn includes(&self, other: &Scalar) -> bool {
        self.var.includes(other.var)
            && self.umin <= other.umin
            && other.umax <= self.umax
            && self.smin <= other.smin
            && other.smax <= self.smax
            && self.u32min <= other.u32min
            && other.u32max <= self.u32max
            && self.s32min <= other.s32min
            && other.s32max <= self.s32max
    }

    /// Whether no number is a member.
    fn is_empty(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.u32min > self.u32max
            || self.s32min > self.s32max
    }

    /// Lets the components refine each other. Returns `false` when the set is empty (an
    /// impossible branch); the fields are then meaningless.
    pub fn sync(&mut self) -> bool {
        if self.is_empty() {
            return false;
        }
        self.update_from_tnum();
        for _ in 0..2 {
            if self.is_empty() {
                return false;
            }
            self.deduce();
        }
        if self.is_empty() || !self.tnum_from_ranges() {
            return false;
        }
        self.update_from_tnum();
        !self.is_empty()
    }

    fn update_from_tnum(&mut self) {
        let v32 = self.var.trunc(32);
        self.s32min = self
            .s32min
            .max((v32.value | (v32.mask & 0x8000_0000)) as u32 as i32);
        self.s32max = self
            .s32max
            .min((v32.value | (v32.mask & 0x7fff_ffff)) as u32 as i32);
        self.u32min = self.u32min.max(v32.value as u32);
        self.u32max = self.u32max.min(v32.umax() as u32);
        self.smin = self.smin.max(self.var.smin());
        self.smax = self.smax.min(self.var.smax());
        self.umin = self.umin.max(self.var.value);
        self.umax = self.umax.min(self.var.umax());
    }

    fn deduce(&mut self) {
        // Signed and unsigned views of the same bits agree when the range does not cross
        // the sign boundary.
        if (self.u32min as i32) <= (self.u32max as i32) {
            self.s32min = self.s32min.max(self.u32min as i32);
            self.s32max = self.s32max.min(self.u32max as i32);
        }
        if (self.s32min as u32) <= (self.s32max as u32) {
            self.u32min = self.u32min.max(self.s32min as u32);
            self.u32max = self.u32max.min(self.s32max as u32);
        }
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        }
        // 64 -> 32: when the upper halves agree, the low halves are ordered like the values.
        if self.umin >> 32 == self.umax >> 32 {
            let (lo, hi) = (self.umin as u32, self.umax as u32);
            self.u32min = self.u32min.max(lo);
            self.u32max = self.u32max.min(hi);
            if (lo as i32) <= (hi as i32) {
                self.s32min = self.s32min.max(lo as i32);
                self.s32max = self.s32max.min(hi as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            let (lo, hi) = (self.smin as u32, self.smax as u32);
            if lo <= hi {
                self.u32min = self.u32min.max(lo);
                self.u32max = self.u32max.min(hi);
            }
            if (lo as i32) <= (hi as i32) {
                self.s32min = self.s32min.max(lo as i32);
                self.s32max = self.s32max.min(hi as i32);
            }
        }
        // 32 -> 64: within one upper half, the low bounds bound the value.
        if self.umin >> 32 == self.umax >> 32 && self.u32min <= self.u32max {
            let hi = self.umin & !0xffff_ffff;
            self.umin = self.umin.max(hi | self.u32min as u64);
            self.umax = self.umax.min(hi | self.u32max as u64);
        }
        if self.smin >> 32 == self.smax >> 32 && self.u32min <= self.u32max {
            let hi = (self.smin as u64) & !0xffff_ffff;
            self.smin = self.smin.max((hi | self.u32min as u64) as i64);
            self.smax = self.smax.min((hi | self.u32max as u64) as i64);
        }
    }

    fn tnum_from_ranges(&mut self) -> bool {
        let Some(v64) = self.var.intersect(Tnum::range(self.umin, self.umax)) else {
            return false;
        };
        let Some(v32) = v64
            .trunc(32)
            .intersect(Tnum::range(self.u32min as u64, self.u32max as u64))
        else {
            return false;
        };
        self.var = Tnum {
            value: (v64.value & !0xffff_ffff) | v32.value,
            mask: (v64.mask & !0xffff_ffff) | v32.mask,
        };
        true
    }

    /// A result built from a tnum and 64-bit ranges; the 32-bit bounds are derived.
    fn build(var: Tnum, umin: u64, umax: u64, smin: i64, smax: i64) -> Scalar {
        let mut s = Scalar {
            var,
            umin,
            umax,
            smin,
            smax,
            ..Scalar::UNKNOWN
        };
        if s.sync() {
            s
        } else {
            // Only reachable through an imprecise component; fall back to the tnum alone.
            Scalar::from_tnum(var)
        }
    }

    // ---- 64-bit operations -------------------------------------------------------------

    /// `a + b` modulo 2^64.
    pub fn add(a: &Scalar, b: &Scalar) -> Scalar {
        let (umin, umax) = match (a.umin.checked_add(b.umin), a.umax.checked_add(b.umax)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (0, u64::MAX),
        };
        let (smin, smax) = match (a.smin.checked_add(b.smin), a.smax.checked_add(b.smax)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (i64::MIN, i64::MAX),
        };
        Scalar::build(a.var.add(b.var), umin, umax, smin, smax)
    }

    /// `a - b` modulo 2^64.
    pub fn sub(a: &Scalar, b: &Scalar) -> Scalar {
        let (umin, umax) = match (a.umin.checked_sub(b.umax), a.umax.checked_sub(b.umin)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (0, u64::MAX),
        };
        let (smin, smax) = match (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (i64::MIN, i64::MAX),
        };
        Scalar::build(a.var.sub(b.var), umin, umax, smin, smax)
    }

    /// `a * b` modulo 2^64.
    pub fn mul(a: &Scalar, b: &Scalar) -> Scalar {
        let (umin, umax) = match a.umax.checked_mul(b.umax) {
            Some(hi) => (a.umin.saturating_mul(b.umin), hi), // umin <= umax: no overflow
            None => (0, u64::MAX),
        };
        let corners = [
            a.smin.checked_mul(b.smin),
            a.smin.checked_mul(b.smax),
            a.smax.checked_mul(b.smin),
            a.smax.checked_mul(b.smax),
        ];
        let (mut smin, mut smax) = (i64::MAX, i64::MIN);
        for c in corners {
            match c {
                Some(v) => {
                    smin = smin.min(v);
                    smax = smax.max(v);
                }
                None => {
                    smin = i64::MIN;
                    smax = i64::MAX;
                    break;
                }
            }
        }
        Scalar::build(a.var.mul(b.var), umin, umax, smin, smax)
    }

    /// `a & b`.
    pub fn and(a: &Scalar, b: &Scalar) -> Scalar {
        let var = a.var.and(b.var);
        let (smin, smax) = if a.smin >= 0 || b.smin >= 0 {
            (0, i64::MAX)
        } else {
            (i64::MIN, i64::MAX)
        };
        Scalar::build(var, var.value, a.umax.min(b.umax), smin, smax)
    }

    /// `a | b`.
    pub fn or(a: &Scalar, b: &Scalar) -> Scalar {
        let var = a.var.or(b.var);
        let (smin, smax) = if a.smin >= 0 && b.smin >= 0 {
            (a.smin.max(b.smin), i64::MAX)
        } else {
            (i64::MIN, i64::MAX)
        };
        Scalar::build(var, a.umin.max(b.umin), var.umax(), smin, smax)
    }

    /// `a ^ b`.
    pub fn xor(a: &Scalar, b: &Scalar) -> Scalar {
        Scalar::from_tnum(a.var.xor(b.var))
    }

    /// `a << (b & (bits - 1))` for `bits` 64 (the ISA masks the amount).
    pub fn lsh(a: &Scalar, b: &Scalar) -> Scalar {
        let Some(k) = b.as_const() else {
            return Scalar::UNKNOWN;
        };
        let k = (k & 63) as u32;
        let var = a.var.lshift(k);
        let (umin, umax) = if k == 0 || a.umax >> 64u32.saturating_sub(k) == 0 {
            (a.umin << k, a.umax << k)
        } else {
            (0, u64::MAX)
        };
        Scalar::build(var, umin, umax, i64::MIN, i64::MAX)
    }

    /// `a >> (b & 63)`, logical.
    pub fn rsh(a: &Scalar, b: &Scalar) -> Scalar {
        match b.as_const() {
            Some(k) => {
                let k = (k & 63) as u32;
                Scalar::build(
                    a.var.rshift(k),
                    a.umin >> k,
                    a.umax >> k,
                    i64::MIN,
                    i64::MAX,
                )
            }
            None if b.umax < 64 => {
                let (lo, hi) = (b.umax as u32, b.umin as u32);
                Scalar::build(
                    Tnum::UNKNOWN,
                    a.umin >> lo,
                    a.umax >> hi,
                    i64::MIN,
                    i64::MAX,
                )
            }
            None => Scalar::build(Tnum::UNKNOWN, 0, a.umax, i64::MIN, i64::MAX),
        }
    }

    /// `a >> (b & 63)`, arithmetic.
    pub fn arsh(a: &Scalar, b: &Scalar) -> Scalar {
        let Some(k) = b.as_const() else {
            return Scalar::build(Tnum::UNKNOWN, 0, u64::MAX, a.smin.min(0), a.smax.max(0));
        };
        let k = (k & 63) as u32;
        Scalar::build(a.var.arshift(k), 0, u64::MAX, a.smin >> k, a.smax >> k)
    }

    /// `a / b`, unsigned; division by zero gives 0.
    pub fn udiv(a: &Scalar, b: &Scalar) -> Scalar {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Scalar::constant(x.checked_div(y).unwrap_or(0));
        }
        // Both divisions succeed exactly when `b.umin >= 1`.
        let (umin, umax) = match (a.umin.checked_div(b.umax), a.umax.checked_div(b.umin)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (0, a.umax),
        };
        Scalar::build(Tnum::UNKNOWN, umin, umax, i64::MIN, i64::MAX)
    }

    /// `a % b`, unsigned; modulo zero leaves `a`.
    pub fn umod(a: &Scalar, b: &Scalar) -> Scalar {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Scalar::constant(x.checked_rem(y).unwrap_or(x));
        }
        if b.umin >= 1 {
            if a.umax < b.umin {
                return *a;
            }
            Scalar::build(
                Tnum::UNKNOWN,
                0,
                a.umax.min(b.umax.saturating_sub(1)),
                i64::MIN,
                i64::MAX,
            )
        } else {
            Scalar::build(Tnum::UNKNOWN, 0, a.umax, i64::MIN, i64::MAX)
        }
    }

    /// `a / b`, signed and truncating; division by zero gives 0, `MIN / -1` wraps to `MIN`.
    pub fn sdiv(a: &Scalar, b: &Scalar) -> Scalar {
        let Some(c) = b.as_const() else {
            return Scalar::UNKNOWN;
        };
        let c = c as i64;
        match c {
            0 => Scalar::constant(0),
            -1 => Scalar::sub(&Scalar::constant(0), a),
            // `c` is neither 0 nor -1: the divisions cannot fail.
            c => match (a.smin.checked_div(c), a.smax.checked_div(c)) {
                (Some(lo), Some(hi)) if c > 0 => Scalar::build(Tnum::UNKNOWN, 0, u64::MAX, lo, hi),
                (Some(hi), Some(lo)) => Scalar::build(Tnum::UNKNOWN, 0, u64::MAX, lo, hi),
                _ => Scalar::UNKNOWN,
            },
        }
    }

    /// `a % b`, signed (the sign of the result is the dividend's); modulo zero leaves `a`.
    pub fn smod(a: &Scalar, b: &Scalar) -> Scalar {
        let Some(c) = b.as_const() else {
            return Scalar::UNKNOWN;
        };
        if c == 0 {
            return *a;
        }
        let m = (c as i64).unsigned_abs().saturating_sub(1); // |result| <= m; c != 0
        let m = m.min(i64::MAX as u64) as i64;
        let (smin, smax) = if a.smin >= 0 {
            (0, a.smax.min(m))
        } else if a.smax <= 0 {
            (a.smin.max(m.saturating_neg()), 0)
        } else {
            (m.saturating_neg(), m)
        };
        Scalar::build(Tnum::UNKNOWN, 0, u64::MAX, smin, smax)
    }

    // ---- width changes -----------------------------------------------------------------

    /// The low 32 bits, zero-extended (the result of every 32-bit operation).
    pub fn zext32(&self) -> Scalar {
        let mut s = Scalar {
            var: self.var.trunc(32),
            umin: self.u32min as u64,
            umax: self.u32max as u64,
            smin: self.u32min as i64,
            smax: self.u32max as i64,
            ..*self
        };
        if s.sync() {
            s
        } else {
            Scalar::from_tnum(self.var.trunc(32))
        }
    }

    /// The low 32 bits, sign-extended.
    pub fn sext32(&self) -> Scalar {
        let mut s = Scalar {
            var: self.var.sext(32),
            umin: 0,
            umax: u64::MAX,
            smin: self.s32min as i64,
            smax: self.s32max as i64,
            ..*self
        };
        if s.sync() {
            s
        } else {
            Scalar::from_tnum(self.var.sext(32))
        }
    }

    // ---- bytes of a stack slot ---------------------------------------------------------

    /// The 8 bytes `self` after a little-endian store of the low `8 * w` bits of `field` at
    /// byte `p` (`p + w <= 8`): a narrow spill into a slot whose other bytes keep `self`.
    pub fn with_bytes(&self, field: &Scalar, p: u32, w: u32) -> Scalar {
        if w >= 8 {
            return *field;
        }
        // `p + w <= 8`: both at most 64.
        let (shift, bits) = (p.saturating_mul(8), w.saturating_mul(8));
        let field = field.trunc(bits);
        let mask = low_mask(bits) << shift;
        let var = self
            .var
            .and(Tnum::constant(!mask))
            .or(field.var.lshift(shift));
        let mut s = Scalar::from_tnum(var);
        let rest = self.var.and(Tnum::constant(!mask));
        let (umin, umax) = if rest.is_const() {
            // Every other bit known: the value is that constant plus the shifted field.
            (
                rest.value | (field.umin << shift),
                rest.value | (field.umax << shift),
            )
        } else if p.saturating_add(w) == 8 {
            // The field is the top: it orders the values.
            (field.umin << shift, (field.umax << shift) | low_mask(shift))
        } else {
            (0, u64::MAX)
        };
        s.umin = s.umin.max(umin);
        s.umax = s.umax.min(umax);
        if p == 0 && w == 4 {
            // The low half is the field.
            s.u32min = s.u32min.max(field.u32min);
            s.u32max = s.u32max.min(field.u32max);
            s.s32min = s.s32min.max(field.s32min);
            s.s32max = s.s32max.min(field.s32max);
        }
        if s.sync() {
            s
        } else {
            Scalar::from_tnum(var)
        }
    }

    /// The `w` bytes at byte `p` of the 8 bytes `self` (`p + w <= 8`), zero-extended: a narrow
    /// fill from a spilled number.
    pub fn bytes(&self, p: u32, w: u32) -> Scalar {
        let whole = if p == 0 {
            *self
        } else {
            Scalar::rsh(self, &Scalar::constant(u64::from(p).saturating_mul(8)))
        };
        whole.trunc(w.saturating_mul(8))
    }

    /// The low `bits` bits (8, 16, 32 or 64), zero-extended.
    pub fn trunc(&self, bits: u32) -> Scalar {
        match bits {
            64 => *self,
            32 => self.zext32(),
            _ if self.umax <= low_mask(bits) => *self,
            _ => Scalar::from_tnum(self.var.trunc(bits)),
        }
    }

    /// The low `bits` bits (8, 16, 32 or 64), sign-extended.
    pub fn sext(&self, bits: u32) -> Scalar {
        let half = 1i64 << bits.saturating_sub(1).min(62); // 1..=2^62: negating is exact
        match bits {
            64 => *self,
            32 => self.sext32(),
            _ if self.smin >= half.saturating_neg() && self.smax < half => *self,
            _ => {
                let mut s = Scalar::from_tnum(self.var.sext(bits));
                s.smin = s.smin.max(half.saturating_neg());
                s.smax = s.smax.min(half.saturating_sub(1));
                if s.sync() {
                    s
                } else {
                    Scalar::from_tnum(self.var.sext(bits))
                }
            }
        }
    }

    /// Byte swap of the low `bits` bits, zero-extended.
    pub fn swap(&self, bits: u32) -> Scalar {
        Scalar::from_tnum(self.var.swap(bits))
    }
}

/// A binary ALU operation on scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Mod,
    SMod,
    Or,
    And,
    Xor,
    Lsh,
    Rsh,
    Arsh,
}

impl BinOp {
    /// The Linux name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            BinOp::Add => "+=",
            BinOp::Sub => "-=",
            BinOp::Mul => "*=",
            BinOp::Div | BinOp::SDiv => "/=",
            BinOp::Mod | BinOp::SMod => "%=",
            BinOp::Or => "|=",
            BinOp::And => "&=",
            BinOp::Xor => "^=",
            BinOp::Lsh => "<<=",
            BinOp::Rsh => ">>=",
            BinOp::Arsh => "s>>=",
        }
    }

    /// Applies the operation at 64 or 32 bits.
    pub fn apply(self, a: &Scalar, b: &Scalar, is64: bool) -> Scalar {
        if is64 {
            return self.apply64(a, b);
        }
        let signed = matches!(self, BinOp::SDiv | BinOp::SMod | BinOp::Arsh);
        let (x, y) = if signed {
            (a.sext32(), b.sext32())
        } else {
            (a.zext32(), b.zext32())
        };
        let y = match self {
            // The amount is masked to 5 bits.
            BinOp::Lsh | BinOp::Rsh | BinOp::Arsh => {
                Scalar::and(&b.zext32(), &Scalar::constant(31))
            }
            _ => y,
        };
        self.apply64(&x, &y).zext32()
    }

    fn apply64(self, a: &Scalar, b: &Scalar) -> Scalar {
        match self {
            BinOp::Add => Scalar::add(a, b),
            BinOp::Sub => Scalar::sub(a, b),
            BinOp::Mul => Scalar::mul(a, b),
            BinOp::Div => Scalar::udiv(a, b),
            BinOp::SDiv => Scalar::sdiv(a, b),
            BinOp::Mod => Scalar::umod(a, b),
            BinOp::SMod => Scalar::smod(a, b),
            BinOp::Or => Scalar::or(a, b),
            BinOp::And => Scalar::and(a, b),
            BinOp::Xor => Scalar::xor(a, b),
            BinOp::Lsh => Scalar::lsh(a, b),
            BinOp::Rsh => Scalar::rsh(a, b),
            BinOp::Arsh => Scalar::arsh(a, b),
        }
    }

    /// The concrete operation: the interpreter's, which is the reference semantics (for tests).
    #[cfg(test)]
    pub fn concrete(self, x: u64, y: u64, is64: bool) -> u64 {
        use crate::interp as isa;
        if is64 {
            return match self {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Div => isa::udiv64(x, y),
                BinOp::SDiv => isa::sdiv64(x, y),
                BinOp::Mod => isa::umod64(x, y),
                BinOp::SMod => isa::smod64(x, y),
                BinOp::Or => x | y,
                BinOp::And => x & y,
                BinOp::Xor => x ^ y,
                BinOp::Lsh => x.wrapping_shl(y as u32),
                BinOp::Rsh => x.wrapping_shr(y as u32),
                BinOp::Arsh => (x as i64).wrapping_shr(y as u32) as u64,
            };
        }
        let (a, b) = (x as u32, y as u32);
        match self {
            BinOp::Div => isa::udiv32(x, y),
            BinOp::SDiv => isa::sdiv32(x, y),
            BinOp::Mod => isa::umod32(x, y),
            BinOp::SMod => isa::smod32(x, y),
            BinOp::Add => a.wrapping_add(b) as u64,
            BinOp::Sub => a.wrapping_sub(b) as u64,
            BinOp::Mul => a.wrapping_mul(b) as u64,
            BinOp::Or => (a | b) as u64,
            BinOp::And => (a & b) as u64,
            BinOp::Xor => (a ^ b) as u64,
            BinOp::Lsh => a.wrapping_shl(b) as u64,
            BinOp::Rsh => a.wrapping_shr(b) as u64,
            BinOp::Arsh => (a as i32).wrapping_shr(b) as u32 as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// A random abstract scalar and a random member of it: built as a range or a tnum around a
    /// concrete value, then synced, so all components interact.
    fn pick(rng: &mut Rng) -> (Scalar, u64) {
        let special = [
            0,
            1,
            2,
            31,
            63,
            64,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            1 << 63,
            u64::MAX,
            u64::MAX - 1,
            (-5i64) as u64,
        ];
        let x = match rng.next() % 4 {
            0 => special[(rng.next() % special.len() as u64) as usize],
            1 => rng.next() % 300,
            2 => (rng.next() % 300).wrapping_neg(),
            _ => rng.next(),
        };
        let s = match rng.next() % 5 {
            0 => Scalar::constant(x),
            1 => {
                let w = rng.next() % 1000;
                let lo = x.saturating_sub(rng.next() % (w + 1));
                let hi = x.saturating_add(rng.next() % (w + 1));
                Scalar::from_ranges(lo, hi, i64::MIN, i64::MAX).unwrap()
            }
            2 => {
                let w = (rng.next() % 1000) as i64;
                let lo = (x as i64).saturating_sub(w);
                let hi = (x as i64).saturating_add(w);
                Scalar::from_ranges(0, u64::MAX, lo, hi).unwrap()
            }
            3 => {
                let mask = rng.next() & rng.next() & rng.next();
                Scalar::from_tnum(Tnum {
                    value: x & !mask,
                    mask,
                })
            }
            _ => {
                let bits = [8, 16, 32][(rng.next() % 3) as usize];
                let s = Scalar::unknown_bits(bits);
                return (s, x & low_mask(bits));
            }
        };
        (s, x)
    }

    const OPS: [BinOp; 13] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::SDiv,
        BinOp::Mod,
        BinOp::SMod,
        BinOp::Or,
        BinOp::And,
        BinOp::Xor,
        BinOp::Lsh,
        BinOp::Rsh,
        BinOp::Arsh,
    ];

    #[test]
    fn binary_operations_are_sound() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..60_000 {
            let (a, x) = pick(&mut rng);
            let (b, y) = pick(&mut rng);
            assert!(a.contains(x), "case {i}: pick {a:?} {x:#x}");
            assert!(b.contains(y), "case {i}: pick {b:?} {y:#x}");
            for op in OPS {
                for is64 in [true, false] {
                    let r = op.apply(&a, &b, is64);
                    let z = op.concrete(x, y, is64);
                    assert!(
                        r.contains(z),
                        "case {i}: {op:?} is64={is64} {a:?} ({x:#x}) {b:?} ({y:#x}) -> {r:?} lacks {z:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn width_changes_are_sound() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for _ in 0..30_000 {
            let (a, x) = pick(&mut rng);
            for bits in [8u32, 16, 32, 64] {
                let t = x & low_mask(bits);
                assert!(a.trunc(bits).contains(t), "trunc{bits} {a:?} {x:#x}");
                let s = if bits == 64 {
                    x
                } else {
                    (((x << (64 - bits)) as i64) >> (64 - bits)) as u64
                };
                assert!(a.sext(bits).contains(s), "sext{bits} {a:?} {x:#x}");
            }
            assert!(a.swap(16).contains((x as u16).swap_bytes() as u64));
            assert!(a.swap(32).contains((x as u32).swap_bytes() as u64));
            assert!(a.swap(64).contains(x.swap_bytes()));
        }
    }

    #[test]
    fn slot_bytes_are_sound_and_keep_bounds() {
        let mut rng = Rng(0x5107_5b17);
        for _ in 0..30_000 {
            let (old, x) = pick(&mut rng);
            let (field, y) = pick(&mut rng);
            for (p, w) in [
                (0, 1),
                (3, 1),
                (7, 1),
                (0, 2),
                (6, 2),
                (0, 4),
                (4, 4),
                (0, 8),
            ] {
                let m = low_mask(8 * w) << (8 * p);
                let z = (x & !m) | ((y << (8 * p)) & m);
                let r = old.with_bytes(&field, p, w);
                assert!(
                    r.contains(z),
                    "{p}+{w} {old:?} {x:#x} {field:?} {y:#x} -> {r:?}"
                );
                for (q, u) in [(0, 1), (p, w), (0, 4), (4, 4), (2, 2)] {
                    if q + u <= 8 {
                        let b = (z >> (8 * q)) & low_mask(8 * u);
                        assert!(r.bytes(q, u).contains(b), "bytes {q}+{u} of {r:?}");
                    }
                }
            }
        }
        // A bounded u32 stored at either half of an unknown slot reads back with its bounds.
        let small = Scalar::from_ranges(3, 100, 3, 100).unwrap();
        for p in [0, 4] {
            let back = Scalar::UNKNOWN.with_bytes(&small, p, 4).bytes(p, 4);
            assert_eq!((back.umin, back.umax), (3, 100), "at byte {p}");
        }
    }

    #[test]
    fn constants_fold_exactly() {
        let a = Scalar::constant(100);
        let b = Scalar::constant(7);
        assert_eq!(BinOp::Mod.apply(&a, &b, true).as_const(), Some(2));
        assert_eq!(
            BinOp::Sub.apply(&b, &a, false).as_const(),
            Some(0xffff_ffa3)
        );
        assert_eq!(BinOp::Mul.apply(&a, &b, true).as_const(), Some(700));
        assert_eq!(
            BinOp::Div.apply(&a, &Scalar::constant(0), true).as_const(),
            Some(0)
        );
        let r = BinOp::And.apply(&Scalar::UNKNOWN, &Scalar::constant(0xff), true);
        assert_eq!((r.umin, r.umax), (0, 0xff));
    }
}
