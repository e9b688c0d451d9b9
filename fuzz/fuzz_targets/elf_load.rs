#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nanobpf_core::fuzzing::elf_load(data));
