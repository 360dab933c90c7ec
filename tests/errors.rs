//! Every error variant, reached through the public API, with its message naming the argument by the
//! caller's name; no panic on bad input, nothing written on error.

use triplet_simd::{
    Backend, Distance, Error, Isa, Reduction, Rows, RowsMut, SquaredError, TripletDiagnostics,
    TripletGrads, TripletLoss, Triplets, Upstream, l2, sq_l2, sq_l2_one_to_many, sq_l2_rows,
};

fn msg(e: Error) -> String {
    e.to_string()
}

#[test]
fn stride_smaller_than_dim() {
    let e = Rows::new(&[0.0; 10], 2, 4, 3).unwrap_err();
    assert_eq!(
        e,
        Error::StrideTooSmall {
            what: "data",
            stride: 3,
            dim: 4
        }
    );
    assert_eq!(
        msg(e),
        "data: row stride 3 is smaller than the row length 4"
    );
    let mut buf = [0.0; 10];
    assert!(matches!(
        RowsMut::new(&mut buf, 2, 4, 3),
        Err(Error::StrideTooSmall { what: "data", .. })
    ));
    let e = Rows::interleaved_padded::<3>(&[0.0; 30], 2, 4, 3).unwrap_err();
    assert_eq!(
        msg(e),
        "data: row stride 3 is smaller than the row length 4"
    );
}

#[test]
fn size_overflow_of_rows_times_stride() {
    let e = Rows::new(&[], usize::MAX, 1, 2).unwrap_err();
    assert_eq!(
        e,
        Error::SizeOverflow {
            what: "data",
            rows: usize::MAX,
            stride: 2,
            dim: 1
        }
    );
    assert_eq!(
        msg(e),
        format!(
            "data: {} rows of length 1 with stride 2 need more elements than usize can count",
            usize::MAX
        )
    );
    assert_eq!(
        msg(Rows::new(&[], 2, 1, usize::MAX).unwrap_err()),
        format!(
            "data: 2 rows of length 1 with stride {} need more elements than usize can count",
            usize::MAX
        )
    );
    // (rows − 1)·stride fits but adding dim does not.
    let e = Rows::new(&[], 2, usize::MAX, usize::MAX).unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { .. }));
    // Interleaved groups whose last member's end overflows.
    let e = Rows::interleaved_padded::<3>(&[], usize::MAX / 2, 1, 2).unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { what: "data", .. }), "{e}");
}

#[test]
fn count_overflow_names_what_is_counted() {
    let e = Rows::interleaved::<3>(&[], usize::MAX).unwrap_err();
    assert_eq!(
        e,
        Error::CountOverflow {
            what: "data",
            count: usize::MAX,
            factor: 3
        }
    );
    assert_eq!(
        msg(e),
        format!("data: {} × 3 does not fit in usize", usize::MAX)
    );
    // 3N rows of an interleaved gradient for N = usize::MAX triplets of rows of length 0.
    let big = Rows::new(&[], usize::MAX, 0, 0).unwrap();
    let e = TripletLoss::new(1.0)
        .forward_backward(
            Triplets::views(big, big, big),
            TripletGrads::interleaved(&mut []),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        format!(
            "rows of the interleaved gradient (3 per triplet): {} × 3 does not fit in usize",
            usize::MAX
        )
    );
}

#[test]
fn buffer_too_short_names_the_view() {
    // Two rows of 3 with stride 4 need 4 + 3 = 7 values.
    let e = Rows::new(&[0.0; 6], 2, 3, 4).unwrap_err();
    assert_eq!(
        e,
        Error::BufferTooShort {
            what: "data",
            needed: 7,
            len: 6
        }
    );
    assert_eq!(msg(e), "data holds 6 values but its shape needs 7");
    assert_eq!(
        msg(Rows::new(&[0.0], 2, 1, 1).unwrap_err()),
        "data holds 1 value but its shape needs 2"
    );
    assert!(Rows::new(&[0.0; 7], 2, 3, 4).is_ok());
    // Zero rows need nothing.
    assert!(Rows::new(&[], 0, 3, 4).is_ok());
    // Interleaved groups with padding: the last member's last row ends at 2·3 + 9 + 2 = 17.
    let e = Rows::interleaved_padded::<3>(&[0.0; 16], 2, 2, 3).unwrap_err();
    assert_eq!(msg(e), "data holds 16 values but its shape needs 17");
    assert!(Rows::interleaved_padded::<3>(&[0.0; 17], 2, 2, 3).is_ok());
}

#[test]
fn length_mismatches_name_the_argument() {
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
    assert_eq!(
        msg(Rows::interleaved::<3>(&[0.0; 10], 2).unwrap_err()),
        "length of data (whole groups of K rows of dim values) is 10 but must be 6"
    );
}

#[test]
fn triplet_shape_errors_name_the_member_and_the_gradient() {
    let x = [0.0f32; 12];
    let loss = TripletLoss::new(1.0);
    let m = |t: Triplets<'_>| msg(loss.forward(t).unwrap_err());
    assert_eq!(
        m(Triplets::dense(&x, &x[..8], &x, 4)),
        "length of the positives is 8 but must be 12"
    );
    assert_eq!(
        m(Triplets::dense(&x, &x, &x[..4], 4)),
        "length of the negatives is 4 but must be 12"
    );
    assert_eq!(
        m(Triplets::dense(&x[..10], &x[..10], &x[..10], 4)),
        "length of the anchors (whole rows of dim values) is 10 but must be 8"
    );
    assert_eq!(
        m(Triplets::interleaved(&x[..10], 2)),
        "length of the interleaved triplets (whole triplets of 3 rows of dim values) is 10 but must be 6"
    );
    // An empty interleaved batch is zero triplets, not a panic.
    assert_eq!(
        loss.forward(Triplets::interleaved(&[], 2)).unwrap().active,
        0
    );
    let (a, p) = (
        Rows::dense(&x, 3, 4).unwrap(),
        Rows::dense(&x, 2, 4).unwrap(),
    );
    assert_eq!(
        m(Triplets::views(a, p, a)),
        "row count of the positives is 2 but must be 3"
    );
    assert_eq!(
        m(Triplets::views(a, a, Rows::dense(&x, 4, 3).unwrap())),
        "row count of the negatives is 4 but must be 3"
    );

    let t = Triplets::dense(&x, &x, &x, 4); // 3 triplets of 4
    let (mut ga, mut gp, mut gn) = ([9.0f32; 12], [9.0f32; 12], [9.0f32; 8]);
    let e = loss
        .forward_backward(t, TripletGrads::separate(&mut ga, &mut gp, &mut gn))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the negative gradient (rows × dim of the anchors) is 8 but must be 12"
    );
    let e = loss
        .forward_backward(t, TripletGrads::separate(&mut ga, &mut gn, &mut gp))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the positive gradient (rows × dim of the anchors) is 8 but must be 12"
    );
    let e = loss
        .forward_backward(
            t,
            TripletGrads::views(None, Some(RowsMut::dense(&mut gn, 2, 4).unwrap()), None),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "row count of the positive gradient is 2 but must be 3"
    );
    let e = loss
        .forward_backward(
            t,
            TripletGrads::views(Some(RowsMut::dense(&mut gn, 4, 2).unwrap()), None, None),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "row count of the anchor gradient is 4 but must be 3"
    );
    let e = loss
        .forward_backward(t, TripletGrads::interleaved(&mut ga))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the interleaved gradient (3 × rows × dim) is 12 but must be 36"
    );
    let e = loss
        .forward_backward(
            t,
            TripletGrads::interleaved_view(RowsMut::dense(&mut ga, 3, 4).unwrap()),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "row count of the interleaved gradient (3 per triplet) is 3 but must be 9"
    );
    let e = loss
        .forward_backward(t, TripletGrads::matrix(&mut ga))
        .unwrap_err();
    assert_eq!(
        msg(e),
        "missing index triplets (Triplets::indexed), which a gradient matrix (TripletGrads::matrix) needs"
    );
    let emb = Rows::dense(&x, 3, 4).unwrap();
    let e = loss
        .forward_backward(
            Triplets::indexed(emb, &[[0, 1, 2]]),
            TripletGrads::matrix(&mut gn),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the gradient matrix (rows × dim of the embeddings) is 8 but must be 12"
    );
    let e = loss
        .forward_backward(
            Triplets::indexed(emb, &[[0, 1, 2]]),
            TripletGrads::matrix_view(RowsMut::dense(&mut gn, 2, 4).unwrap()),
        )
        .unwrap_err();
    assert_eq!(
        msg(e),
        "row count of the gradient matrix (the embeddings' row count) is 2 but must be 3"
    );
    // Diagnostics and per-triplet losses of the wrong length.
    let mut short = [0.0f32; 2];
    let e = loss
        .call(t)
        .diagnostics(TripletDiagnostics {
            violation: Some(&mut short),
            ..Default::default()
        })
        .run()
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the violation diagnostics is 2 but must be 3"
    );
    let mut flags = [false; 4];
    let e = loss
        .call(t)
        .diagnostics(TripletDiagnostics {
            swapped: Some(&mut flags),
            ..Default::default()
        })
        .run()
        .unwrap_err();
    assert_eq!(
        msg(e),
        "length of the swapped diagnostics is 4 but must be 3"
    );
    let e = loss.call(t).losses(&mut short).run().unwrap_err();
    assert_eq!(
        msg(e),
        "length of the per-triplet loss buffer is 2 but must be 3"
    );
    // Nothing was written by any failed call.
    assert!(ga.iter().chain(&gp).chain(&gn).all(|&v| v == 9.0));
    assert_eq!((short, flags), ([0.0; 2], [false; 4]));
}

#[test]
fn index_out_of_range_names_the_triplet() {
    let x = [0.0f32; 8];
    let emb = Rows::dense(&x, 2, 4).unwrap();
    let mut g = [7.0f32; 8];
    let e = TripletLoss::new(1.0)
        .forward_backward(
            Triplets::indexed(emb, &[[0, 1, 0], [1, 0, 2]]),
            TripletGrads::matrix(&mut g),
        )
        .unwrap_err();
    assert_eq!(
        e,
        Error::IndexOutOfRange {
            triplet: 1,
            index: 2,
            rows: 2
        }
    );
    assert_eq!(
        msg(e),
        "triplet 1 names row 2 but the embedding matrix has 2 rows"
    );
    assert_eq!(g, [7.0; 8]);
}

#[test]
fn misaligned_and_ragged_bytes() {
    let buf = [0.0f32; 8];
    let bytes: &[u8] = bytemuck::cast_slice(&buf);
    let e = Rows::from_bytes(&bytes[1..17], 1, 4, 4).unwrap_err();
    let offset = (bytes.as_ptr() as usize + 1) % 4;
    assert_eq!(e, Error::Misaligned { offset });
    assert_eq!(
        msg(e),
        "bytes: the buffer starts 1 byte past a 4-byte boundary, so it cannot be read as f32 in place"
    );
    let e = Rows::from_bytes(&bytes[2..18], 1, 4, 4).unwrap_err();
    assert!(
        msg(e).starts_with("bytes: the buffer starts 2 bytes past"),
        "{e}"
    );
    let e = Rows::from_bytes(&bytes[..15], 1, 3, 3).unwrap_err();
    assert_eq!(e, Error::ByteLength { len: 15 });
    assert_eq!(
        msg(e),
        "bytes: 15 bytes is not a whole number of f32 values (a multiple of 4)"
    );
    assert_eq!(
        msg(Rows::from_bytes(&bytes[..1], 0, 1, 1).unwrap_err()),
        "bytes: 1 byte is not a whole number of f32 values (a multiple of 4)"
    );
    let v = Rows::from_bytes(&bytes[..16], 1, 4, 4).unwrap();
    assert_eq!(v.row(0), Some(&[0.0; 4][..]));
    // An empty buffer is never misaligned (an empty Vec's pointer is dangling), wherever it starts.
    for start in 0..4 {
        assert_eq!(
            Rows::from_bytes(&bytes[start..start], 0, 3, 3)
                .unwrap()
                .rows(),
            0
        );
    }
    let empty: Vec<u8> = Vec::new();
    assert_eq!(Rows::from_bytes(&empty, 0, 5, 5).unwrap().rows(), 0);
    assert_eq!(
        msg(Rows::from_bytes(&empty, 1, 5, 5).unwrap_err()),
        "data holds 0 values but its shape needs 5"
    );

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
    assert!(RowsMut::from_bytes(&mut mbytes[3..3], 0, 1, 1).is_ok());
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
    assert_eq!(TripletLoss::new(1.0).with_isa(missing).unwrap_err(), e);
}

#[test]
fn invalid_parameters_state_their_own_rule() {
    let e = TripletLoss::new(f32::NAN).validate().unwrap_err();
    assert!(matches!(
        e,
        Error::InvalidParameter {
            name: "margin",
            value,
            rule: "the margin must be finite (it may be negative)"
        } if value.is_nan()
    ));
    assert_eq!(
        msg(e),
        "margin = NaN is not allowed: the margin must be finite (it may be negative)"
    );
    let e = TripletLoss::new(1.0)
        .distance(Distance::EpsInSqrt(-1e-6))
        .validate()
        .unwrap_err();
    assert_eq!(
        msg(e),
        "eps = -0.000001 is not allowed: the eps of a distance must be finite and not negative"
    );
    assert!(
        TripletLoss::new(-3.0)
            .distance(Distance::EpsOnDiff(0.0))
            .validate()
            .is_ok()
    );
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
            .call(v, v)
            .upstream(Upstream::PerItem(&g))
            .run()
            .unwrap_err()),
        "missing Reduction::None, which a per-item upstream gradient needs"
    );
    let mut per_row = [0.0; 2];
    assert_eq!(
        msg(none
            .call(v, v)
            .per_row(&mut per_row)
            .upstream(Upstream::PerItem(&g[..1]))
            .run()
            .unwrap_err()),
        "length of the per-item upstream gradient is 1 but must be 2"
    );
    let mut gbuf = [0.0; 6];
    let grad = RowsMut::dense(&mut gbuf, 2, 3).unwrap();
    assert_eq!(
        msg(sum.forward_backward(v, v, None, Some(grad)).unwrap_err()),
        "row length of grad_b is 3 but must be 2"
    );
    // The triplet loss: the same rules, named for triplets.
    let t = Triplets::dense(&a, &a, &a, 2);
    let tl = TripletLoss::new(1.0).reduction(Reduction::None);
    assert_eq!(
        msg(tl.forward(t).unwrap_err()),
        "missing a per-triplet loss buffer, which Reduction::None needs"
    );
    let mut l = [0.0; 2];
    assert_eq!(
        msg(tl
            .call(t)
            .losses(&mut l)
            .upstream(Upstream::PerItem(&g[..1]))
            .run()
            .unwrap_err()),
        "length of the per-item upstream gradient is 1 but must be 2"
    );
}

#[test]
fn error_is_a_core_error() {
    fn takes(_: &dyn core::error::Error) {}
    takes(&Error::ByteLength { len: 1 });
}
