#![no_main]
//! See `triplet_simd_fuzz::triplet_indexed` (fuzz/src/triplet_indexed.rs) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| triplet_simd_fuzz::triplet_indexed::run(data));
