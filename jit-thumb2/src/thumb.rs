//! The Thumb-2 instructions the translation emits: one type, [`Ins`], an encoder and a
//! decoder written separately from the ARMv7-M Architecture Reference Manual's bit layouts.
//!
//! Every instruction is a 32-bit encoding except `blx r12` and `nop`, which are 16-bit and
//! always emitted together (`blx r12; nop`), so every instruction of the code starts at a
//! multiple of 4 bytes: the check needs no table of boundaries.

/// An ARM core register, 0 to 15 (13 is sp, 14 lr, 15 pc).
pub(crate) type R = u8;

/// The stack pointer.
pub(crate) const SP: R = 13;
/// The link register.
pub(crate) const LR: R = 14;
/// The program counter (also the "no register" field of `mov`, `mvn`, compares and tests).
pub(crate) const PC: R = 15;

/// Data-processing operations, by their 4-bit `op` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dp {
    And = 0,
    Bic = 1,
    /// With `rn = 15`: `mov`.
    Orr = 2,
    /// With `rn = 15`: `mvn`.
    Orn = 3,
    Eor = 4,
    Add = 8,
    Adc = 10,
    Sbc = 11,
    Sub = 13,
    Rsb = 14,
}

impl Dp {
    fn from_bits(b: u16) -> Option<Dp> {
        Some(match b {
            0 => Dp::And,
            1 => Dp::Bic,
            2 => Dp::Orr,
            3 => Dp::Orn,
            4 => Dp::Eor,
            8 => Dp::Add,
            10 => Dp::Adc,
            11 => Dp::Sbc,
            13 => Dp::Sub,
            14 => Dp::Rsb,
            _ => return None,
        })
    }
}

/// Shift kinds (rotations are never emitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sh {
    Lsl = 0,
    Lsr = 1,
    Asr = 2,
}

impl Sh {
    fn from_bits(b: u16) -> Option<Sh> {
        Some(match b {
            0 => Sh::Lsl,
            1 => Sh::Lsr,
            2 => Sh::Asr,
            _ => return None,
        })
    }
}

/// Branch conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Eq = 0,
    Ne = 1,
    Hs = 2,
    Lo = 3,
    Mi = 4,
    Pl = 5,
    Hi = 8,
    Ls = 9,
    Ge = 10,
    Lt = 11,
    Gt = 12,
    Le = 13,
}

impl Cond {
    fn from_bits(b: u16) -> Option<Cond> {
        Some(match b {
            0 => Cond::Eq,
            1 => Cond::Ne,
            2 => Cond::Hs,
            3 => Cond::Lo,
            4 => Cond::Mi,
            5 => Cond::Pl,
            8 => Cond::Hi,
            9 => Cond::Ls,
            10 => Cond::Ge,
            11 => Cond::Lt,
            12 => Cond::Gt,
            13 => Cond::Le,
            _ => return None,
        })
    }
}

/// Memory access widths of single loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    B = 0,
    H = 1,
    W = 2,
}

/// One instruction. Branch offsets are in bytes from the instruction's address plus 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ins {
    /// `op{s} rd, rn, rm, sh #n` (n 0 to 31 for lsl, 1 to 32 otherwise; lsl #0 is no shift).
    /// rd = 15 with s: `cmp`/`tst`; rn = 15 with orr/orn: `mov`/`mvn`.
    DpReg {
        op: Dp,
        s: bool,
        rd: R,
        rn: R,
        rm: R,
        sh: Sh,
        n: u8,
    },
    /// `op{s} rd, rn, #imm` with a modified-immediate constant (see [`modified_imm`]).
    DpImm {
        op: Dp,
        s: bool,
        rd: R,
        rn: R,
        imm: u32,
    },
    /// `movw rd, #imm16`.
    Movw { rd: R, imm: u16 },
    /// `movt rd, #imm16`.
    Movt { rd: R, imm: u16 },
    /// `lsl/lsr/asr rd, rn, rm` (count from rm's low byte).
    ShReg { sh: Sh, rd: R, rn: R, rm: R },
    /// `mul rd, rn, rm`.
    Mul { rd: R, rn: R, rm: R },
    /// `mla rd, rn, rm, ra` (rd = ra + rn * rm).
    Mla { rd: R, rn: R, rm: R, ra: R },
    /// `mls rd, rn, rm, ra` (rd = ra - rn * rm).
    Mls { rd: R, rn: R, rm: R, ra: R },
    /// `umull lo, hi, rn, rm`.
    Umull { lo: R, hi: R, rn: R, rm: R },
    /// `udiv rd, rn, rm` or `sdiv`.
    Div { signed: bool, rd: R, rn: R, rm: R },
    /// `rev rd, rm` or `rev16 rd, rm`.
    Rev { half: bool, rd: R, rm: R },
    /// `sxtb`, `sxth`, `uxtb`, `uxth` (no rotation).
    Ext {
        signed: bool,
        half: bool,
        rd: R,
        rm: R,
    },
    /// `ldr{s}{b,h}` / `str{b,h}` `rt, [rn, #off]`, off -255 to 4095.
    Mem {
        load: bool,
        signed: bool,
        w: Width,
        rt: R,
        rn: R,
        off: i32,
    },
    /// `ldrd`/`strd` `rt, rt2, [rn, #off]`, off 0 to 1020 in steps of 4.
    Dual {
        load: bool,
        rt: R,
        rt2: R,
        rn: R,
        off: u16,
    },
    /// `push.w {list}` (at least two registers, no sp or pc).
    Push(u16),
    /// `pop.w {list}` (at least two registers, no sp; not both lr and pc).
    Pop(u16),
    /// `b.w`.
    B(i32),
    /// `b<cond>.w`.
    Bcc(Cond, i32),
    /// `bl`.
    Bl(i32),
    /// `ldrex rt, [rn]`.
    Ldrex { rt: R, rn: R },
    /// `strex rd, rt, [rn]` (rd = 0 when the store happened).
    Strex { rd: R, rt: R, rn: R },
    /// `dmb sy`.
    Dmb,
    /// `blx r12` (16-bit).
    BlxR12,
    /// `nop` (16-bit).
    Nop,
}

/// The 12-bit `i:imm3:imm8` field of a modified-immediate constant for `v`, if it has one.
pub(crate) fn modified_imm(v: u32) -> Option<u16> {
    let b = v & 0xff;
    if v == b {
        return Some(b as u16);
    }
    if v == b * 0x0001_0001 {
        return Some(0x100 | b as u16);
    }
    let b1 = (v >> 8) & 0xff;
    if v == b1 * 0x0100_0100 {
        return Some(0x200 | b1 as u16);
    }
    if v == b * 0x0101_0101 {
        return Some(0x300 | b as u16);
    }
    // An 8-bit value with its top bit set, rotated right by 8 to 31: such a rotation never
    // wraps, so the value is eight bits whose top one is `v`'s highest set bit, at bits k to
    // k + 7 with k = 1 to 24 (rotation 32 - k).
    let top = 31 - v.leading_zeros();
    let k = top.checked_sub(7).filter(|k| (1..=24).contains(k))?;
    if v & ((1u32 << k) - 1) != 0 {
        return None;
    }
    Some((((32 - k) as u16) << 7) | ((v >> k) as u16 & 0x7f))
}

/// The value of a 12-bit modified-immediate field.
fn modified_value(f: u16) -> u32 {
    let b = (f & 0xff) as u32;
    if f & 0xc00 == 0 {
        match (f >> 8) & 3 {
            0 => b,
            1 => b * 0x0001_0001,
            2 => b * 0x0100_0100,
            _ => b * 0x0101_0101,
        }
    } else {
        (0x80 | (f & 0x7f) as u32).rotate_right((f >> 7) as u32)
    }
}

/// The halfwords of an instruction: the first and, for 32-bit encodings, the second. `None`
/// when an operand does not fit its field (an emitter bug, reported as an error).
pub(crate) fn encode(i: Ins) -> Option<(u16, Option<u16>)> {
    let r = |x: R| -> Option<u16> { (x < 16).then_some(x as u16) };
    let w = |a: u16, b: u16| Some((a, Some(b)));
    match i {
        Ins::DpReg {
            op,
            s,
            rd,
            rn,
            rm,
            sh,
            n,
        } => {
            let n = match (sh, n) {
                (Sh::Lsl, 0..=31) => n,
                (Sh::Lsr | Sh::Asr, 1..=31) => n,
                (Sh::Lsr | Sh::Asr, 32) => 0,
                _ => return None,
            } as u16;
            w(
                0xea00 | (op as u16) << 5 | u16::from(s) << 4 | r(rn)?,
                (n >> 2) << 12 | r(rd)? << 8 | (n & 3) << 6 | (sh as u16) << 4 | r(rm)?,
            )
        }
        Ins::DpImm { op, s, rd, rn, imm } => {
            let f = modified_imm(imm)?;
            w(
                0xf000 | (f >> 11) << 10 | (op as u16) << 5 | u16::from(s) << 4 | r(rn)?,
                ((f >> 8) & 7) << 12 | r(rd)? << 8 | (f & 0xff),
            )
        }
        Ins::Movw { rd, imm } | Ins::Movt { rd, imm } => {
            let base = if matches!(i, Ins::Movw { .. }) {
                0xf240
            } else {
                0xf2c0
            };
            w(
                base | ((imm >> 11) & 1) << 10 | imm >> 12,
                ((imm >> 8) & 7) << 12 | r(rd)? << 8 | (imm & 0xff),
            )
        }
        Ins::ShReg { sh, rd, rn, rm } => w(
            0xfa00 | (sh as u16) << 5 | r(rn)?,
            0xf000 | r(rd)? << 8 | r(rm)?,
        ),
        Ins::Mul { rd, rn, rm } => w(0xfb00 | r(rn)?, 0xf000 | r(rd)? << 8 | r(rm)?),
        Ins::Mla { rd, rn, rm, ra } if ra != PC => {
            w(0xfb00 | r(rn)?, r(ra)? << 12 | r(rd)? << 8 | r(rm)?)
        }
        Ins::Mla { .. } => None,
        Ins::Mls { rd, rn, rm, ra } => {
            w(0xfb00 | r(rn)?, r(ra)? << 12 | r(rd)? << 8 | 0x10 | r(rm)?)
        }
        Ins::Umull { lo, hi, rn, rm } => w(0xfba0 | r(rn)?, r(lo)? << 12 | r(hi)? << 8 | r(rm)?),
        Ins::Div { signed, rd, rn, rm } => w(
            if signed { 0xfb90 } else { 0xfbb0 } | r(rn)?,
            0xf0f0 | r(rd)? << 8 | r(rm)?,
        ),
        Ins::Rev { half, rd, rm } => w(
            0xfa90 | r(rm)?,
            0xf080 | u16::from(half) << 4 | r(rd)? << 8 | r(rm)?,
        ),
        Ins::Ext {
            signed,
            half,
            rd,
            rm,
        } => {
            let hw1 = match (signed, half) {
                (true, true) => 0xfa0f,
                (false, true) => 0xfa1f,
                (true, false) => 0xfa4f,
                (false, false) => 0xfa5f,
            };
            w(hw1, 0xf080 | r(rd)? << 8 | r(rm)?)
        }
        Ins::Mem {
            load,
            signed,
            w: width,
            rt,
            rn,
            off,
        } => {
            if rt == PC || rn == PC || (signed && (!load || width == Width::W)) {
                return None;
            }
            let hw1 = u16::from(signed) << 8 | (width as u16) << 5 | u16::from(load) << 4 | r(rn)?;
            match off {
                0..=4095 => w(0xf880 | hw1, r(rt)? << 12 | off as u16),
                -255..=-1 => w(0xf800 | hw1, r(rt)? << 12 | 0xc00 | (-off) as u16),
                _ => None,
            }
        }
        Ins::Dual {
            load,
            rt,
            rt2,
            rn,
            off,
        } => {
            if off % 4 != 0 || off > 1020 {
                return None;
            }
            w(
                0xe9c0 | u16::from(load) << 4 | r(rn)?,
                r(rt)? << 12 | r(rt2)? << 8 | (off / 4),
            )
        }
        Ins::Push(list) => {
            (list & 0xa000 == 0 && list.count_ones() >= 2).then_some((0xe92d, Some(list)))
        }
        Ins::Pop(list) => (list & 0x2000 == 0 && list & 0xc000 != 0xc000 && list.count_ones() >= 2)
            .then_some((0xe8bd, Some(list))),
        Ins::B(off) | Ins::Bl(off) => {
            if off % 2 != 0 || !(-(1 << 24)..(1 << 24)).contains(&off) {
                return None;
            }
            let v = (off >> 1) as u32;
            let s = (v >> 23) & 1;
            let i1 = (v >> 22) & 1;
            let i2 = (v >> 21) & 1;
            let j1 = (i1 ^ 1) ^ s;
            let j2 = (i2 ^ 1) ^ s;
            let link = matches!(i, Ins::Bl(_));
            w(
                0xf000 | (s as u16) << 10 | ((v >> 11) & 0x3ff) as u16,
                if link { 0xd000 } else { 0x9000 }
                    | (j1 as u16) << 13
                    | (j2 as u16) << 11
                    | (v & 0x7ff) as u16,
            )
        }
        Ins::Bcc(c, off) => {
            if off % 2 != 0 || !(-(1 << 20)..(1 << 20)).contains(&off) {
                return None;
            }
            let v = (off >> 1) as u32;
            let s = (v >> 19) & 1;
            let j2 = (v >> 18) & 1;
            let j1 = (v >> 17) & 1;
            w(
                0xf000 | (s as u16) << 10 | (c as u16) << 6 | ((v >> 11) & 0x3f) as u16,
                0x8000 | (j1 as u16) << 13 | (j2 as u16) << 11 | (v & 0x7ff) as u16,
            )
        }
        Ins::Ldrex { rt, rn } => w(0xe850 | r(rn)?, r(rt)? << 12 | 0x0f00),
        Ins::Strex { rd, rt, rn } => w(0xe840 | r(rn)?, r(rt)? << 12 | r(rd)? << 8),
        Ins::Dmb => w(0xf3bf, 0x8f5f),
        Ins::BlxR12 => Some((0x47e0, None)),
        Ins::Nop => Some((0xbf00, None)),
    }
}

/// Decodes the instruction starting with halfword `h1` (`h2` the next one, if any): the
/// instruction and its length in bytes, or `None` for anything outside the set above.
pub(crate) fn decode(h1: u16, h2: Option<u16>) -> Option<(Ins, usize)> {
    match h1 {
        0x47e0 => return Some((Ins::BlxR12, 2)),
        0xbf00 => return Some((Ins::Nop, 2)),
        _ => {}
    }
    if !matches!(h1 >> 11, 0b11101..=0b11111) {
        return None;
    }
    let h2 = h2?;
    let rn = (h1 & 0xf) as R;
    let rd = ((h2 >> 8) & 0xf) as R;
    let rm = (h2 & 0xf) as R;
    let hi4 = (h2 >> 12) as R;
    let ins = if (h1, h2) == (0xf3bf, 0x8f5f) {
        Ins::Dmb
    } else if h1 & 0xf800 == 0xf000 && h2 & 0x8000 != 0 {
        // Branches.
        match h2 & 0xd000 {
            0x8000 => {
                let cond = Cond::from_bits((h1 >> 6) & 0xf)?;
                let s = ((h1 >> 10) & 1) as u32;
                let j1 = ((h2 >> 13) & 1) as u32;
                let j2 = ((h2 >> 11) & 1) as u32;
                let v = s << 19
                    | j2 << 18
                    | j1 << 17
                    | ((h1 & 0x3f) as u32) << 11
                    | (h2 & 0x7ff) as u32;
                let off = ((v << 12) as i32) >> 11;
                Ins::Bcc(cond, off)
            }
            0x9000 | 0xd000 => {
                let s = ((h1 >> 10) & 1) as u32;
                let j1 = ((h2 >> 13) & 1) as u32;
                let j2 = ((h2 >> 11) & 1) as u32;
                let i1 = (j1 ^ s) ^ 1;
                let i2 = (j2 ^ s) ^ 1;
                let v = s << 23
                    | i1 << 22
                    | i2 << 21
                    | ((h1 & 0x3ff) as u32) << 11
                    | (h2 & 0x7ff) as u32;
                let off = ((v << 8) as i32) >> 7;
                if h2 & 0xd000 == 0xd000 {
                    Ins::Bl(off)
                } else {
                    Ins::B(off)
                }
            }
            _ => return None,
        }
    } else if h1 & 0xfa00 == 0xf000 && h2 & 0x8000 == 0 {
        let f = ((h1 >> 10) & 1) << 11 | ((h2 >> 12) & 7) << 8 | (h2 & 0xff);
        Ins::DpImm {
            op: Dp::from_bits((h1 >> 5) & 0xf)?,
            s: h1 & 0x10 != 0,
            rd,
            rn,
            imm: modified_value(f),
        }
    } else if h1 & 0xfbf0 == 0xf240 || h1 & 0xfbf0 == 0xf2c0 {
        if h2 & 0x8000 != 0 {
            return None;
        }
        let imm = (h1 & 0xf) << 12 | ((h1 >> 10) & 1) << 11 | ((h2 >> 12) & 7) << 8 | (h2 & 0xff);
        if h1 & 0xfbf0 == 0xf240 {
            Ins::Movw { rd, imm }
        } else {
            Ins::Movt { rd, imm }
        }
    } else if h1 & 0xfe00 == 0xea00 {
        if h2 & 0x8000 != 0 {
            return None;
        }
        let sh = Sh::from_bits((h2 >> 4) & 3)?;
        let mut n = (((h2 >> 12) & 7) << 2 | ((h2 >> 6) & 3)) as u8;
        if n == 0 && sh != Sh::Lsl {
            n = 32;
        }
        Ins::DpReg {
            op: Dp::from_bits((h1 >> 5) & 0xf)?,
            s: h1 & 0x10 != 0,
            rd,
            rn,
            rm,
            sh,
            n,
        }
    } else if h1 & 0xff90 == 0xfa00 && h2 & 0xf0f0 == 0xf000 {
        Ins::ShReg {
            sh: Sh::from_bits((h1 >> 5) & 3)?,
            rd,
            rn,
            rm,
        }
    } else if matches!(h1, 0xfa0f | 0xfa1f | 0xfa4f | 0xfa5f) && h2 & 0xf0f0 == 0xf080 {
        Ins::Ext {
            signed: h1 & 0x10 == 0,
            half: h1 & 0x40 == 0,
            rd,
            rm,
        }
    } else if h1 & 0xfff0 == 0xfa90 && h2 & 0xf0e0 == 0xf080 && rm == rn {
        Ins::Rev {
            half: h2 & 0x10 != 0,
            rd,
            rm,
        }
    } else if h1 & 0xfff0 == 0xfb00 {
        match ((h2 >> 4) & 0xf, hi4) {
            (0, 15) => Ins::Mul { rd, rn, rm },
            (0, ra) => Ins::Mla { rd, rn, rm, ra },
            (1, ra) => Ins::Mls { rd, rn, rm, ra },
            _ => return None,
        }
    } else if h1 & 0xfff0 == 0xfba0 && h2 & 0xf0 == 0 {
        Ins::Umull {
            lo: hi4,
            hi: rd,
            rn,
            rm,
        }
    } else if (h1 & 0xfff0 == 0xfb90 || h1 & 0xfff0 == 0xfbb0) && h2 & 0xf0f0 == 0xf0f0 {
        Ins::Div {
            signed: h1 & 0x20 == 0,
            rd,
            rn,
            rm,
        }
    } else if h1 & 0xfe00 == 0xf800 {
        let signed = h1 & 0x100 != 0;
        let load = h1 & 0x10 != 0;
        let w = match (h1 >> 5) & 3 {
            0 => Width::B,
            1 => Width::H,
            2 => Width::W,
            _ => return None,
        };
        let off = if h1 & 0x80 != 0 {
            (h2 & 0xfff) as i32
        } else if h2 & 0xf00 == 0xc00 && h2 & 0xff != 0 {
            -((h2 & 0xff) as i32)
        } else {
            return None;
        };
        if hi4 == PC || rn == PC || (signed && (!load || w == Width::W)) {
            return None;
        }
        Ins::Mem {
            load,
            signed,
            w,
            rt: hi4,
            rn,
            off,
        }
    } else if h1 & 0xffe0 == 0xe9c0 {
        Ins::Dual {
            load: h1 & 0x10 != 0,
            rt: hi4,
            rt2: rd,
            rn,
            off: (h2 & 0xff) * 4,
        }
    } else if h1 & 0xfff0 == 0xe850 && h2 & 0x0fff == 0x0f00 {
        Ins::Ldrex { rt: hi4, rn }
    } else if h1 & 0xfff0 == 0xe840 && h2 & 0xff == 0 {
        Ins::Strex { rd, rt: hi4, rn }
    } else if h1 == 0xe92d {
        Ins::Push(h2)
    } else if h1 == 0xe8bd {
        Ins::Pop(h2)
    } else {
        return None;
    };
    // Only what `encode` produces: re-encoding must give the same halfwords.
    (encode(ins)? == (h1, Some(h2))).then_some((ins, 4))
}
