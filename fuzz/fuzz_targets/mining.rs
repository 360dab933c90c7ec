#![no_main]
//! See `triplet_simd_fuzz::mining` (fuzz/src/mining.rs) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| triplet_simd_fuzz::mining::run(data));
