#![no_main]
//! See `triplet_simd_fuzz::one_to_many` (fuzz/src/lib.rs) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| triplet_simd_fuzz::one_to_many::run(data));
