#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nanobpf_control::fuzzing::serial(data));
