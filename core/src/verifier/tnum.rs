//! Tristate numbers ("known bits"), as in Linux's `kernel/bpf/tnum.c`.
//!
//! A [`Tnum`] `{ value, mask }` stands for every 64-bit number `x` with
//! `x & !mask == value`: bits set in `mask` are unknown, the others equal `value`'s. The
//! invariant `value & mask == 0` holds for every tnum built here.

/// A set of 64-bit numbers described by known and unknown bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Tnum {
    /// The known bits (zero where unknown).
    pub value: u64,
    /// The unknown bits.
    pub mask: u64,
}

impl Tnum {
    /// Every number.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    #[inline]
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum containing every number of `[min, max]`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64u32.saturating_sub(chi.leading_zeros());
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits).wrapping_sub(1); // `bits` is at most 63
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// Whether every bit is known.
    #[inline]
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether `x` is a member.
    #[cfg(test)]
    pub const fn contains(self, x: u64) -> bool {
        x & !self.mask == self.value
    }

    /// Whether every member of `other` is a member of `self`.
    #[inline]
    pub const fn includes(self, other: Tnum) -> bool {
        other.mask & !self.mask == 0 && other.value & !self.mask == self.value
    }

    /// Shift left by a known amount below 64.
    #[inline]
    pub const fn lshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value << s,
            mask: self.mask << s,
        }
    }

    /// Logical shift right by a known amount below 64.
    #[inline]
    pub const fn rshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value >> s,
            mask: self.mask >> s,
        }
    }

    /// Arithmetic shift right by a known amount below 64.
    #[inline]
    pub const fn arshift(self, s: u32) -> Tnum {
        Tnum {
            value: ((self.value as i64) >> s) as u64,
            mask: ((self.mask as i64) >> s) as u64,
        }
    }

    /// Addition modulo 2^64.
    pub const fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// Subtraction modulo 2^64.
    pub const fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// Bitwise and.
    pub const fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// Bitwise or.
    pub const fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// Bitwise exclusive or.
    pub const fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Multiplication modulo 2^64 (Linux's long multiplication over known bits).
    pub const fn mul(self, b: Tnum) -> Tnum {
        let acc_v = self.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        let mut a = self;
        let mut b = b;
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// The numbers in both, or `None` when the known bits disagree.
    pub const fn intersect(self, b: Tnum) -> Option<Tnum> {
        if (self.value ^ b.value) & !(self.mask | b.mask) != 0 {
            return None;
        }
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Some(Tnum {
            value: v & !mu,
            mask: mu,
        })
    }

    /// The low `bits` bits (8, 16, 32 or 64), zero-extended.
    #[inline]
    pub const fn trunc(self, bits: u32) -> Tnum {
        let m = low_mask(bits);
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// The low `bits` bits, sign-extended from bit `bits - 1`.
    pub const fn sext(self, bits: u32) -> Tnum {
        if bits >= 64 {
            return self;
        }
        let s = 64u32.saturating_sub(bits); // `bits` is below 64
        Tnum {
            value: (((self.value << s) as i64) >> s) as u64,
            mask: (((self.mask << s) as i64) >> s) as u64,
        }
        .normalized()
    }

    /// Byte swap of the low `bits` bits (16, 32 or 64), zero-extended: exact, since a swap only
    /// permutes bits.
    pub const fn swap(self, bits: u32) -> Tnum {
        match bits {
            16 => Tnum {
                value: (self.value as u16).swap_bytes() as u64,
                mask: (self.mask as u16).swap_bytes() as u64,
            },
            32 => Tnum {
                value: (self.value as u32).swap_bytes() as u64,
                mask: (self.mask as u32).swap_bytes() as u64,
            },
            _ => Tnum {
                value: self.value.swap_bytes(),
                mask: self.mask.swap_bytes(),
            },
        }
    }

    /// Restores `value & mask == 0` after an operation that may set both.
    #[inline]
    const fn normalized(self) -> Tnum {
        Tnum {
            value: self.value & !self.mask,
            mask: self.mask,
        }
    }

    /// The smallest member as a signed number.
    #[inline]
    pub const fn smin(self) -> i64 {
        (self.value | (self.mask & (1 << 63))) as i64
    }

    /// The largest member as a signed number.
    #[inline]
    pub const fn smax(self) -> i64 {
        (self.value | (self.mask & !(1 << 63))) as i64
    }

    /// The largest member.
    #[inline]
    pub const fn umax(self) -> u64 {
        self.value | self.mask
    }
}

/// The mask of the low `bits` bits.
#[inline]
pub(crate) const fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits).wrapping_sub(1) // `bits` is below 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded xorshift, so failures reproduce.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// A random tnum, and a random member of it.
    fn pick(rng: &mut Rng) -> (Tnum, u64) {
        let interesting = [0, 1, 0xff, 0x8000_0000, 0xffff_ffff, 1 << 63, u64::MAX];
        let mask = match rng.next() % 4 {
            0 => 0,
            1 => rng.next() & 0xf,
            2 => rng.next() & rng.next(),
            _ => rng.next(),
        };
        let value = if rng.next() % 3 == 0 {
            interesting[(rng.next() % 7) as usize]
        } else {
            rng.next()
        } & !mask;
        let t = Tnum { value, mask };
        let x = value | (rng.next() & mask);
        (t, x)
    }

    #[test]
    fn transfer_functions_are_sound() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..20_000 {
            let (a, x) = pick(&mut rng);
            let (b, y) = pick(&mut rng);
            assert!(a.contains(x) && b.contains(y));
            assert!(a.add(b).contains(x.wrapping_add(y)), "add {a:?} {b:?}");
            assert!(a.sub(b).contains(x.wrapping_sub(y)), "sub {a:?} {b:?}");
            assert!(a.mul(b).contains(x.wrapping_mul(y)), "mul {a:?} {b:?}");
            assert!(a.and(b).contains(x & y));
            assert!(a.or(b).contains(x | y));
            assert!(a.xor(b).contains(x ^ y));
            let s = (y % 64) as u32;
            assert!(a.lshift(s).contains(x << s));
            assert!(a.rshift(s).contains(x >> s));
            assert!(a.arshift(s).contains(((x as i64) >> s) as u64));
            for bits in [8, 16, 32] {
                assert!(a.trunc(bits).contains(x & low_mask(bits)));
                let sx = (((x << (64 - bits)) as i64) >> (64 - bits)) as u64;
                assert!(a.sext(bits).contains(sx));
            }
            assert!(a.swap(16).contains((x as u16).swap_bytes() as u64));
            assert!(a.swap(32).contains((x as u32).swap_bytes() as u64));
            assert!(a.swap(64).contains(x.swap_bytes()));
            assert!(a.smin() <= x as i64 && x as i64 <= a.smax());
            assert!(x <= a.umax());
            let (lo, hi) = if x < y { (x, y) } else { (y, x) };
            let r = Tnum::range(lo, hi);
            assert!(r.contains(lo) && r.contains(hi));
            if let Some(i) = a.intersect(Tnum::constant(x)) {
                assert!(i.contains(x));
            } else {
                panic!("intersection lost a common member");
            }
        }
    }

    #[test]
    fn inclusion_and_constants() {
        let any = Tnum::UNKNOWN;
        let five = Tnum::constant(5);
        assert!(any.includes(five));
        assert!(!five.includes(any));
        assert!(five.is_const());
        assert_eq!(
            Tnum::range(0, 255),
            Tnum {
                value: 0,
                mask: 0xff
            }
        );
        assert_eq!(five.intersect(Tnum::constant(6)), None);
        assert_eq!(five.mul(Tnum::constant(7)), Tnum::constant(35));
    }
}
