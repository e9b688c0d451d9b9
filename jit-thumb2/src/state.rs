//! The per-run state the generated code works on (through r11), and the layout the code
//! generator relies on. Plain data: entering code and the routines it calls are in
//! `native.rs`.

/// Linux's `BPF_FUNC_tail_call`.
pub(crate) const TAIL_CALL: u32 = 12;
/// Linux's limit on chained tail calls.
pub(crate) const MAX_TAIL_CALLS: u32 = 33;
/// Frames a bpf-to-bpf call chain may push besides the entry frame (the interpreter's limit).
pub(crate) const MAX_PUSHED_FRAMES: u32 = 7;

/// `support` operation codes (the low byte; the next byte is an operand: the load's size).
pub(crate) mod op {
    /// 64-bit unsigned division of `a` by `b`.
    pub const UDIV64: u32 = 1;
    /// 64-bit signed division.
    pub const SDIV64: u32 = 2;
    /// 64-bit unsigned modulo.
    pub const UMOD64: u32 = 3;
    /// 64-bit signed modulo.
    pub const SMOD64: u32 = 4;
    /// Legacy packet load at packet offset `a`; size in bytes in the next byte.
    pub const PACKET: u32 = 5;
}

use core::mem::MaybeUninit;

/// The run state. `repr(C)`, with every field the code touches first and of a fixed size, so
/// the offsets are the same on the host (where the encodings are tested) and on the device.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitState {
    /// BPF r0 to r5; those kept in ARM registers are written here before helper calls, which
    /// read r1 to r5 here.
    pub regs: [u64; 6],
    /// BPF r6 to r9 when not kept in ARM registers: only the code reads and writes them, and
    /// it never reads one before writing it (the verifier rejects that), so a run does not
    /// clear them.
    pub callee: [MaybeUninit<u64>; 4],
    /// BPF r10 (the frame pointer) at entry.
    pub fp: u64,
    /// Operands of `support` calls.
    pub a: u64,
    /// Second operand.
    pub b: u64,
    /// Instructions left (metered code only).
    pub budget: u64,
    /// sp after the entry prologue, which a stop unwinds to.
    pub saved_sp: u32,
    /// bpf-to-bpf call depth (0 in the entry function).
    pub depth: u32,
    /// Non-zero: the code must return now (a trap, a tail call, or a legacy load out of
    /// bounds).
    pub stop: u32,
    /// A `Trap` code, or 0.
    pub trap: u32,
    /// A legacy packet load out of bounds: the run returns 0.
    pub zero_exit: u32,
    /// A tail call succeeded: the caller enters the target.
    pub tail_pending: u32,
    /// Tail calls taken so far.
    pub tail_calls: u32,
    /// Packet of legacy loads: start address.
    pub pkt_start: u64,
    /// Its length.
    pub pkt_len: u64,
    /// The `ActiveRun` of this run, type-erased.
    pub run: *mut core::ffi::c_void,
    /// The tail call's target: its instructions' address and length; written by the helper
    /// routine before it sets `tail_pending`.
    pub tail_target: MaybeUninit<(usize, usize)>,
}

impl JitState {
    /// A state with every field zero and no run (for the tests of the routines).
    #[cfg(test)]
    pub(crate) const fn empty() -> JitState {
        JitState {
            regs: [0; 6],
            callee: [MaybeUninit::new(0); 4],
            fp: 0,
            a: 0,
            b: 0,
            budget: 0,
            saved_sp: 0,
            depth: 0,
            stop: 0,
            trap: 0,
            zero_exit: 0,
            tail_pending: 0,
            tail_calls: 0,
            pkt_start: 0,
            pkt_len: 0,
            run: core::ptr::null_mut(),
            tail_target: MaybeUninit::new((0, 0)),
        }
    }

    /// A state for a run that enters with these r1, r2 and r10, budget and legacy packet,
    /// calling helpers through `run`: only what the code or the routines read before writing is
    /// set (r6 to r9, the operands, the saved sp and the tail-call target are left for the code
    /// and the routines to write).
    #[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
    pub(crate) fn for_run(
        entry: [u64; 3],
        budget: u64,
        packet: (u64, u64),
        run: *mut core::ffi::c_void,
    ) -> JitState {
        let [r1, r2, r10] = entry;
        JitState {
            regs: [0, r1, r2, 0, 0, 0],
            callee: [MaybeUninit::uninit(); 4],
            fp: r10,
            a: 0,
            b: 0,
            budget,
            saved_sp: 0,
            depth: 0,
            stop: 0,
            trap: 0,
            zero_exit: 0,
            tail_pending: 0,
            tail_calls: 0,
            pkt_start: packet.0,
            pkt_len: packet.1,
            run,
            tail_target: MaybeUninit::uninit(),
        }
    }
}

/// Byte offsets of the fields the code touches, as displacements from r11.
pub(crate) mod off {
    use super::JitState;
    use core::mem::offset_of;
    pub const REGS: u16 = offset_of!(JitState, regs) as u16;
    pub const FP: u16 = offset_of!(JitState, fp) as u16;
    pub const A: u16 = offset_of!(JitState, a) as u16;
    pub const B: u16 = offset_of!(JitState, b) as u16;
    pub const BUDGET: u16 = offset_of!(JitState, budget) as u16;
    pub const SAVED_SP: u16 = offset_of!(JitState, saved_sp) as u16;
    pub const DEPTH: u16 = offset_of!(JitState, depth) as u16;
    pub const STOP: u16 = offset_of!(JitState, stop) as u16;
    pub const TRAP: u16 = offset_of!(JitState, trap) as u16;
    /// One past the last field the code may touch.
    pub const END: u16 = TRAP + 4;
}

const _: () = assert!(
    off::REGS == 0 && off::A == 88 && off::BUDGET == 104 && off::SAVED_SP == 112 && off::END == 128
);

/// Offset of BPF register `r` in the state.
pub(crate) const fn reg(r: u8) -> u16 {
    off::REGS + 8 * r as u16
}
