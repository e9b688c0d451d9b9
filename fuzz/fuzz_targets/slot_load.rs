#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    nanobpf_core::fuzzing::slot_load(data);
});
