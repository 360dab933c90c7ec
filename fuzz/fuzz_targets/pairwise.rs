#![no_main]
//! See `triplet_simd_fuzz::pairwise` (fuzz/src/pairwise.rs) for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| triplet_simd_fuzz::pairwise::run(data));
