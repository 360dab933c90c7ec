//! The training example's picture: the loss curve, the recall curve and a 2-D PCA projection of the
//! held-out embeddings coloured by class, as one SVG (plotters' SVG backend, no fonts or bitmaps).

use plotters::prelude::*;
use std::path::Path;

/// The two leading principal axes of `x` (rows × `dim`), by power iteration with deflation on the
/// covariance matrix (in `f64`, sums in row order), and every row projected on them.
pub fn pca_2d(x: &[f32], dim: usize) -> Vec<(f32, f32)> {
    let rows = x.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for r in x.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows.max(1) as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut c = vec![0.0f64; dim];
    for r in x.chunks_exact(dim) {
        for ((c, &v), m) in c.iter_mut().zip(r).zip(&mean) {
            *c = f64::from(v) - m;
        }
        for (i, &ci) in c.iter().enumerate() {
            for (s, &cj) in cov[i * dim..(i + 1) * dim].iter_mut().zip(&c) {
                *s += ci * cj;
            }
        }
    }
    let mut axes: Vec<Vec<f64>> = Vec::new();
    for _ in 0..2 {
        // A fixed start that is not orthogonal to anything in particular.
        let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + (i as f64 * 0.7).sin()).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0f64; dim];
            for (wi, row) in w.iter_mut().zip(cov.chunks_exact(dim)) {
                *wi = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            }
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            w.iter_mut().for_each(|a| *a /= norm);
            let delta: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if delta < 1e-12 {
                break;
            }
        }
        // Deflate: cov -= λ v vᵀ.
        for (i, row) in cov.chunks_exact_mut(dim).enumerate() {
            for (s, &vj) in row.iter_mut().zip(&v) {
                *s -= lambda * v[i] * vj;
            }
        }
        axes.push(v);
    }
    x.chunks_exact(dim)
        .map(|r| {
            let proj = |a: &[f64]| {
                r.iter()
                    .zip(&mean)
                    .zip(a)
                    .map(|((&v, m), w)| (f64::from(v) - m) * w)
                    .sum::<f64>() as f32
            };
            (proj(&axes[0]), proj(&axes[1]))
        })
        .collect()
}

/// Matplotlib's `tab10`.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// What the picture shows.
pub struct Picture<'a> {
    pub title: String,
    /// Per batch: (epoch as a fraction, loss).
    pub batch_losses: &'a [(f32, f32)],
    /// Per epoch: (epoch, mean loss).
    pub epoch_losses: &'a [(f32, f32)],
    /// (epoch, recall@1), epoch 0 the untrained network.
    pub recall: &'a [(f32, f32)],
    pub raw_recall: f32,
    /// The held-out embeddings projected, with their labels.
    pub points: &'a [(f32, f32)],
    pub labels: &'a [u32],
    pub class_names: [&'static str; 10],
}

fn range(values: impl Iterator<Item = f32> + Clone) -> (f32, f32) {
    let lo = values.clone().fold(f32::INFINITY, f32::min);
    let hi = values.fold(f32::NEG_INFINITY, f32::max);
    if lo.is_finite() && hi.is_finite() && hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

pub fn write_svg(path: &Path, pic: &Picture) -> DrawResult {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&pic.title, ("sans-serif", 20))?;
    let panels = root.split_evenly((1, 3));
    let epochs = pic.epoch_losses.len().max(1) as f32;

    // Loss.
    let (_, hi) = range(pic.batch_losses.iter().map(|p| p.1).chain([0.0]));
    let mut chart = ChartBuilder::on(&panels[0])
        .caption("training loss (mined triplets)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0f32..epochs, 0f32..hi)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .light_line_style(WHITE)
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            pic.batch_losses.iter().copied(),
            COLOURS[0].mix(0.3),
        ))?
        .label("per batch")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLOURS[0].mix(0.3)));
    chart
        .draw_series(LineSeries::new(
            pic.epoch_losses.iter().copied(),
            COLOURS[0].stroke_width(2),
        ))?
        .label("epoch mean")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLOURS[0].stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;

    // Recall.
    let (lo, hi) = range(
        pic.recall
            .iter()
            .map(|p| p.1)
            .chain([pic.raw_recall, 1.0_f32.min(pic.raw_recall + 0.05)]),
    );
    let mut chart = ChartBuilder::on(&panels[1])
        .caption(
            "held-out recall@1 (1-NN, leave-one-out)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0f32..epochs, lo..hi.min(1.0))?;
    chart
        .configure_mesh()
        .x_desc("epoch (0: untrained)")
        .y_desc("recall@1")
        .light_line_style(WHITE)
        .draw()?;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, pic.raw_recall), (epochs, pic.raw_recall)],
            6,
            4,
            COLOURS[7].stroke_width(2),
        ))?
        .label(format!("raw pixels {:.3}", pic.raw_recall))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLOURS[7].stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            pic.recall.iter().copied(),
            COLOURS[3].stroke_width(2),
        ))?
        .label("embedding")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], COLOURS[3].stroke_width(2)));
    chart.draw_series(
        pic.recall
            .iter()
            .map(|&p| Circle::new(p, 3, COLOURS[3].filled())),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;

    // PCA.
    let (x0, x1) = range(pic.points.iter().map(|p| p.0));
    let x1 = x1 + 0.3 * (x1 - x0); // room for the legend on the right
    let (y0, y1) = range(pic.points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(&panels[2])
        .caption(
            "held-out embeddings, first two principal axes",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("PC 1")
        .y_desc("PC 2")
        .light_line_style(WHITE)
        .draw()?;
    for (class, name) in pic.class_names.iter().enumerate() {
        let colour = COLOURS[class % COLOURS.len()];
        chart
            .draw_series(
                pic.points
                    .iter()
                    .zip(pic.labels)
                    .filter(|(_, l)| **l as usize == class)
                    .map(|(&p, _)| Circle::new(p, 2, colour.mix(0.7).filled())),
            )?
            .label(*name)
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 11))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}
