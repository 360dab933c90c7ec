//! Test helpers shared by the tests (`tests/common`) and the fuzz targets (`fuzz/src/lib.rs` includes
//! this file by path), so that both check with one piece of code.

/// Every option of a triplet call as arguments, through the call object: the property tests and
/// the fuzz targets vary them all at once.
pub trait TripletExt {
    /// `call(t)` with optional per-triplet losses, an upstream, gradients and a mode, run.
    fn fused<'o>(
        &self,
        t: triplet_simd::Triplets<'_>,
        losses: Option<&'o mut [f32]>,
        upstream: triplet_simd::Upstream<'o>,
        grads: triplet_simd::TripletGrads<'o>,
        mode: triplet_simd::GradMode,
    ) -> Result<triplet_simd::TripletStats, triplet_simd::Error>;
    /// A forward call with optional per-triplet losses.
    fn fwd(
        &self,
        t: triplet_simd::Triplets<'_>,
        losses: Option<&mut [f32]>,
    ) -> Result<triplet_simd::TripletStats, triplet_simd::Error>;
}

impl TripletExt for triplet_simd::TripletLoss {
    fn fused<'o>(
        &self,
        t: triplet_simd::Triplets<'_>,
        losses: Option<&'o mut [f32]>,
        upstream: triplet_simd::Upstream<'o>,
        grads: triplet_simd::TripletGrads<'o>,
        mode: triplet_simd::GradMode,
    ) -> Result<triplet_simd::TripletStats, triplet_simd::Error> {
        let c = self.call(t).upstream(upstream).grads(grads).mode(mode);
        match losses {
            Some(l) => c.losses(l).run(),
            None => c.run(),
        }
    }
    fn fwd(
        &self,
        t: triplet_simd::Triplets<'_>,
        losses: Option<&mut [f32]>,
    ) -> Result<triplet_simd::TripletStats, triplet_simd::Error> {
        match losses {
            Some(l) => self.call(t).losses(l).run(),
            None => self.forward(t),
        }
    }
}

/// The crate's repeatable f64 sum: in blocks of 256 items, each summed in order from its first item,
/// the block sums folded in order (the crate docs, "Determinism").
pub fn block_sum(items: impl IntoIterator<Item = f64>) -> f64 {
    let (mut total, mut block, mut k) = (0.0f64, 0.0f64, 0usize);
    for x in items {
        block = if k == 0 { x } else { block + x };
        k += 1;
        if k == 256 {
            total += block;
            k = 0;
        }
    }
    if k > 0 {
        total += block;
    }
    total
}

/// Every option of a squared-error call as arguments, through the call object.
pub trait SquaredErrorExt {
    /// `call(a, b)` with optional per-row losses, an upstream, gradient views and a mode, run.
    #[allow(clippy::too_many_arguments)]
    fn fused<'o>(
        &self,
        a: triplet_simd::Rows<'o>,
        b: triplet_simd::Rows<'o>,
        per_row: Option<&'o mut [f32]>,
        upstream: triplet_simd::Upstream<'o>,
        grad_a: Option<triplet_simd::RowsMut<'o>>,
        grad_b: Option<triplet_simd::RowsMut<'o>>,
        mode: triplet_simd::GradMode,
    ) -> Result<f32, triplet_simd::Error>;
}

impl SquaredErrorExt for triplet_simd::SquaredError {
    fn fused<'o>(
        &self,
        a: triplet_simd::Rows<'o>,
        b: triplet_simd::Rows<'o>,
        per_row: Option<&'o mut [f32]>,
        upstream: triplet_simd::Upstream<'o>,
        grad_a: Option<triplet_simd::RowsMut<'o>>,
        grad_b: Option<triplet_simd::RowsMut<'o>>,
        mode: triplet_simd::GradMode,
    ) -> Result<f32, triplet_simd::Error> {
        let mut c = self.call(a, b).upstream(upstream).mode(mode);
        if let Some(l) = per_row {
            c = c.per_row(l);
        }
        if let Some(g) = grad_a {
            c = c.grad_a(g);
        }
        if let Some(g) = grad_b {
            c = c.grad_b(g);
        }
        c.run()
    }
}
