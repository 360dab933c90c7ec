//! The training example's data loader (`examples/common/data.rs`): the IDX parser on made-up bytes, and
//! the shipped files of `examples/data/` (skipped, with a notice, where that folder is absent, as in the
//! published package, which excludes it).

#[path = "../examples/common/data.rs"]
mod data;

use data::{Set, parse_idx, split_from_idx};

fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(values);
    v
}

#[test]
fn idx_parser_reads_shapes_and_rejects_bad_files() {
    let img = idx(&[2, 1, 3], &[0, 255, 51, 1, 2, 3]);
    let lab = idx(&[2], &[7, 9]);
    let s = split_from_idx(&img, &lab, 255.0).unwrap();
    assert_eq!((s.rows, s.height, s.width, s.dim()), (2, 1, 3, 3));
    assert_eq!(s.image(0), &[0.0, 1.0, 0.2]);
    assert_eq!(s.labels, [7, 9]);
    // wrong magic, short header, value count differing from the header, wrong label count
    assert!(parse_idx(&[0, 0, 9, 1, 0, 0, 0, 0]).is_err());
    assert!(parse_idx(&[0, 0, 8, 2, 0, 0, 0]).is_err());
    assert!(parse_idx(&idx(&[4], &[1, 2, 3])).is_err());
    assert!(split_from_idx(&img, &idx(&[3], &[1, 2, 3]), 255.0).is_err());
    assert!(split_from_idx(&lab, &lab, 255.0).is_err());
}

#[test]
fn shipped_sets_load_with_their_documented_shapes() {
    if !data::data_dir().exists() {
        eprintln!("examples/data is not here (the published package excludes it): skipped");
        return;
    }
    for (set, train, test, side) in [(Set::Digits, 1347, 450, 8), (Set::Fashion, 5000, 1000, 28)] {
        let d = data::load(set).unwrap();
        assert_eq!((d.train.rows, d.test.rows), (train, test), "{set:?}");
        assert_eq!((d.train.height, d.train.width), (side, side), "{set:?}");
        // Some pixel reaches the top of the scale, and the classes are all there.
        assert!(d.train.images.contains(&1.0), "{set:?}");
        assert_eq!(d.test.labels.iter().max(), Some(&9), "{set:?}");
        assert_eq!(Set::from_name(set.name()), Some(set));
    }
}
