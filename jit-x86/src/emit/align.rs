//! Loop-head alignment: where each loop head landed in one assembly, and the padding that
//! puts it at the start of a 64-byte line in the next (see the parent module's documentation).

use super::{Emit, Emitter};
use alloc::vec::Vec;
use iced_x86::code_asm::CodeLabel;

/// The line size loop heads are aligned to.
const LINE: u32 = 64;

/// Padding of at least this many bytes is a jump over `nop`s rather than `nop`s alone.
const JUMP_OVER: u8 = 8;

/// A loop head: program index, slot, and a number (padding bytes, or an instruction index).
type Head = (usize, usize, usize);

/// The padding planned before loop heads, and where the heads were emitted.
#[derive(Default)]
pub(super) struct Plan {
    /// The program being emitted.
    program: usize,
    /// Padding bytes before each loop head.
    pads: Vec<Head>,
    /// The instruction index of each loop head, in emission order.
    heads: Vec<Head>,
}

impl Plan {
    /// Emission of program `i` begins.
    pub fn start_program(&mut self, i: usize) {
        self.program = i;
    }

    /// The padding planned before slot `pc` of the current program.
    fn pad(&self, pc: usize) -> usize {
        self.pads
            .iter()
            .find(|&&(p, s, _)| p == self.program && s == pc)
            .map_or(0, |h| h.2)
    }

    /// After an assembly with this plan, given each emitted instruction's byte offset: the
    /// plan that puts every loop head at the start of a line, or `None` when every head is
    /// there already. Padding shifts the code after it, which can lengthen branches across it
    /// (from 2 to 5 or 6 bytes), so one plan may need another.
    pub fn realign(&self, offsets: &[u32]) -> Option<Plan> {
        let mut pads = Vec::with_capacity(self.heads.len());
        let mut shift = 0i64;
        let mut changed = false;
        for &(program, pc, index) in &self.heads {
            let old = self
                .pads
                .iter()
                .find(|&&(p, s, _)| p == program && s == pc)
                .map_or(0, |h| h.2) as i64;
            let at = i64::from(*offsets.get(index)?) + shift;
            let pad = (old + (LINE as i64 - at.rem_euclid(LINE as i64))) % LINE as i64;
            shift += pad - old;
            changed |= pad != old;
            if pad != 0 {
                pads.push((program, pc, pad as usize));
            }
        }
        changed.then(|| Plan {
            pads,
            ..Plan::default()
        })
    }
}

impl Emitter {
    /// Emits the padding planned before the loop head at slot `pc` (whose label is `head`,
    /// bound right after) and records where the head is.
    pub(super) fn align_loop_head(&mut self, pc: usize, head: CodeLabel) -> Emit {
        let pad = self.align.pad(pc);
        let mut nops = pad;
        if pad >= JUMP_OVER as usize {
            // A short jump is two bytes.
            self.a.jmp(head)?;
            nops -= 2;
        }
        for _ in 0..nops {
            self.a.nop()?;
        }
        let index = self.a.instructions().len();
        let program = self.align.program;
        self.align.heads.push((program, pc, index));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::assemble_pass;
    use super::*;
    use crate::options::JitOptions;
    use crate::tests::{asm, both_with, rt};

    /// Two nested loops behind a prologue of odd length; `r0` counts the inner iterations.
    const LOOPS: &str = "mov %r0, 0
mov %r6, 7
lddw %r7, 0x123456789
mov %r1, 5
mov %r2, 3
add %r0, 1
sub %r2, 1
jne %r2, 0, -3
sub %r1, 1
jne %r1, 0, -6
exit";

    #[test]
    fn loop_heads_start_a_line_and_the_code_still_agrees() {
        let insns = asm(LOOPS);
        let rt = rt();
        let opts = JitOptions::default();
        let (_, first, offsets) =
            assemble_pass(&[&insns], &rt.maps(), &opts, false, false, Plan::default())
                .expect("assembles");
        assert_eq!(first.heads.len(), 2, "two loop heads found");
        let mut plan = first.realign(&offsets).expect("the heads need padding");
        // Padding can lengthen branches across it and move the heads again: a few passes.
        let mut passes = 1;
        let (heads, offsets) = loop {
            let (_, next, offsets) =
                assemble_pass(&[&insns], &rt.maps(), &opts, false, false, plan).expect("assembles");
            match next.realign(&offsets) {
                Some(p) if passes < super::super::MAX_ALIGN_PASSES => plan = p,
                Some(_) => panic!("the heads still move after {passes} passes"),
                None => break (next.heads, offsets),
            }
            passes += 1;
        };
        for &(_, pc, index) in &heads {
            assert_eq!(offsets[index] % LINE, 0, "head at slot {pc}");
        }
        let (r0, _) = both_with(&insns, &[0u8; 8], &rt, &opts);
        assert_eq!(r0, Ok(15));
    }
}
