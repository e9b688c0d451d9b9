//! The code generator: BPF instructions to x86-64 through iced-x86's `CodeAssembler`.
//!
//! Layout of the code of one compilation (one entry program plus the programs its tail calls
//! may reach):
//!
//! ```text
//! entry_0:  push the callee-saved registers the code uses; r12 = state; state.saved_rsp = rsp
//!           r1, r2, r10 from the argument registers (unverified code: zero the rest)
//!           [call body_0; jmp restore]     only with bpf-to-bpf calls (see below)
//! body_0:   translation of program 0
//! entry_1:  ... program 1 ...
//! stubs:    trap_budget, trap_depth, trap_misaligned (write state.trap; jmp epilogue)
//!           ret_zero (r0 = 0; jmp epilogue)
//! epilogue: rsp = state.saved_rsp
//! restore:  pop what the prologue pushed; ret
//! ```
//!
//! The prologue saves rbp (BPF r10) and r12 (the state) always, and rbx, r13, r14 and r15
//! only when some program of the compilation names the BPF register kept there (r6 to r9),
//! padded so that the body runs with rsp 16-byte aligned: `r0 = 0; exit` pushes three
//! registers, not six.
//!
//! When no program of the compilation makes a bpf-to-bpf call, every `exit` leaves the entry
//! function: the body follows the prologue and `exit` is `jmp restore`. Otherwise the prologue
//! `call`s the body, `exit` is `ret` (to the caller's frame, or to the prologue), and the
//! prologue then jumps to `restore`. Either way a normal `exit` reaches `restore` with rsp as
//! the prologue left it: reloading rsp from memory there would make every restoring `pop`
//! wait for a store-to-load round trip. Only traps and `ret_zero`, which may leave from inside
//! bpf-to-bpf calls, go through `epilogue`.
//!
//! **Loop alignment.** The head of every loop (the target of a backward jump) starts a 64-byte
//! line: a loop that fits in one line is then fetched as one, which the CPUs we measured on
//! reward (the checksum benchmark's 42-byte loop runs 1.45x faster when it does not straddle
//! a line at the wrong place). Offsets are known only after assembly, so the code is assembled
//! once without padding, the padding before each head computed from that layout, and the code
//! assembled again with it (see [`align`]). Padding of up to 7 bytes is `nop`s, longer padding
//! a short `jmp` over `nop`s, so entering a loop costs at most one jump.
//!
//! Every program body runs with rsp 16-byte aligned, so helper calls need no adjustment; a
//! bpf-to-bpf call pushes five registers and a return address, which keeps the alignment.
//!
//! **Budget.** When the runtime has a budget, the body is cut into segments: straight-line
//! runs of instructions in which only the last may have an effect beyond registers (a store,
//! an atomic, a call, a legacy packet load, `exit`, a jump). Each segment starts with
//! `sub [state.budget], n; jb trap_budget`. If the budget runs out inside a segment, the
//! interpreter would have executed only register operations of it before trapping, which
//! leave no trace in a trapped run; so trapping at the segment start gives the same outcome
//! (same trap, same memory) as counting instruction by instruction.

mod align;
mod alu;
mod flow;
mod fuse;
mod mem;

#[cfg(test)]
pub(crate) use fuse::merges_any;

use crate::error::{JitError, JitErrorKind};
use crate::native::off;
use crate::options::JitOptions;
use crate::regs::{bpf, STATE, T, X};
use alloc::vec;
use alloc::vec::Vec;
use iced_x86::code_asm::registers::gpr32::eax;
use iced_x86::code_asm::registers::gpr64::*;
use iced_x86::code_asm::{dword_ptr, qword_ptr, AsmRegister64, CodeAssembler, CodeLabel};
use iced_x86::{BlockEncoderOptions, Code, IcedError, Instruction, Mnemonic, Register};

use nanobpf_core::opcode::*;
use nanobpf_core::Insn;
use nanobpf_core::MapTable;

impl From<IcedError> for JitErrorKind {
    fn from(_: IcedError) -> Self {
        JitErrorKind::Assembler
    }
}

/// Result of emitting one piece of code.
pub(crate) type Emit = Result<(), JitErrorKind>;

/// The second operand of an ALU or jump instruction.
#[derive(Clone, Copy)]
pub(crate) enum Src {
    /// A register (a BPF register, or the scratch holding a blinded immediate).
    R(crate::regs::X),
    /// A sign-extended 32-bit immediate.
    I(i32),
}

/// The assembled code of a compilation, before it goes to executable memory.
pub(crate) struct Assembled {
    /// Machine code, position-independent except for the trampoline address.
    pub bytes: Vec<u8>,
    /// Byte offset of each program's entry.
    pub entries: Vec<usize>,
    /// Each emitted instruction: byte offset and mnemonic, in order.
    pub emitted: Vec<(u32, Mnemonic)>,
    /// Whether the code calls the helper trampoline anywhere.
    pub calls_helpers: bool,
}

/// Code generation state shared by all programs of a compilation.
pub(crate) struct Emitter {
    pub(crate) a: CodeAssembler,
    key: Option<u32>,
    metered: bool,
    last_bind: usize,
    /// Set by every emitted call of the helper trampoline.
    pub(crate) calls_helpers: bool,
    pub(crate) epilogue: CodeLabel,
    restore: CodeLabel,
    pub(crate) trap_budget: CodeLabel,
    pub(crate) trap_depth: CodeLabel,
    pub(crate) trap_misaligned: CodeLabel,
    pub(crate) ret_zero: CodeLabel,
    /// Labels of the current program's slots that are jump or call targets.
    pub(crate) labels: Vec<Option<CodeLabel>>,
    /// Loop alignment: the padding planned before each loop head, and where the heads landed.
    align: align::Plan,
    /// The callee-saved registers every entry prologue pushes, in push order.
    saved: Vec<AsmRegister64>,
    /// Whether the programs were verified: BPF r1 to r5 are then dead after a helper call
    /// (the verifier rejects reading them), so the code does not reload them.
    verified: bool,
    /// Whether each program body follows its prologue directly (no program of the compilation
    /// makes a bpf-to-bpf call, so every `exit` leaves the entry function): `exit` is then a
    /// jump to `restore` instead of a `ret` to a `call` in the prologue.
    inline_body: bool,
}

/// The callee-saved x86 registers of BPF r6 to r9, which a prologue saves only when used.
const OPTIONAL_SAVED: [(u8, AsmRegister64); 4] = [(6, rbx), (7, r13), (8, r14), (9, r15)];

/// Whether any of `programs` makes a bpf-to-bpf call.
fn has_local_calls(programs: &[&[Insn]]) -> bool {
    programs
        .iter()
        .flat_map(|p| p.iter())
        .any(|i| i.opcode == CALL && i.src() == CALL_LOCAL)
}

/// The registers an entry prologue saves for `programs`: rbp and r12, the registers of the BPF
/// registers r6 to r9 that any instruction names, and one more when needed for the body to run
/// with rsp 16-byte aligned: an even count when the prologue `call`s the body, an odd count
/// when the body follows it (`inline_body`).
fn saved_registers(programs: &[&[Insn]], inline_body: bool) -> Vec<AsmRegister64> {
    let mut used = [false; 11];
    for insn in programs.iter().flat_map(|p| p.iter()) {
        for r in [insn.dst(), insn.src()] {
            if let Some(u) = used.get_mut(r as usize) {
                *u = true;
            }
        }
    }
    let mut saved = vec![rbp, r12];
    saved.extend(
        OPTIONAL_SAVED
            .iter()
            .filter(|(r, _)| used[*r as usize])
            .map(|&(_, x)| x),
    );
    if saved.len() % 2 == usize::from(!inline_body) {
        // Any register not saved yet: a callee-saved one, or rcx (scratch) when all six are.
        let pad = OPTIONAL_SAVED
            .iter()
            .map(|&(_, x)| x)
            .find(|x| !saved.contains(x))
            .unwrap_or(rcx);
        saved.push(pad);
    }
    saved
}

/// Compiles `programs` (the entry program first) into one block of code, with loop heads
/// aligned (see the module documentation).
///
/// `verified` says that every program passed the verifier, which lets the code skip work
/// for values the verifier proved dead.
pub(crate) fn assemble(
    programs: &[&[Insn]],
    maps: &MapTable<'_>,
    opts: &JitOptions,
    metered: bool,
    verified: bool,
) -> Result<Assembled, JitError> {
    let pass = |plan| assemble_pass(programs, maps, opts, metered, verified, plan);
    let mut pass_now = pass(align::Plan::default())?;
    for _ in 0..MAX_ALIGN_PASSES {
        match pass_now.1.realign(&pass_now.2) {
            Some(plan) => pass_now = pass(plan)?,
            None => break,
        }
    }
    Ok(pass_now.0)
}

/// Assemblies after the first one that loop alignment may take; a plan that still moves
/// after them is kept as it is (alignment is a speed hint, never a correctness matter).
const MAX_ALIGN_PASSES: usize = 3;

/// One assembly of `programs` with the padding of `plan`: the code, the plan with the loop
/// heads' instruction indices filled in, and the byte offset of every emitted instruction.
fn assemble_pass(
    programs: &[&[Insn]],
    maps: &MapTable<'_>,
    opts: &JitOptions,
    metered: bool,
    verified: bool,
    plan: align::Plan,
) -> Result<(Assembled, align::Plan, Vec<u32>), JitError> {
    let whole = |kind| JitError::at(0, kind);
    let mut a = CodeAssembler::new(64).map_err(|e| whole(e.into()))?;
    let inline_body = !has_local_calls(programs);
    let mut e = Emitter {
        epilogue: a.create_label(),
        restore: a.create_label(),
        trap_budget: a.create_label(),
        trap_depth: a.create_label(),
        trap_misaligned: a.create_label(),
        ret_zero: a.create_label(),
        a,
        key: opts.constant_blinding.then_some(opts.blinding_key),
        metered,
        last_bind: usize::MAX,
        calls_helpers: false,
        labels: Vec::new(),
        align: plan,
        saved: saved_registers(programs, inline_body),
        verified,
        inline_body,
    };
    let mut entry_labels = Vec::with_capacity(programs.len());
    for (i, insns) in programs.iter().enumerate() {
        e.align.start_program(i);
        entry_labels.push(e.program(insns, maps)?);
    }
    e.stubs().map_err(whole)?;

    let emitted_codes: Vec<(Code, Mnemonic)> =
        e.a.instructions()
            .iter()
            .map(|i| (i.code(), i.mnemonic()))
            .collect();
    let result =
        e.a.assemble_options(0, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
            .map_err(|_| whole(JitErrorKind::Assembler))?;
    let mut entries = Vec::with_capacity(entry_labels.len());
    for l in &entry_labels {
        let ip = result
            .label_ip(l)
            .map_err(|_| whole(JitErrorKind::Assembler))?;
        entries.push(usize::try_from(ip).map_err(|_| whole(JitErrorKind::TooLarge))?);
    }
    let offsets = result.inner.new_instruction_offsets;
    let mut emitted = Vec::with_capacity(offsets.len());
    for (&o, &(code, mnemonic)) in offsets.iter().zip(&emitted_codes) {
        if code == Code::Zero_bytes {
            continue;
        }
        if o == u32::MAX {
            // The encoder rewrote an instruction (a branch out of rel32 range).
            return Err(whole(JitErrorKind::TooLarge));
        }
        emitted.push((o, mnemonic));
    }
    let assembled = Assembled {
        bytes: result.inner.code_buffer,
        entries,
        emitted,
        calls_helpers: e.calls_helpers,
    };
    Ok((assembled, e.align, offsets))
}

/// Which slots start a metering segment, and how many instructions each segment has.
struct Segments {
    /// Instruction count of the segment starting at each slot (0: not a start).
    len: Vec<u32>,
}

/// Whether `insn` ends a segment: it may have an effect beyond registers, or change control.
fn ends_segment(insn: &Insn) -> bool {
    let class = insn.opcode & 0x07;
    matches!(class, BPF_ST | BPF_STX | BPF_JMP | BPF_JMP32)
        || (class == BPF_LD && insn.opcode != LDDW)
}

/// The slot after `pc` (two slots for an `lddw`).
fn next_pc(insns: &[Insn], pc: usize) -> usize {
    if insns[pc].opcode == LDDW {
        pc + 2
    } else {
        pc + 1
    }
}

/// The target slot of the jump or call at `pc` with relative offset `rel`.
fn target(insns: &[Insn], second: &[bool], pc: usize, rel: i64) -> Result<usize, JitError> {
    let t = (pc as i64 + 1).wrapping_add(rel);
    match usize::try_from(t) {
        Ok(t) if t < insns.len() && !second[t] => Ok(t),
        _ => Err(JitError::at(pc, JitErrorKind::BadTarget)),
    }
}

/// What [`analyse`] finds: jump and call targets, the second slots of `lddw`s, the targets of
/// backward jumps (loop heads), and the metering segments.
struct Analysis {
    targets: Vec<bool>,
    second: Vec<bool>,
    loop_heads: Vec<bool>,
    segments: Segments,
}

/// Jump and call targets of `insns`, the second slots of `lddw`s, loop heads and segments.
fn analyse(insns: &[Insn]) -> Result<Analysis, JitError> {
    let n = insns.len();
    let mut second = vec![false; n];
    let mut pc = 0;
    while pc < n {
        if insns[pc].opcode == LDDW {
            match second.get_mut(pc + 1) {
                Some(s) => *s = true,
                None => return Err(JitError::at(pc, JitErrorKind::Unsupported)),
            }
        }
        pc = next_pc(insns, pc);
    }
    let mut targets = vec![false; n];
    let mut loop_heads = vec![false; n];
    let mut starts = vec![false; n + 2];
    starts[0] = true;
    let mut pc = 0;
    while pc < n {
        let insn = insns[pc];
        let class = insn.opcode & 0x07;
        if class == BPF_JMP || class == BPF_JMP32 {
            let (rel, call) = match insn.opcode {
                JA32 => (Some(insn.imm as i64), false),
                CALL if insn.src() == CALL_LOCAL => (Some(insn.imm as i64), true),
                CALL | CALLX | EXIT => (None, false),
                _ => (Some(insn.off as i64), false),
            };
            if let Some(rel) = rel {
                let t = target(insns, &second, pc, rel)?;
                targets[t] = true;
                starts[t] = true;
                loop_heads[t] |= !call && t <= pc;
            }
        }
        let next = next_pc(insns, pc);
        if ends_segment(&insn) {
            starts[next] = true;
        }
        pc = next;
    }
    let mut len = vec![0u32; n];
    let mut pc = 0;
    let mut current = 0;
    while pc < n {
        if starts[pc] {
            current = pc;
        }
        len[current] += 1;
        pc = next_pc(insns, pc);
    }
    Ok(Analysis {
        targets,
        second,
        loop_heads,
        segments: Segments { len },
    })
}

impl Emitter {
    /// Binds `label` to the next instruction (a zero-length one if a label is already there).
    pub(crate) fn bind(&mut self, label: &mut CodeLabel) -> Emit {
        let at = self.a.instructions().len();
        if self.last_bind == at {
            self.a.zero_bytes()?;
        }
        self.last_bind = self.a.instructions().len();
        self.a.set_label(label)?;
        Ok(())
    }

    /// `mov reg, v` in the shortest form that gives all 64 bits.
    pub(crate) fn mov_u64(&mut self, reg: X, v: u64) -> Emit {
        if v as i64 == v as i32 as i64 {
            self.mov_sext(reg.q, v as i32)?;
        } else if v <= u32::MAX as u64 {
            // A 32-bit move zero-extends.
            self.a.mov(reg.d, v as u32)?;
        } else {
            self.a.mov(reg.q, v)?;
        }
        Ok(())
    }

    /// `mov reg, imm32` sign-extended to 64 bits.
    pub(crate) fn mov_sext(&mut self, reg: AsmRegister64, imm: i32) -> Emit {
        self.a.add_instruction(Instruction::with2(
            Code::Mov_rm64_imm32,
            Register::from(reg),
            imm,
        )?)?;
        Ok(())
    }

    /// The key of constant blinding, when on.
    pub(crate) fn key(&self) -> Option<u32> {
        self.key
    }

    /// The second operand of `insn`: its source register, or its immediate (materialised in
    /// the scratch register, un-blinded, when blinding is on).
    pub(crate) fn src(&mut self, insn: &Insn) -> Result<Src, JitErrorKind> {
        if insn.opcode & BPF_X != 0 {
            return Ok(Src::R(bpf(insn.src())));
        }
        self.imm(insn.imm)
    }

    /// An immediate operand, blinded into the scratch register when blinding is on.
    pub(crate) fn imm(&mut self, imm: i32) -> Result<Src, JitErrorKind> {
        match self.key {
            None => Ok(Src::I(imm)),
            Some(k) => {
                self.mov_sext(T.q, imm ^ k as i32)?;
                self.a.xor(T.q, k as i32)?;
                Ok(Src::R(T))
            }
        }
    }

    /// Entry prologue and body of one program; returns the entry label.
    fn program(&mut self, insns: &[Insn], maps: &MapTable<'_>) -> Result<CodeLabel, JitError> {
        let Analysis {
            targets,
            second,
            loop_heads,
            segments,
        } = analyse(insns)?;
        self.labels = targets
            .iter()
            .map(|&t| t.then(|| self.a.create_label()))
            .collect();
        let mut body = match self.labels.first().copied().flatten() {
            Some(l) => l,
            None => {
                let l = self.a.create_label();
                if let Some(first) = self.labels.first_mut() {
                    *first = Some(l);
                }
                l
            }
        };
        let mut entry = self.a.create_label();
        self.prologue(&mut entry, body)
            .map_err(|k| JitError::at(0, k))?;
        let _ = &mut body;
        let mut pc = 0;
        while pc < insns.len() {
            if second[pc] {
                pc += 1;
                continue;
            }
            let at = |k| JitError::at(pc, k);
            if let Some(mut l) = self.labels[pc] {
                if loop_heads[pc] {
                    self.align_loop_head(pc, l).map_err(at)?;
                }
                self.bind(&mut l).map_err(at)?;
            }
            if self.metered && segments.len[pc] != 0 {
                self.a
                    .sub(qword_ptr(STATE + off::BUDGET), segments.len[pc] as i32)
                    .map_err(|e| at(e.into()))?;
                self.a.jb(self.trap_budget).map_err(|e| at(e.into()))?;
            }
            let boundary = |j: usize| {
                self.labels.get(j).is_some_and(|l| l.is_some())
                    || (self.metered && segments.len.get(j).is_some_and(|&n| n != 0))
            };
            if let Some(w) = fuse::plan(insns, pc, boundary) {
                self.merged_loads(&w).map_err(at)?;
                pc += w.len;
                continue;
            }
            self.insn(insns, pc, maps).map_err(at)?;
            pc = next_pc(insns, pc);
        }
        Ok(entry)
    }

    fn prologue(&mut self, entry: &mut CodeLabel, body: CodeLabel) -> Emit {
        self.bind(entry)?;
        for i in 0..self.saved.len() {
            self.a.push(self.saved[i])?;
        }
        // The entry function's arguments: state, r1, r2, r10 (rdi, rsi, rdx, rcx).
        self.a.mov(STATE, rdi)?;
        self.a.mov(qword_ptr(STATE + off::SAVED_RSP), rsp)?;
        self.a.mov(bpf(1).q, rsi)?;
        self.a.mov(bpf(2).q, rdx)?;
        self.a.mov(bpf(10).q, rcx)?;
        // Verified code never reads a register before writing it (the verifier rejects it),
        // so only unverified code (this crate's tests) needs the others zeroed, as the
        // interpreter starts them.
        if !self.verified {
            for r in [0u8, 3, 4, 5, 6, 7, 8, 9] {
                let x = bpf(r);
                // r6 to r9 live in callee-saved registers, which hold the caller's values
                // unless saved; a program that does not name them never reads them.
                if r < 6 || self.saved.contains(&x.q) {
                    self.a.xor(x.d, x.d)?;
                }
            }
        }
        if !self.inline_body {
            self.a.call(body)?;
            self.a.jmp(self.restore)?;
        }
        Ok(())
    }

    /// Trap stubs and the shared epilogue.
    fn stubs(&mut self) -> Emit {
        use nanobpf_core::Trap;
        for (mut label, trap) in [
            (self.trap_budget, Trap::BudgetExhausted),
            (self.trap_depth, Trap::CallDepth),
            (self.trap_misaligned, Trap::Misaligned),
        ] {
            self.bind(&mut label)?;
            self.a
                .mov(dword_ptr(STATE + off::TRAP), trap as u8 as u32)?;
            self.a.jmp(self.epilogue)?;
        }
        let mut ret_zero = self.ret_zero;
        self.bind(&mut ret_zero)?;
        self.a.xor(eax, eax)?;
        let mut epilogue = self.epilogue;
        self.bind(&mut epilogue)?;
        self.a.mov(rsp, qword_ptr(STATE + off::SAVED_RSP))?;
        let mut restore = self.restore;
        self.bind(&mut restore)?;
        for i in (0..self.saved.len()).rev() {
            self.a.pop(self.saved[i])?;
        }
        self.a.ret()?;
        Ok(())
    }

    /// The label of slot `pc` (a jump or call target, so analysis made one).
    pub(crate) fn label(&self, pc: usize) -> Result<CodeLabel, JitErrorKind> {
        self.labels
            .get(pc)
            .copied()
            .flatten()
            .ok_or(JitErrorKind::BadTarget)
    }

    /// Translates the instruction at `pc`.
    fn insn(&mut self, insns: &[Insn], pc: usize, maps: &MapTable<'_>) -> Emit {
        let insn = insns[pc];
        match insn.opcode & 0x07 {
            BPF_ALU | BPF_ALU64 => self.alu(&insn),
            BPF_LDX => self.load(&insn),
            BPF_ST | BPF_STX => self.store(&insn),
            BPF_LD if insn.opcode == LDDW => {
                let next = insns.get(pc + 1).ok_or(JitErrorKind::Unsupported)?;
                let v = maps
                    .lddw_value(insn, *next)
                    .ok_or(JitErrorKind::UnresolvedMap)?;
                self.lddw(insn.dst(), v)
            }
            BPF_LD => self.packet_load(&insn),
            _ => self.flow(&insn, pc),
        }
    }
}
