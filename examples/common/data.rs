//! The training example's image data sets: reads the IDX files of `examples/data/` (written by
//! `tools/extract_datasets.py`; sources, licenses and sizes in `examples/data/README.md`) into `f32`
//! rows in `[0, 1]` and `u32` labels. Plain Rust, no dependencies.
//!
//! IDX (the MNIST format): bytes `0, 0, 0x08` (unsigned bytes), the number of dimensions, each
//! dimension as a big-endian `u32`, then the values in row-major order.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A data set shipped in `examples/data/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// The UCI handwritten digits (scikit-learn's copy): 8×8, pixels 0..16, 1,347 train / 450 held out.
    Digits,
    /// A Fashion-MNIST subset: 28×28, pixels 0..255, 5,000 train / 1,000 held out, balanced.
    Fashion,
}

impl Set {
    /// Every set, the default first.
    pub const ALL: [Set; 2] = [Set::Fashion, Set::Digits];

    /// The file-name stem and the command-line name: `"digits"`, `"fashion"`.
    pub fn name(self) -> &'static str {
        match self {
            Set::Digits => "digits",
            Set::Fashion => "fashion",
        }
    }

    /// The set named `name` (as [`Set::name`] spells it).
    pub fn from_name(name: &str) -> Option<Set> {
        Set::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The largest pixel value: a pixel `p` becomes `p / scale`.
    pub fn scale(self) -> f32 {
        match self {
            Set::Digits => 16.0,
            Set::Fashion => 255.0,
        }
    }

    /// The ten class names, by label.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            Set::Digits => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Set::Fashion => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }
}

/// One split: `rows` images of `height × width` pixels, each a row of `dim = height·width` values in
/// `[0, 1]`, stored densely in `images`.
#[derive(Clone, Debug)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    pub rows: usize,
    pub height: usize,
    pub width: usize,
}

impl Split {
    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.height * self.width
    }
    /// Image `r` as a row.
    pub fn image(&self, r: usize) -> &[f32] {
        &self.images[r * self.dim()..(r + 1) * self.dim()]
    }
}

/// A data set's train and held-out splits.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub set: Set,
    pub train: Split,
    pub test: Split,
}

/// `examples/data/` of this checkout.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("data")
}

/// Loads a set from [`data_dir`].
pub fn load(set: Set) -> Result<Dataset, String> {
    load_from(&data_dir(), set)
}

/// Loads a set from `dir` and checks it ([`Dataset::check`]).
pub fn load_from(dir: &Path, set: Set) -> Result<Dataset, String> {
    let split = |which: &str| -> Result<Split, String> {
        let read = |kind: &str| {
            let path = dir.join(format!("{}-{which}-{kind}.idx", set.name()));
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        split_from_idx(&read("images")?, &read("labels")?, set.scale())
            .map_err(|e| format!("{} {which}: {e}", set.name()))
    };
    let d = Dataset {
        set,
        train: split("train")?,
        test: split("test")?,
    };
    d.check()?;
    Ok(d)
}

impl Dataset {
    /// Both splits have images of the same size, one label per image, labels below 10, pixels in
    /// `[0, 1]`, and at least two images of every class.
    pub fn check(&self) -> Result<(), String> {
        for (which, s) in [("train", &self.train), ("test", &self.test)] {
            let ctx = |m: String| format!("{} {which}: {m}", self.set.name());
            if (s.height, s.width) != (self.train.height, self.train.width) {
                return Err(ctx("image size differs from the train split's".into()));
            }
            if s.labels.len() != s.rows || s.images.len() != s.rows * s.dim() {
                return Err(ctx("image and label counts differ".into()));
            }
            if let Some(l) = s.labels.iter().find(|&&l| l >= 10) {
                return Err(ctx(format!("label {l} is not a digit class 0..9")));
            }
            if !s.images.iter().all(|p| (0.0..=1.0).contains(p)) {
                return Err(ctx("a pixel is outside [0, 1]".into()));
            }
            let mut count = [0usize; 10];
            for &l in &s.labels {
                count[l as usize] += 1;
            }
            if let Some(c) = (0..10).find(|&c| count[c] < 2) {
                return Err(ctx(format!("class {c} has {} images", count[c])));
            }
        }
        Ok(())
    }
}

/// Parses an IDX file of unsigned bytes: its dimensions and its values.
pub fn parse_idx(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    if bytes.len() < 4 || bytes[..3] != [0, 0, 0x08] {
        return Err("not an IDX file of unsigned bytes".into());
    }
    let ndim = usize::from(bytes[3]);
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err("IDX header is cut short".into());
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("IDX dimensions overflow")?;
    let data = &bytes[header..];
    if data.len() != n {
        return Err(format!(
            "IDX header says {n} values, the file holds {}",
            data.len()
        ));
    }
    Ok((dims, data))
}

/// A split from its images file (3 dimensions: count, height, width) and labels file (1 dimension).
pub fn split_from_idx(images: &[u8], labels: &[u8], scale: f32) -> Result<Split, String> {
    let (dims, pixels) = parse_idx(images)?;
    let [rows, height, width] = dims[..] else {
        return Err(format!("images: {} dimensions, not 3", dims.len()));
    };
    let (ldims, labels) = parse_idx(labels)?;
    if ldims[..] != [rows] {
        return Err(format!("labels: shape {ldims:?} for {rows} images"));
    }
    Ok(Split {
        images: pixels.iter().map(|&p| f32::from(p) / scale).collect(),
        labels: labels.iter().map(|&l| u32::from(l)).collect(),
        rows,
        height,
        width,
    })
}
