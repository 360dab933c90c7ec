//! A `#![no_std]`, `#![no_main]` program that links `triplet-simd` without its `std` feature, computes the
//! design document's worked example through the default (detected) path and a strided rows call, and
//! exits 0 only if both are right. It prints `nostd-check: ok isa=<name>` (the detected backend) to stdout.
//!
//! Exit codes: 0 right, 1 `sq_l2` wrong, 2 `l2` wrong, 3 `sq_l2_rows` wrong, 4 the scalar backend
//! disagrees with the detected one, 5 an unexpected `Err`, 101 a panic.
#![no_std]
#![no_main]

use triplet_simd::{Backend, Isa, Rows};

// The C runtime (crt1's `_start` calls `main`) and `write` come from libc; rustc passes `-nodefaultlibs`
// for a `no_std` binary, so name it here.
#[link(name = "c")]
unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn _exit(status: i32) -> !;
}

fn print(parts: &[&str]) {
    for s in parts {
        // SAFETY: `s` is a valid, initialized buffer of `s.len()` bytes for the duration of the call, and
        // fd 1 is only written to; a short or failed write is harmless here.
        unsafe {
            write(1, s.as_ptr(), s.len());
        }
    }
}

fn close(a: f32, b: f32) -> bool {
    let d = a - b;
    -1e-6 < d && d < 1e-6
}

fn check() -> Result<(), i32> {
    let err = |_| 5;
    let (x, y) = ([1.0, 2.0, 3.0], [1.1, 2.0, 3.3]);
    let sq = triplet_simd::sq_l2(&x, &y).map_err(err)?;
    if !close(sq, 0.10) {
        return Err(1);
    }
    let d = triplet_simd::l2(&x, &y).map_err(err)?;
    if !close(d, 0.316_227_77) {
        return Err(2);
    }

    // Two rows of 3, the first view with stride 4 (one padding value that must be ignored).
    let a = [1.0, 2.0, 3.0, f32::NAN, 4.0, 5.0, 6.0];
    let b = [1.1, 2.0, 3.3, 4.0, 5.0, 8.0];
    let mut out = [f32::NAN; 2];
    let rows_a = Rows::new(&a, 2, 3, 4).map_err(err)?;
    let rows_b = Rows::dense(&b, 2, 3).map_err(err)?;
    triplet_simd::sq_l2_rows(rows_a, rows_b, &mut out).map_err(err)?;
    if out[0].to_bits() != sq.to_bits() || out[1] != 4.0 {
        return Err(3);
    }

    let scalar = Backend::new(Isa::Scalar).map_err(err)?;
    let mut out_scalar = [f32::NAN; 2];
    scalar
        .sq_l2_rows(rows_a, rows_b, &mut out_scalar)
        .map_err(err)?;
    if scalar.sq_l2(&x, &y).map_err(err)?.to_bits() != sq.to_bits()
        || scalar.l2(&x, &y).map_err(err)?.to_bits() != d.to_bits()
        || out_scalar.map(f32::to_bits) != out.map(f32::to_bits)
    {
        return Err(4);
    }
    Ok(())
}

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match check() {
        Ok(()) => {
            print(&["nostd-check: ok isa=", Isa::detect().name(), "\n"]);
            0
        }
        Err(code) => {
            print(&["nostd-check: FAILED isa=", Isa::detect().name(), "\n"]);
            code
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    print(&["nostd-check: panic\n"]);
    // SAFETY: `_exit` ends the process at once; it has no preconditions.
    unsafe { _exit(101) }
}

/// The prebuilt libcore is compiled with panic=unwind and refers to this symbol; with panic=abort it is
/// never called.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
