#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nanobpf_jit_x86::fuzzing::differential(data));
