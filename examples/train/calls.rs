//! Every call the training example makes into `triplet-simd`, one small function each: the row
//! L2-normalisation and its backward, the miner fused with the loss and its gradient, and the
//! nearest-neighbour retrieval (the crate's distances).

use triplet_simd::{
    Backend, Distance, Error, GradMode, L2_NORMALIZE_EPS, Miner, MiningStats, Rows, RowsMut,
    Scratch, TripletMiner,
};

/// `y = z / max(‖z‖, eps)` for every row of `z` (rows × `dim`), keeping each row's norm for the backward.
pub fn normalize(
    backend: Backend,
    z: &[f32],
    dim: usize,
    y: &mut [f32],
    norms: &mut [f32],
) -> Result<(), Error> {
    let rows = norms.len();
    backend.l2_normalize_rows(
        Rows::dense(z, rows, dim)?,
        RowsMut::dense(y, rows, dim)?,
        Some(norms),
        L2_NORMALIZE_EPS,
    )
}

/// The gradient at `z` from the gradient `dy` at `y = normalize(z)`, given `y` and the norms.
pub fn normalize_backward(
    backend: Backend,
    y: &[f32],
    norms: &[f32],
    dy: &[f32],
    dz: &mut [f32],
    dim: usize,
) -> Result<(), Error> {
    let rows = norms.len();
    backend.l2_normalize_rows_backward(
        Rows::dense(y, rows, dim)?,
        norms,
        Rows::dense(dy, rows, dim)?,
        RowsMut::dense(dz, rows, dim)?,
        L2_NORMALIZE_EPS,
        GradMode::Overwrite,
    )
}

/// The miner's settings, as the command line gives them.
#[derive(Clone, Copy, Debug)]
pub struct MinerSettings {
    pub miner: Miner,
    pub margin: f32,
    pub soft: bool,
    /// `SqL2` or `Exact` (Euclidean).
    pub distance: Distance,
}

/// Mines the triplets of a batch `y` (rows × `dim`, labels one per row) and returns the reduced loss
/// (mean over the active triplets) with its statistics; writes the loss's gradient at `y` into `grad`.
/// `scratch` is grown to what the miner asks for (so it is allocated once).
pub fn mined_loss(
    backend: Backend,
    settings: MinerSettings,
    y: &[f32],
    labels: &[u32],
    dim: usize,
    scratch: &mut (Vec<f32>, Vec<u32>),
    grad: &mut [f32],
) -> Result<MiningStats, Error> {
    let rows = labels.len();
    let miner = TripletMiner::new(settings.miner, settings.margin)
        .soft_margin(settings.soft)
        .distance(settings.distance)
        .backend(backend);
    let need = miner.scratch_len(rows, 0)?;
    if scratch.0.len() < need.f32s {
        scratch.0.resize(need.f32s, 0.0);
    }
    if scratch.1.len() < need.u32s {
        scratch.1.resize(need.u32s, 0);
    }
    let scratch = Scratch {
        f32s: &mut scratch.0,
        u32s: &mut scratch.1,
    };
    miner.forward_backward(Rows::dense(y, rows, dim)?, labels, scratch, grad)
}

/// Recall@1 of nearest-neighbour retrieval under squared L2 (rows × `dim`): each query's nearest
/// gallery row (ties: the lowest row) is a hit when it has the query's label. With no gallery, the
/// queries are their own gallery and each query's own row is left out (leave-one-out). A query whose
/// distances are all NaN is a miss. The gallery is taken in blocks of 64 rows, every query against one
/// block before the next, so that a block stays in cache.
pub fn recall_at_1(
    backend: Backend,
    dim: usize,
    queries: (&[f32], &[u32]),
    gallery: Option<(&[f32], &[u32])>,
) -> Result<f64, Error> {
    const BLOCK: usize = 64;
    let (q, q_labels) = queries;
    let leave_one_out = gallery.is_none();
    let (g, g_labels) = gallery.unwrap_or(queries);
    let mut best: Vec<Option<(usize, f32)>> = vec![None; q_labels.len()];
    let mut d = [0.0f32; BLOCK];
    for start in (0..g_labels.len()).step_by(BLOCK) {
        let rows = BLOCK.min(g_labels.len() - start);
        let block = Rows::dense(g.get(start * dim..).unwrap_or(&[]), rows, dim)?;
        for (i, best) in best.iter_mut().enumerate() {
            let query = q.get(i * dim..(i + 1) * dim).unwrap_or(&[]);
            backend.sq_l2_one_to_many(query, block, &mut d[..rows])?;
            for (j, &dj) in (start..).zip(&d[..rows]) {
                let skip = leave_one_out && j == i;
                if !skip && !dj.is_nan() && best.is_none_or(|(_, b)| dj < b) {
                    *best = Some((j, dj));
                }
            }
        }
    }
    let hits = best
        .iter()
        .zip(q_labels)
        .filter(|(b, l)| b.is_some_and(|(j, _)| g_labels[j] == **l))
        .count();
    Ok(if q_labels.is_empty() {
        0.0
    } else {
        hits as f64 / q_labels.len() as f64
    })
}
