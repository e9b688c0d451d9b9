//! Arithmetic with RFC 9669 semantics, shared by the interpreter and, as the reference, by the
//! JIT's tests: division by zero gives 0, modulo by zero leaves the dividend, signed overflow
//! wraps, shift counts are masked, 32-bit results are zero-extended.

// BPF arithmetic wraps by definition (RFC 9669): everything here is `wrapping_*`, and the
// signed `wrapping_div`/`wrapping_rem` run only after their divisor was tested non-zero.
#![allow(clippy::arithmetic_side_effects)]

/// `dst / src`, unsigned, 64-bit.
#[inline(always)]
pub fn udiv64(dst: u64, src: u64) -> u64 {
    dst.checked_div(src).unwrap_or(0)
}

/// `dst / src`, unsigned, 32-bit.
#[inline(always)]
pub fn udiv32(dst: u64, src: u64) -> u64 {
    (dst as u32).checked_div(src as u32).unwrap_or(0) as u64
}

/// `dst % src`, unsigned, 64-bit.
#[inline(always)]
pub fn umod64(dst: u64, src: u64) -> u64 {
    dst.checked_rem(src).unwrap_or(dst)
}

/// `dst % src`, unsigned, 32-bit.
#[inline(always)]
pub fn umod32(dst: u64, src: u64) -> u64 {
    let d = dst as u32;
    d.checked_rem(src as u32).unwrap_or(d) as u64
}

/// `dst s/ src`, signed, 64-bit (`INT_MIN s/ -1` wraps to `INT_MIN`).
#[inline(always)]
pub fn sdiv64(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i64, src as i64);
    if s == 0 {
        0
    } else {
        d.wrapping_div(s) as u64
    }
}

/// `dst s/ src`, signed, 32-bit.
#[inline(always)]
pub fn sdiv32(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i32, src as i32);
    if s == 0 {
        0
    } else {
        d.wrapping_div(s) as u32 as u64
    }
}

/// `dst s% src`, signed, 64-bit (result takes the sign of the dividend).
#[inline(always)]
pub fn smod64(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i64, src as i64);
    if s == 0 {
        dst
    } else {
        d.wrapping_rem(s) as u64
    }
}

/// `dst s% src`, signed, 32-bit.
#[inline(always)]
pub fn smod32(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i32, src as i32);
    if s == 0 {
        d as u32 as u64
    } else {
        d.wrapping_rem(s) as u32 as u64
    }
}

/// Sign-extending move: the low `bits` (8, 16 or 32) of `src`, sign-extended to 64 bits.
#[inline(always)]
pub fn sext(src: u64, bits: i16) -> u64 {
    match bits {
        8 => src as i8 as i64 as u64,
        16 => src as i16 as i64 as u64,
        _ => src as i32 as i64 as u64,
    }
}

/// `le16/32/64`: convert from little-endian to host order, truncated to `width` bits.
#[inline(always)]
pub fn to_le(dst: u64, width: i32) -> u64 {
    match width {
        16 => u16::from_le(dst as u16) as u64,
        32 => u32::from_le(dst as u32) as u64,
        _ => u64::from_le(dst),
    }
}

/// `be16/32/64`: convert from big-endian to host order, truncated to `width` bits.
#[inline(always)]
pub fn to_be(dst: u64, width: i32) -> u64 {
    match width {
        16 => u16::from_be(dst as u16) as u64,
        32 => u32::from_be(dst as u32) as u64,
        _ => u64::from_be(dst),
    }
}

/// `bswap16/32/64`: unconditional byte swap, truncated to `width` bits.
#[inline(always)]
pub fn bswap(dst: u64, width: i32) -> u64 {
    match width {
        16 => (dst as u16).swap_bytes() as u64,
        32 => (dst as u32).swap_bytes() as u64,
        _ => dst.swap_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_edge_cases_follow_the_rfc() {
        assert_eq!(udiv64(7, 0), 0);
        assert_eq!(umod64(7, 0), 7);
        assert_eq!(udiv32(u64::MAX, 2), 0x7fff_ffff);
        assert_eq!(umod32(0xffff_ffff_0000_0009, 0), 9);
        assert_eq!(sdiv64(i64::MIN as u64, u64::MAX), i64::MIN as u64);
        assert_eq!(smod64(i64::MIN as u64, u64::MAX), 0);
        assert_eq!(sdiv32(i32::MIN as u32 as u64, u32::MAX as u64), 0x8000_0000);
        assert_eq!(smod32(i32::MIN as u32 as u64, u32::MAX as u64), 0);
        assert_eq!(smod64((-7i64) as u64, 2), (-1i64) as u64);
        assert_eq!(sdiv64((-7i64) as u64, 2), (-3i64) as u64);
        assert_eq!(smod32((-7i32) as u32 as u64, 0), 0xffff_fff9);
    }

    #[test]
    fn byte_order_and_sign_extension() {
        assert_eq!(bswap(0x1122, 16), 0x2211);
        assert_eq!(bswap(0x1122_3344_5566_7788, 32), 0x8877_6655);
        assert_eq!(to_le(0x1122_3344_5566_7788, 16), 0x7788);
        assert_eq!(to_be(0x1122_3344_5566_7788, 64), 0x8877_6655_4433_2211);
        assert_eq!(sext(0x80, 8), 0xffff_ffff_ffff_ff80);
        assert_eq!(sext(0x7fff, 16), 0x7fff);
        assert_eq!(sext(0x8000_0000, 32), 0xffff_ffff_8000_0000);
    }
}
