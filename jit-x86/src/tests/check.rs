//! The decode-back check catches corrupted code.

use super::*;
use crate::check::check;
use crate::emit::assemble;
use crate::error::{CheckFailure, JitErrorKind};
use crate::native::trampoline_address;

fn sample() -> crate::emit::Assembled {
    let insns = asm("mov %r0, 1\nldxdw %r2, [%r1+0]\ncall 100\nadd %r0, %r2\nexit");
    assemble(
        &[&insns],
        &rt().maps(),
        &JitOptions::default(),
        false,
        false,
    )
    .unwrap()
}

fn why(code: &[u8], asm: &crate::emit::Assembled) -> Option<CheckFailure> {
    match check(code, &asm.emitted, &[trampoline_address()]) {
        Ok(()) => None,
        Err(e) => match e.kind {
            JitErrorKind::Check { why, .. } => Some(why),
            _ => panic!("not a check failure: {e}"),
        },
    }
}

#[test]
fn generated_code_passes() {
    let a = sample();
    assert_eq!(why(&a.bytes, &a), None);
}

#[test]
fn every_single_byte_corruption_is_caught_or_harmless() {
    // Flipping any byte of the code either fails the check or leaves code that still decodes
    // to the emitted instructions with allowed operands (an immediate or displacement byte).
    let a = sample();
    let mut caught = 0;
    for i in 0..a.bytes.len() {
        let mut c = a.bytes.clone();
        c[i] ^= 0xff;
        if why(&c, &a).is_some() {
            caught += 1;
        }
    }
    assert!(caught > a.bytes.len() / 3, "{caught} of {}", a.bytes.len());
}

#[test]
fn an_injected_indirect_jump_is_caught() {
    let a = sample();
    // Find `mov rax, imm64` (REX.W B8) of the trampoline call and turn the call after it into
    // `jmp rax` (FF E0): same length as `call rax` (FF D0).
    let mut c = a.bytes.clone();
    let at = c
        .windows(2)
        .position(|w| w == [0xff, 0xd0])
        .expect("call rax");
    c[at + 1] = 0xe0;
    assert_eq!(why(&c, &a), Some(CheckFailure::Mismatch));
    // A different trampoline address is refused even when the instruction is right.
    let mov = c
        .windows(2)
        .rposition(|w| w == [0x48, 0xb8])
        .expect("mov rax, imm64");
    let mut d = a.bytes.clone();
    d[mov + 2] ^= 0x10;
    assert_eq!(why(&d, &a), Some(CheckFailure::IndirectBranch));
}

#[test]
fn a_memory_operand_on_a_forbidden_base_is_caught() {
    let insns = asm("ldxdw %r0, [%r1+8]\nexit");
    let a = assemble(
        &[&insns],
        &rt().maps(),
        &JitOptions::default(),
        false,
        false,
    )
    .unwrap();
    // `mov rax, [rdi+8]` is 48 8B 47 08; base rdi (7) -> rcx (1): 48 8B 41 08.
    let mut c = a.bytes.clone();
    let at = c
        .windows(4)
        .position(|w| w == [0x48, 0x8b, 0x47, 0x08])
        .expect("the load");
    c[at + 2] = 0x41;
    assert_eq!(why(&c, &a), Some(CheckFailure::MemoryOperand));
}

#[test]
fn truncated_or_shifted_code_is_caught() {
    let a = sample();
    assert!(why(&a.bytes[..a.bytes.len() - 1], &a).is_some());
    let mut longer = a.bytes.clone();
    longer.push(0x90);
    assert!(why(&longer, &a).is_some());
    let mut shifted = std::vec![0x90u8];
    shifted.extend_from_slice(&a.bytes[..a.bytes.len() - 1]);
    assert_eq!(why(&shifted, &a), Some(CheckFailure::Mismatch));
}
