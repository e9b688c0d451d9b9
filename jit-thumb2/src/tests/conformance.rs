//! Every bpf_conformance program, verified, compiled and checked on the host (running it is
//! the MPS2 board's job: `boards/qemu-mps2-an386`, image `conformance`).

use super::data::parse_data;
use crate::native::ExecRegion;
use crate::{compile, JitWorkspace};
use nanobpf_core::{assemble, helpers, Insn, NoPlatform, ProgramType, Runtime};
use nanobpf_core::{verify, DefaultWorkspace, VerifyTarget};
use std::boxed::Box;
use std::path::PathBuf;
use std::prelude::rust_2021::*;
use std::vec;

#[repr(align(4))]
struct Code([u8; 1 << 16]);

/// Where the shared data lives: `../shared` beside the repository, or `NANOBPF_SHARED`.
pub(super) fn shared() -> PathBuf {
    std::env::var_os("NANOBPF_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// The program of a `.data` file.
pub fn program(text: &str) -> (Vec<Insn>, Vec<u8>) {
    let case = parse_data(text).expect("readable");
    let insns = match (&case.raw, &case.asm) {
        (Some(raw), _) => raw.iter().map(|&v| Insn::from_u64(v)).collect(),
        (None, Some(src)) => {
            let mut buf = vec![Insn::default(); src.lines().count() * 2 + 2];
            let n = assemble(src, &mut buf).expect("assembles");
            buf.truncate(n);
            buf
        }
        _ => std::panic!("no program"),
    };
    (insns, case.mem)
}

#[test]
fn every_conformance_program_compiles_and_checks() {
    let dir = shared().join("conformance/bpf_conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("../shared/conformance beside the repository")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    files.sort();
    let mut ws = Box::new(DefaultWorkspace::new());
    let mut jws = Box::new(JitWorkspace::<4096>::new());
    let mut code = Box::new(Code([0; 1 << 16]));
    let mut compiled = 0;
    let mut biggest = (0, String::new());
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        let (mut insns, mem) = program(&text);
        let env = VerifyTarget::new(
            ProgramType::Memory {
                len: mem.len() as u32,
            },
            helpers::standard(),
            nanobpf_core::MapTable::EMPTY,
        );
        let prog =
            verify(&mut insns, &env, &mut ws).unwrap_or_else(|e| std::panic!("{path:?}: {e}"));
        let rt = Runtime::new(helpers::standard(), &NoPlatform);
        let jit = compile(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut code.0),
            &mut jws,
        )
        .unwrap_or_else(|e| std::panic!("{path:?}: {e}"));
        assert!(jit.code_len() > 0 && jit.code_len() % 4 == 0);
        let unmetered = jit.code_len();
        let bytes = jit.code().to_vec();
        let mut other = Box::new(Code([0; 1 << 16]));
        // The path of `compile_unchecked` (which is `unsafe`, so called from no test).
        let unchecked = crate::program::translate(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut other.0),
            &mut jws,
            false,
        )
        .unwrap_or_else(|e| std::panic!("{path:?} unchecked: {e}"));
        assert_eq!(
            unchecked.code(),
            &bytes[..],
            "{path:?}: the same code without the check"
        );
        let metered = rt.with_budget(1000);
        let jit = compile(
            &prog,
            &metered,
            ExecRegion::for_host_tests(&mut code.0),
            &mut jws,
        )
        .unwrap_or_else(|e| std::panic!("{path:?} metered: {e}"));
        assert!(
            jit.code_len() > unmetered,
            "{path:?}: metered code has its checks"
        );
        if jit.code_len() > biggest.0 {
            biggest = (jit.code_len(), path.display().to_string());
        }
        compiled += 1;
    }
    assert_eq!(compiled, 313, "conformance programs compiled");
    std::println!("largest code: {} bytes ({})", biggest.0, biggest.1);
}

#[test]
fn a_flipped_bit_in_the_code_is_caught_or_harmless() {
    // Compile one program with branches and calls, then flip each bit of a branch word in
    // turn: the check refuses every variant that leaves the design (a target off the code or
    // between instructions, another instruction), which is most of them.
    let text =
        std::fs::read_to_string(shared().join("conformance/bpf_conformance/call_local.data"))
            .or_else(|_| {
                std::fs::read_to_string(shared().join("conformance/bpf_conformance/jeq-imm.data"))
            })
            .expect("readable");
    let (mut insns, mem) = program(&text);
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(
        ProgramType::Memory {
            len: mem.len() as u32,
        },
        helpers::standard(),
        nanobpf_core::MapTable::EMPTY,
    );
    let prog = verify(&mut insns, &env, &mut ws).expect("verifies");
    let rt = Runtime::new(helpers::standard(), &NoPlatform);
    let mut jws = JitWorkspace::<64>::new();
    let mut code = Box::new(Code([0; 1 << 16]));
    let len = compile(
        &prog,
        &rt,
        ExecRegion::for_host_tests(&mut code.0),
        &mut jws,
    )
    .expect("compiles")
    .code_len();
    let bytes = code.0[..len].to_vec();
    let mut refused = 0;
    let mut tried = 0;
    for at in (0..len).step_by(4) {
        for bit in 0..32 {
            let mut c = bytes.clone();
            c[at + bit / 8] ^= 1 << (bit % 8);
            tried += 1;
            if crate::check::check(&c, crate::native::routines()).is_err() {
                refused += 1;
            }
        }
    }
    assert!(
        refused * 2 > tried,
        "{refused} of {tried} single-bit corruptions refused"
    );
}

#[test]
fn recheck_finds_code_changed_after_compilation() {
    let text =
        std::fs::read_to_string(shared().join("conformance/bpf_conformance/call_local.data"))
            .or_else(|_| {
                std::fs::read_to_string(shared().join("conformance/bpf_conformance/jeq-imm.data"))
            })
            .expect("readable");
    let (mut insns, mem) = program(&text);
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(
        ProgramType::Memory {
            len: mem.len() as u32,
        },
        helpers::standard(),
        nanobpf_core::MapTable::EMPTY,
    );
    let prog = verify(&mut insns, &env, &mut ws).expect("verifies");
    let rt = Runtime::new(helpers::standard(), &NoPlatform);
    let mut jws = JitWorkspace::<64>::new();
    let mut code = Box::new(Code([0; 1 << 16]));
    let mut jit = compile(
        &prog,
        &rt,
        ExecRegion::for_host_tests(&mut code.0),
        &mut jws,
    )
    .expect("compiles");
    assert_eq!(jit.recheck(), Ok(()));
    // A `bx lr` (16-bit) over the first instruction: not in the emitted set.
    jit.code_mut()[..2].copy_from_slice(&0x4770u16.to_le_bytes());
    assert!(matches!(
        jit.recheck().map_err(|e| e.kind),
        Err(crate::JitErrorKind::Check { offset: 0, .. })
    ));
}

#[test]
fn a_small_buffer_or_workspace_is_an_error() {
    let text =
        std::fs::read_to_string(shared().join("conformance/bpf_conformance/call_local.data"))
            .or_else(|_| {
                std::fs::read_to_string(shared().join("conformance/bpf_conformance/jeq-imm.data"))
            })
            .expect("readable");
    let (mut insns, mem) = program(&text);
    let n = insns.len();
    let mut ws = Box::new(DefaultWorkspace::new());
    let env = VerifyTarget::new(
        ProgramType::Memory {
            len: mem.len() as u32,
        },
        helpers::standard(),
        nanobpf_core::MapTable::EMPTY,
    );
    let prog = verify(&mut insns, &env, &mut ws).expect("verifies");
    let rt = Runtime::new(helpers::standard(), &NoPlatform);
    let mut code = Box::new(Code([0; 1 << 16]));
    let kind =
        |r: Result<crate::JitProgram<'_>, crate::JitError>| r.map(|_| ()).map_err(|e| e.kind);
    let mut small = JitWorkspace::<2>::new();
    assert!(n > 2);
    assert_eq!(
        kind(compile(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut code.0),
            &mut small
        )),
        Err(crate::JitErrorKind::WorkspaceTooSmall)
    );
    let mut jws = JitWorkspace::<64>::new();
    assert_eq!(
        kind(compile(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut code.0[..40]),
            &mut jws
        )),
        Err(crate::JitErrorKind::BufferTooSmall)
    );
    assert_eq!(
        kind(compile(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut code.0[2..]),
            &mut jws
        )),
        Err(crate::JitErrorKind::BufferMisaligned),
        "a region that does not start at a multiple of 4 bytes"
    );
    assert_eq!(
        kind(compile(
            &prog,
            &rt,
            ExecRegion::for_host_tests(&mut code.0),
            &mut jws
        )),
        Ok(())
    );
}
