//! One training step's loss and gradients for a batch of triplets laid out as a network emits them,
//! interleaved `[a0 p0 n0 a1 p1 n1 …]`, with no copy; then the same loss for index triplets mined over
//! one embedding matrix. Prints the backend, the loss, the statistics and a gradient check.
//!
//! `cargo run --release --example triplet_step`

use triplet_simd::{
    Backend, Distance, Isa, Reduction, Rows, TripletGrads, TripletLoss, Triplets, reference,
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
    let batch = Triplets::interleaved(&out, d);

    println!(
        "backend: {} (available: {:?})",
        Isa::detect(),
        Isa::available().collect::<Vec<_>>()
    );

    let loss = TripletLoss::new(0.2).reduction(Reduction::Mean);
    let mut grad = vec![0.0f32; 3 * n * d];
    let stats = loss.forward_backward(batch, TripletGrads::interleaved(&mut grad))?;
    println!(
        "squared-L2 triplet loss (margin 0.2, mean): {:.6}, active {}/{n}, mean d(a,p) {:.4}, mean d(a,n) {:.4}",
        stats.loss, stats.active, stats.mean_d_ap, stats.mean_d_an
    );
    let [a, p, neg] = Rows::interleaved::<3>(&out, d)?;
    let oracle = reference::triplet_loss(&loss, a, p, neg, None)?;
    println!("f64 oracle: {oracle:.6}");

    // Every backend gives the same bits (the emulated ones are slow: they test lane widths).
    for backend in Backend::all() {
        let mut g = vec![0.0f32; 3 * n * d];
        let s = loss
            .backend(backend)
            .forward_backward(batch, TripletGrads::interleaved(&mut g))?;
        let same = s.loss.to_bits() == stats.loss.to_bits()
            && g.iter().zip(&grad).all(|(x, y)| x.to_bits() == y.to_bits());
        println!(
            "  {:>11}: loss {:.6}, gradients bit-identical to the default: {same}",
            backend.isa(),
            s.loss
        );
    }

    // PyTorch's F.triplet_margin_loss defaults, with swap, on the same batch.
    let torch = TripletLoss::pytorch().swap(true);
    println!(
        "PyTorch-style (p=2, eps=1e-6, margin 1, swap, mean): {:.6}",
        torch.forward(batch)?.loss
    );
    let soft = TripletLoss::soft();
    println!(
        "soft margin (Hermans et al.): {:.6}",
        soft.forward(batch)?.loss
    );

    // Index triplets over one embedding matrix, as a miner would produce them.
    let emb = Rows::dense(&out, 3 * n, d)?;
    let triplets: Vec<[u32; 3]> = (0..n as u32)
        .map(|i| [3 * i, 3 * i + 1, (3 * i + 5) % (3 * n as u32)])
        .collect();
    let mut g = vec![0.0f32; 3 * n * d];
    let st = TripletLoss::new(0.2)
        .distance(Distance::Exact)
        .forward_backward(
            Triplets::indexed(emb, &triplets),
            TripletGrads::matrix(&mut g),
        )?;
    println!(
        "index triplets (Euclidean, margin 0.2): loss {:.6}, active {}/{}",
        st.loss,
        st.active,
        triplets.len()
    );
    Ok(())
}
