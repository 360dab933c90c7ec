//! One training step's loss and gradients for a batch of triplets laid out as a network emits them,
//! interleaved `[a0 p0 n0 a1 p1 n1 …]`, with no copy; then the same loss for index triplets mined over
//! one embedding matrix. Prints the backend, the loss, the statistics and a gradient check.
//!
//! `cargo run --release --example triplet_step`

use triplet_simd::{
    Backend, Distance, GradMode, Isa, Reduction, Rows, RowsMut, TripletGrads, TripletLoss,
    Upstream, reference,
};

fn main() -> Result<(), triplet_simd::Error> {
    let (n, d) = (256usize, 128usize);
    // A deterministic stand-in for a network's output: 3n rows of d values.
    let mut s = 0x2545_f491u32;
    let out: Vec<f32> = (0..3 * n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect();
    let stride = 3 * d;
    let a = Rows::new(&out, n, d, stride)?;
    let p = Rows::new(&out[d..], n, d, stride)?;
    let neg = Rows::new(&out[2 * d..], n, d, stride)?;

    println!(
        "backend: {} (available: {:?})",
        Isa::detect(),
        Isa::available().collect::<Vec<_>>()
    );

    let loss = TripletLoss::new(0.2).reduction(Reduction::Mean);
    let mut grad = vec![0.0f32; 3 * n * d];
    let stats = loss.forward_backward(
        a,
        p,
        neg,
        None,
        Upstream::Scalar(1.0),
        TripletGrads::Interleaved(RowsMut::dense(&mut grad, 3 * n, d)?),
        GradMode::Overwrite,
    )?;
    println!(
        "squared-L2 triplet loss (margin 0.2, mean): {:.6}, active {}/{n}, mean d(a,p) {:.4}, mean d(a,n) {:.4}",
        stats.loss, stats.active, stats.mean_d_ap, stats.mean_d_an
    );
    let oracle = reference::triplet_loss(&loss, a, p, neg, None)?;
    println!("f64 oracle: {oracle:.6}");

    // Every backend gives the same bits.
    for isa in Isa::available() {
        let mut g = vec![0.0f32; 3 * n * d];
        let s = loss.backend(Backend::new(isa)?).forward_backward(
            a,
            p,
            neg,
            None,
            Upstream::Scalar(1.0),
            TripletGrads::Interleaved(RowsMut::dense(&mut g, 3 * n, d)?),
            GradMode::Overwrite,
        )?;
        let same = s.loss.to_bits() == stats.loss.to_bits()
            && g.iter().zip(&grad).all(|(x, y)| x.to_bits() == y.to_bits());
        println!(
            "  {isa:>7}: loss {:.6}, gradients bit-identical to the default: {same}",
            s.loss
        );
    }

    // PyTorch's F.triplet_margin_loss defaults, with swap, on the same batch.
    let torch = TripletLoss::pytorch().swap(true);
    println!(
        "PyTorch-style (p=2, eps=1e-6, margin 1, swap, mean): {:.6}",
        torch.forward(a, p, neg, None)?.loss
    );
    let soft = TripletLoss::soft();
    println!(
        "soft margin (Hermans et al.): {:.6}",
        soft.forward(a, p, neg, None)?.loss
    );

    // Index triplets over one embedding matrix, as a miner would produce them.
    let emb = Rows::dense(&out, 3 * n, d)?;
    let triplets: Vec<[u32; 3]> = (0..n as u32)
        .map(|i| [3 * i, 3 * i + 1, (3 * i + 5) % (3 * n as u32)])
        .collect();
    let mut g = vec![0.0f32; 3 * n * d];
    let st = TripletLoss::new(0.2)
        .distance(Distance::Exact)
        .forward_backward_indexed(
            emb,
            &triplets,
            None,
            Upstream::Scalar(1.0),
            RowsMut::dense(&mut g, 3 * n, d)?,
            GradMode::Overwrite,
        )?;
    println!(
        "index triplets (Euclidean, margin 0.2): loss {:.6}, active {}/{}",
        st.loss,
        st.active,
        triplets.len()
    );
    Ok(())
}
