//! Every error variant, reached through the public API, with its message; no panic on bad input.

use triplet_simd::{
    Backend, Error, GradMode, Isa, Reduction, Rows, RowsMut, SquaredError, Upstream, l2, sq_l2,
    sq_l2_one_to_many, sq_l2_rows,
};

fn msg(e: Error) -> String {
    e.to_string()
}

#[test]
fn stride_smaller_than_dim() {
    let e = Rows::new(&[0.0; 10], 2, 4, 3).unwrap_err();
    assert_eq!(e, Error::StrideTooSmall { stride: 3, dim: 4 });
    assert_eq!(msg(e), "row stride 3 is smaller than the row length 4");
    let mut buf = [0.0; 10];
    assert!(matches!(
        RowsMut::new(&mut buf, 2, 4, 3),
        Err(Error::StrideTooSmall { .. })
    ));
}

#[test]
fn size_overflow_of_rows_times_stride() {
    let e = Rows::new(&[], usize::MAX, 1, 2).unwrap_err();
    assert_eq!(
        e,
        Error::SizeOverflow {
            rows: usize::MAX,
            stride: 2,
            dim: 1
        }
    );
    assert_eq!(
        msg(e),
        format!(
            "{} rows of length 1 with stride 2 need more elements than usize can count",
            usize::MAX
        )
    );
    // (rows − 1)·stride fits but adding dim does not.
    let e = Rows::new(&[], 2, usize::MAX, usize::MAX).unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { .. }));
}

#[test]
fn buffer_too_short_for_the_shape() {
    // Two rows of 3 with stride 4 need 4 + 3 = 7 values.
    let e = Rows::new(&[0.0; 6], 2, 3, 4).unwrap_err();
    assert_eq!(
        e,
        Error::BufferTooShort {
            what: "row buffer",
            needed: 7,
            len: 6
        }
    );
    assert_eq!(msg(e), "row buffer holds 6 values but its shape needs 7");
    assert!(Rows::new(&[0.0; 7], 2, 3, 4).is_ok());
    // Zero rows need nothing.
    assert!(Rows::new(&[], 0, 3, 4).is_ok());
}

#[test]
fn length_mismatches() {
    let e = sq_l2(&[1.0, 2.0], &[1.0]).unwrap_err();
    assert_eq!(
        e,
        Error::LengthMismatch {
            what: "length of b",
            expected: 2,
            found: 1
        }
    );
    assert_eq!(msg(e), "length of b is 1 but must be 2");
    assert!(l2(&[1.0], &[]).is_err());

    let a = [0.0; 6];
    let (v23, v32) = (
        Rows::dense(&a, 2, 3).unwrap(),
        Rows::dense(&a, 3, 2).unwrap(),
    );
    let mut out = [0.0; 2];
    assert_eq!(
        msg(sq_l2_rows(v23, v32, &mut out).unwrap_err()),
        "row count of b is 3 but must be 2"
    );
    let mut out3 = [0.0; 3];
    assert_eq!(
        msg(sq_l2_rows(v23, v23, &mut out3).unwrap_err()),
        "length of out is 3 but must be 2"
    );
    assert_eq!(
        msg(sq_l2_one_to_many(&[0.0; 2], v23, &mut out).unwrap_err()),
        "length of the query is 2 but must be 3"
    );
    // Nothing was written by the failed calls.
    assert_eq!(out, [0.0; 2]);
}

#[test]
fn misaligned_and_ragged_bytes() {
    let buf = [0.0f32; 8];
    let bytes: &[u8] = bytemuck::cast_slice(&buf);
    let e = Rows::from_bytes(&bytes[1..17], 1, 4, 4).unwrap_err();
    assert_eq!(
        e,
        Error::Misaligned {
            offset: (bytes.as_ptr() as usize + 1) % 4
        }
    );
    assert!(msg(e).ends_with("bytes past a 4-byte boundary, so it cannot be read as f32"));
    let e = Rows::from_bytes(&bytes[..15], 1, 3, 3).unwrap_err();
    assert_eq!(e, Error::ByteLength { len: 15 });
    assert_eq!(
        msg(e),
        "byte buffer of 15 bytes is not a whole number of f32 values"
    );
    let v = Rows::from_bytes(&bytes[..16], 1, 4, 4).unwrap();
    assert_eq!(v.row(0), Some(&[0.0; 4][..]));

    let mut mbuf = [0.0f32; 4];
    let mbytes: &mut [u8] = bytemuck::cast_slice_mut(&mut mbuf);
    assert!(matches!(
        RowsMut::from_bytes(&mut mbytes[2..10], 1, 2, 2),
        Err(Error::Misaligned { .. })
    ));
    assert!(matches!(
        RowsMut::from_bytes(&mut mbytes[..7], 1, 1, 1),
        Err(Error::ByteLength { len: 7 })
    ));
}

#[test]
fn unavailable_backend_is_an_error_not_sigill() {
    let missing = if cfg!(target_arch = "aarch64") {
        Isa::Avx512
    } else {
        Isa::Neon
    };
    let e = Backend::new(missing).unwrap_err();
    assert_eq!(
        e,
        Error::UnavailableIsa {
            isa: missing.name()
        }
    );
    assert_eq!(
        msg(e),
        format!(
            "the {} backend cannot run on this CPU or was not compiled in",
            missing.name()
        )
    );
    assert!(!missing.is_available());
}

#[test]
fn loss_configuration_errors() {
    let a = [0.0; 4];
    let v = Rows::dense(&a, 2, 2).unwrap();
    let none = SquaredError::mse().reduction(Reduction::None);
    assert_eq!(
        msg(none.forward(v, v, None).unwrap_err()),
        "missing a per-row loss buffer, which Reduction::None needs"
    );
    let mut per_row = [0.0; 3];
    assert_eq!(
        msg(none.forward(v, v, Some(&mut per_row)).unwrap_err()),
        "length of the per-row loss buffer is 3 but must be 2"
    );
    let g = [1.0; 2];
    let sum = SquaredError::mse().reduction(Reduction::Sum);
    assert_eq!(
        msg(sum
            .forward_backward(
                v,
                v,
                None,
                Upstream::PerItem(&g),
                None,
                None,
                GradMode::Overwrite
            )
            .unwrap_err()),
        "missing Reduction::None, which a per-item upstream gradient needs"
    );
    let mut per_row = [0.0; 2];
    assert_eq!(
        msg(none
            .forward_backward(
                v,
                v,
                Some(&mut per_row),
                Upstream::PerItem(&g[..1]),
                None,
                None,
                GradMode::Overwrite
            )
            .unwrap_err()),
        "length of the per-item upstream gradient is 1 but must be 2"
    );
    let mut gbuf = [0.0; 6];
    let grad = RowsMut::dense(&mut gbuf, 2, 3).unwrap();
    assert_eq!(
        msg(sum
            .forward_backward(
                v,
                v,
                None,
                Upstream::Scalar(1.0),
                Some(grad),
                None,
                GradMode::Overwrite
            )
            .unwrap_err()),
        "row length of a gradient is 3 but must be 2"
    );
}

#[test]
fn error_is_a_core_error() {
    fn takes(_: &dyn core::error::Error) {}
    takes(&Error::ByteLength { len: 1 });
}
