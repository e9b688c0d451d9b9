//! Differential tests (feature `emulator`): generated programs, verified, compiled, and run in
//! an ARMv7-M emulator (armagnac) against the interpreter on the host. r0 (or the trap) and
//! the memory buffer afterwards must agree.
//!
//! armagnac is a pure-Rust emulator of ARMv6-M, ARMv7-M and (most of) ARMv7E-M, with no
//! `unsafe` code and no system library: it builds wherever cargo does, which keeps the default
//! `cargo test` free of anything to install (the feature is off by default). Unicorn, the
//! better-known choice, is QEMU's C code behind bindings and needs a C toolchain and cmake to
//! build. armagnac is young (releases since 2025), so a disagreement is first checked on the
//! MPS2 board under QEMU, which runs the conformance suite on the same code.
//!
//! The emulated machine: code at `CODE`, the run state at `STATE` (the 64-bit atomics' lock
//! word, at the host stand-in address `0x2000_0100`, falls inside it), the BPF stack below
//! `STACK_TOP`, the program's memory at `MEM`, a native stack below `SP_TOP`. The two routines
//! are hooks at their stand-in addresses: `support` runs on a host copy of the state; programs
//! calling helpers are not generated. The entry's return address is a hook too.

use super::data::parse_data;
use crate::native::{routines, test_support::support_on, ExecRegion};
use crate::program::trap_of;
use crate::state::{off, JitState};
use crate::thumb::{decode, Ins, Sh};
use crate::{compile, JitWorkspace};
use armagnac::core::{Config, Emulator, Event, Processor, RunOptions};
use armagnac::registers::RegisterIndex;
use nanobpf_core::{
    helpers, Context, Insn, Interpreter, NoPlatform, ProgramType, Runtime, Stack, Trap,
};
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};
use std::boxed::Box;
use std::prelude::rust_2021::*;
use std::vec;

const CODE: u32 = 0x1000_0000;
const STATE: u32 = 0x2000_0000;
const STACK_TOP: u32 = 0x3000_1000;
const MEM: u32 = 0x4000_0000;
const SP_TOP: u32 = 0x5000_2000;
const RETURN: u32 = 0x0007_0000;
/// The memory buffer: past 4,095 bytes, so that large offsets take the computed-address path.
const MEM_LEN: usize = 4200;

#[repr(align(4))]
struct Code([u8; 1 << 16]);

/// What a run gives: r0 or the trap, and the memory buffer afterwards.
type Outcome = (Result<u64, Trap>, Vec<u8>);

/// Runs `code` (entered at `entry`) in the emulator over a copy of `mem`.
fn emulate(code: &[u8], entry: u32, mem: &[u8], budget: Option<u64>) -> Outcome {
    let mut p = Processor::new(Config::v7em());
    p.map(CODE, code).expect("code");
    p.map_ram(STATE, 0x1000).expect("state");
    p.map_ram(STACK_TOP - 0x1000, 0x1000).expect("stack");
    p.map(MEM, mem).expect("memory");
    p.map_ram(SP_TOP - 0x2000, 0x2000).expect("native stack");
    let r = routines();
    p.hook_code((r.helper & !1) as usize..(r.helper & !1) as usize + 2);
    p.hook_code((r.support & !1) as usize..(r.support & !1) as usize + 2);
    p.hook_code(RETURN as usize..RETURN as usize + 2);
    // The state as `JitProgram::run` prepares it.
    let put64 = |p: &mut Processor, at: u16, v: u64| {
        p.write_bytes_iface(STATE + at as u32, &v.to_le_bytes())
            .expect("state write");
    };
    put64(&mut p, crate::state::reg(1), MEM as u64);
    put64(&mut p, crate::state::reg(2), mem.len() as u64);
    put64(&mut p, crate::state::reg(10), STACK_TOP as u64);
    put64(&mut p, off::BUDGET, budget.unwrap_or(u64::MAX));
    p.registers.r0 = STATE;
    p.registers.lr = RETURN | 1;
    p.set_sp(SP_TOP);
    p.set_pc(CODE + entry);
    let get64 = |p: &mut Processor, at: u16| -> u64 {
        let b = p
            .read_bytes_iface(STATE + at as u32, 8)
            .expect("state read");
        u64::from_le_bytes(b.try_into().expect("8 bytes"))
    };
    let get32 = |p: &mut Processor, at: u16| get64(p, at) as u32;
    for _ in 0..10_000_000 {
        if emulator_gap(&mut p, code) {
            continue;
        }
        match p.run(RunOptions::new().gas(1)) {
            Ok(None) => {}
            Ok(Some(Event::Hook { address })) if address == RETURN => {
                let r0 = p.registers.r0 as u64 | (p.registers.r1 as u64) << 32;
                let trap = get32(&mut p, off::TRAP);
                let mem = p
                    .read_bytes_iface(MEM, mem.len() as u32)
                    .expect("memory read");
                return (
                    if trap != 0 {
                        Err(trap_of(trap))
                    } else {
                        Ok(r0)
                    },
                    mem,
                );
            }
            Ok(Some(Event::Hook { address })) if address == r.support & !1 => {
                let mut st = JitState::empty();
                st.a = get64(&mut p, off::A);
                st.b = get64(&mut p, off::B);
                let v = support_on(&mut st, p.registers.r1);
                assert_eq!(st.stop, 0, "support stopped the run");
                p.registers.r0 = v as u32;
                p.registers.r1 = (v >> 32) as u32;
                let lr = p.registers.lr;
                p.set_pc(lr & !1);
            }
            other => std::panic!("emulation stopped: {:?}", other.map(|e| e.is_some())),
        }
    }
    std::panic!("no return");
}

/// Executes the next instruction here when armagnac 0.3 would get it wrong: `sdiv` of
/// INT_MIN by -1 (it divides with Rust's `/`, which panics; the architecture gives INT_MIN)
/// and `asr` by a register holding 32 or more (it asserts the count is below 32; the
/// architecture fills with the sign). Returns whether it did.
fn emulator_gap(p: &mut Processor, code: &[u8]) -> bool {
    let pc = p.pc();
    let Some(at) = pc.checked_sub(CODE).map(|a| a as usize) else {
        return false;
    };
    let half = |o: usize| code.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let Some(h1) = half(at) else {
        return false;
    };
    let reg = |p: &Processor, r: u8| p[RegisterIndex::from(r as u32)];
    let result = match decode(h1, half(at + 2)) {
        Some((
            Ins::Div {
                signed: true,
                rd,
                rn,
                rm,
            },
            _,
        )) if reg(p, rn) == 0x8000_0000 && reg(p, rm) == u32::MAX => Some((rd, 0x8000_0000)),
        Some((
            Ins::ShReg {
                sh: Sh::Asr,
                rd,
                rn,
                rm,
            },
            _,
        )) if reg(p, rm) & 0xff >= 32 => Some((rd, ((reg(p, rn) as i32) >> 31) as u32)),
        _ => None,
    };
    match result {
        Some((rd, v)) => {
            p.set(RegisterIndex::from(rd as u32), v);
            p.set_pc(pc + 4);
            true
        }
        None => false,
    }
}

/// A small xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn imm(&mut self) -> i32 {
        match self.below(4) {
            0 => self.below(64) as i32 - 32,
            1 => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 31, 32, 63, 64]),
            _ => self.next() as i32,
        }
    }
}

/// Registers the generated programs compute with (r1 holds the memory buffer).
const REGS: [u8; 9] = [0, 2, 3, 4, 5, 6, 7, 8, 9];

/// One generated program as a list of units: an instruction (or `lddw` pair), or a forward
/// jump over the next `skip` units.
enum Unit {
    Insns(Vec<Insn>),
    Jump {
        opcode: u8,
        dst: u8,
        src: u8,
        imm: i32,
        skip: usize,
    },
    /// A bpf-to-bpf call of the subprogram that starts at unit `target`.
    Call {
        target: usize,
    },
}

fn generate(rng: &mut Rng, len: usize) -> Vec<Insn> {
    let mut units = Vec::new();
    for &r in &REGS {
        let v = rng.next();
        units.push(Unit::Insns(if rng.below(2) == 0 {
            vec![Insn::new(0xb7, r, 0, 0, v as i32)]
        } else {
            vec![
                Insn::new(0x18, r, 0, 0, v as i32),
                Insn::new(0, 0, 0, 0, (v >> 32) as i32),
            ]
        }));
    }
    // Stack slots fully written so far (8-byte slots below r10, over the whole 512-byte frame,
    // so that offsets below -255 take the translation's computed-address path).
    let mut written = [false; 64];
    for _ in 0..len {
        let dst = rng.pick(&REGS);
        let src = rng.pick(&REGS);
        let unit = match rng.below(10) {
            0..=4 => {
                let class = rng.pick(&[0x04u8, 0x07]);
                let op = rng.pick(&[
                    0x00u8, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0,
                    0xd0,
                ]);
                let x = if op == 0x80 || op == 0xd0 {
                    0
                } else {
                    rng.pick(&[0u8, 8])
                };
                let mut insn = Insn::new(
                    class | op | x,
                    dst,
                    if x != 0 { src } else { 0 },
                    0,
                    rng.imm(),
                );
                match op {
                    0x30 | 0x90 => insn.off = rng.pick(&[0, 1]),
                    0xb0 if x != 0 => {
                        insn.off = if class == 0x07 {
                            rng.pick(&[0, 8, 16, 32])
                        } else {
                            rng.pick(&[0, 8, 16])
                        }
                    }
                    0xd0 => {
                        insn.imm = rng.pick(&[16, 32, 64]);
                        insn.opcode = rng.pick(&[0xd4u8, 0xdc, 0xd7]);
                    }
                    _ => {}
                }
                if x != 0 || op == 0x80 {
                    insn.imm = 0;
                }
                if matches!(op, 0x60 | 0x70 | 0xc0) && x == 0 {
                    insn.imm &= if class == 0x07 { 63 } else { 31 };
                }
                Unit::Insns(vec![insn])
            }
            5 => {
                let slot = if rng.below(2) == 0 {
                    rng.below(8)
                } else {
                    rng.below(64)
                } as usize;
                written[slot] = true;
                Unit::Insns(vec![Insn::new(0x7b, 10, src, -8 * (slot as i16 + 1), 0)])
            }
            6 => {
                let slots: Vec<usize> = (0..64).filter(|&s| written[s]).collect();
                if slots.is_empty() {
                    continue;
                }
                let slot = rng.pick(&slots);
                let (op, size) = rng.pick(&[
                    (0x79u8, 8i16),
                    (0x61, 4),
                    (0x69, 2),
                    (0x71, 1),
                    (0x81, 4),
                    (0x89, 2),
                    (0x91, 1),
                ]);
                let at = -8 * (slot as i16 + 1) + rng.below((8 / size) as u64) as i16 * size;
                Unit::Insns(vec![Insn::new(op, dst, 10, at, 0)])
            }
            7 => {
                // The memory buffer through r1, any width, in bounds.
                let (st, ld, size) = rng.pick(&[
                    (0x7bu8, 0x79u8, 8u64),
                    (0x63, 0x61, 4),
                    (0x6b, 0x69, 2),
                    (0x73, 0x71, 1),
                ]);
                let room = MEM_LEN as u64 - size + 1;
                let at = if rng.below(2) == 0 {
                    rng.below(64)
                } else {
                    room - 1 - rng.below(200)
                } as i16;
                if rng.below(2) == 0 {
                    Unit::Insns(vec![Insn::new(st, 1, src, at, 0)])
                } else {
                    Unit::Insns(vec![Insn::new(ld, dst, 1, at, 0)])
                }
            }
            8 => {
                let slots: Vec<usize> = (0..64).filter(|&s| written[s]).collect();
                if slots.is_empty() {
                    continue;
                }
                let slot = rng.pick(&slots);
                let wide = rng.below(2) == 0;
                let op = rng.pick(&[0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]);
                let at = -8 * (slot as i16 + 1) + if wide { 0 } else { 4 * rng.below(2) as i16 };
                Unit::Insns(vec![Insn::new(
                    if wide { 0xdb } else { 0xc3 },
                    10,
                    src,
                    at,
                    op,
                )])
            }
            _ => {
                let class = rng.pick(&[0x05u8, 0x06]);
                let op = rng.pick(&[
                    0x10u8, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0,
                ]);
                let x = rng.pick(&[0u8, 8]);
                Unit::Jump {
                    opcode: class | op | x,
                    dst,
                    src: if x != 0 { src } else { 0 },
                    imm: if x != 0 { 0 } else { rng.imm() },
                    skip: 1 + rng.below(3) as usize,
                }
            }
        };
        units.push(unit);
    }
    let with_call = rng.below(2) == 0;
    if with_call {
        // The callee is laid out after the exit; r6 to r9 must survive the call, so they are
        // mixed into r0 after it.
        units.push(Unit::Call { target: 0 });
        for (op, r) in [(0x0fu8, 6u8), (0xaf, 7), (0x0f, 8), (0xaf, 9)] {
            units.push(Unit::Insns(vec![Insn::new(op, 0, r, 0, 0)]));
        }
    }
    units.push(Unit::Insns(vec![Insn::new(0x95, 0, 0, 0, 0)]));
    if with_call {
        let start = units.len();
        if let Some(Unit::Call { target }) = units
            .iter_mut()
            .rev()
            .find(|u| matches!(u, Unit::Call { .. }))
        {
            *target = start;
        }
        // The callee: r0 and r6 to r9 start uninitialised; r1 to r5 are the caller's.
        for r in [0u8, 6, 7, 8, 9] {
            units.push(Unit::Insns(vec![Insn::new(0xb7, r, 0, 0, rng.imm())]));
        }
        for _ in 0..4 {
            let op = rng.pick(&[0x0fu8, 0x1f, 0x2f, 0x4f, 0x5f, 0xaf, 0x0c, 0x2c]);
            units.push(Unit::Insns(vec![Insn::new(
                op,
                rng.pick(&REGS),
                rng.pick(&REGS),
                0,
                0,
            )]));
        }
        units.push(Unit::Insns(vec![Insn::new(0x95, 0, 0, 0, 0)]));
    }
    // Lay the units out, then resolve jumps (capped at the final exit).
    let sizes: Vec<usize> = units
        .iter()
        .map(|u| match u {
            Unit::Insns(v) => v.len(),
            Unit::Jump { .. } | Unit::Call { .. } => 1,
        })
        .collect();
    // Jumps of the caller stay before its exit.
    let exit_unit = units
        .iter()
        .position(|u| matches!(u, Unit::Insns(v) if v.first().is_some_and(|i| i.opcode == 0x95)))
        .unwrap_or(units.len() - 1);
    let mut out = Vec::new();
    for (i, u) in units.iter().enumerate() {
        match u {
            Unit::Insns(v) => out.extend(v.iter().copied()),
            Unit::Call { target } => {
                let rel: usize = sizes[i + 1..*target].iter().sum();
                out.push(Insn::new(0x85, 0, 1, 0, rel as i32));
            }
            Unit::Jump {
                opcode,
                dst,
                src,
                imm,
                skip,
            } => {
                let end = (i + 1 + skip).min(exit_unit);
                let off: usize = sizes[i + 1..end].iter().sum();
                out.push(Insn::new(*opcode, *dst, *src, off as i16, *imm));
            }
        }
    }
    out
}

fn interpret(prog: &nanobpf_core::VerifiedProgram<'_>, mem: &[u8], budget: Option<u64>) -> Outcome {
    let mut rt = Runtime::new(helpers::standard(), &NoPlatform);
    if let Some(b) = budget {
        rt = rt.with_budget(b);
    }
    let mut m = mem.to_vec();
    let r =
        Interpreter::with_runtime(rt).run(prog, &mut Context::Memory(&mut m), &mut Stack::new());
    (r, m)
}

fn jit(
    prog: &nanobpf_core::VerifiedProgram<'_>,
    mem: &[u8],
    budget: Option<u64>,
    code: &mut Code,
) -> Outcome {
    let mut rt = Runtime::new(helpers::standard(), &NoPlatform);
    if let Some(b) = budget {
        rt = rt.with_budget(b);
    }
    let mut ws = JitWorkspace::<256>::new();
    let (len, entry) = {
        let p =
            compile(prog, &rt, ExecRegion::for_host_tests(&mut code.0), &mut ws).expect("compiles");
        (p.code_len(), p.entry_offset())
    };
    emulate(&code.0[..len], entry as u32, mem, budget)
}

#[test]
fn generated_programs_agree_with_the_interpreter() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut code = Box::new(Code([0; 1 << 16]));
    let (mut compared, mut rejected, mut calls) = (0, 0, 0);
    for round in 0..2000 {
        let mut insns = generate(&mut rng, 12 + round % 30);
        let mem: Vec<u8> = (0..MEM_LEN).map(|_| rng.next() as u8).collect();
        let env = VerifyTarget::new(
            ProgramType::Memory {
                len: MEM_LEN as u32,
            },
            helpers::standard(),
            nanobpf_core::MapTable::EMPTY,
        );
        let listing = nanobpf_core::Disasm::new(&insns).to_string();
        let prog = match verify(&mut insns, &env, &mut ws) {
            Ok(p) => p,
            Err(e) => {
                let _ = e;
                rejected += 1;
                continue;
            }
        };
        let budget = (round % 3 == 0).then(|| rng.below(40));
        let want = interpret(&prog, &mem, budget);
        let got = jit(&prog, &mem, budget, &mut code);
        assert_eq!(got, want, "round {round}, budget {budget:?}:\n{listing}");
        compared += 1;
        calls += usize::from(prog.insns().iter().any(|i| i.opcode == 0x85));
    }
    std::println!(
        "{compared} programs compared ({calls} with a bpf-to-bpf call), {rejected} rejected by the verifier"
    );
    assert!(calls > 500, "{calls} with calls");
    assert!(compared > 1500, "{compared} compared, {rejected} rejected");
}

#[test]
fn the_conformance_programs_agree_in_the_emulator() {
    let dir = super::conformance::shared().join("conformance/bpf_conformance");
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut code = Box::new(Code([0; 1 << 16]));
    let mut compared = 0;
    for entry in std::fs::read_dir(dir).expect("../shared beside the repository") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "data") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        if parse_data(&text).is_none() {
            continue;
        }
        let (mut insns, mem) = super::conformance::program(&text);
        // Helper calls and legacy packet loads need the run's regions, which the emulated
        // machine does not have.
        if insns.iter().any(|i| {
            i.opcode == 0x85 && i.src() == 0
                || i.opcode == 0x8d
                || matches!(i.opcode & 7, 0) && i.opcode != 0x18
        }) {
            continue;
        }
        let env = VerifyTarget::new(
            ProgramType::Memory {
                len: mem.len() as u32,
            },
            helpers::standard(),
            nanobpf_core::MapTable::EMPTY,
        );
        let prog = verify(&mut insns, &env, &mut ws).expect("verifies");
        let want = interpret(&prog, &mem, None);
        let got = jit(&prog, &mem, None, &mut code);
        assert_eq!(got, want, "{path:?}");
        compared += 1;
    }
    assert!(compared > 200, "{compared} compared");
}
