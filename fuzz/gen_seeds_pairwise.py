#!/usr/bin/env python3
"""Writes the committed seeds of the `pairwise` target under fuzz/seeds/pairwise/.

Uses the encoders of gen_seeds.py (the byte format of fuzz/src/lib.rs); the input layout of the target
is in the module docs of fuzz/src/pairwise.rs. Rerun after changing either:
    python3 fuzz/gen_seeds_pairwise.py
"""

import os
import shutil

from gen_seeds import (HERE, INF, NAN, SUB, MAXF, f, fspecial, floats, header, len_abs, len_exact, len_less,
                       len_more, rel_copy, rel_independent, rel_nudge, size, size_max_minus, size_pow2, stride_abs,
                       stride_dense, stride_pad, stride_short, u8, view_bytes, view_floats)

SELF, TWO = u8(0), u8(255)
SAME_DIM, OWN_DIM = u8(0), u8(255)
OUT_SHAPE = u8(0)


def out_own(rows, cols):
    return u8(255) + size(rows) + size(cols)


def pairwise_seeds():
    s = {}
    # The doc example: x 3×2, y 2×2, out 3×2 with stride 3 (padding kept).
    s["doc_example"] = (header() + TWO + size(3) + size(2) + view_floats(stride_dense(), len_exact())
                        + floats([0, 0, 1, 1, 3, 4]) + size(2) + SAME_DIM + view_floats(stride_dense(), len_exact())
                        + rel_independent(floats([0, 0, 1, 0])) + OUT_SHAPE
                        + view_floats(stride_pad(1), len_exact()) + floats([-1.0] * 8))
    # Self form, 7 rows of 65 (a tail past one 64-lane block), padded output.
    s["self_7x65"] = (header(3) + SELF + size(7) + size(65) + view_floats(stride_pad(3), len_exact(), offset=1)
                      + OUT_SHAPE + view_floats(stride_pad(2), len_more(3)))
    # Self form with NaN, inf and subnormal values in the rows.
    s["self_specials"] = (header(5) + SELF + size(5) + size(9) + view_floats(stride_dense(), len_exact())
                          + b"".join(fspecial(i) for i in [NAN, 1, INF, SUB, MAXF, 23, 0, 2, 3] * 5)
                          + OUT_SHAPE + view_floats(stride_dense(), len_exact()))
    # Two views of near-equal rows (cancellation in a matmul form), 9×6 of dim 130.
    near = floats([(i % 64) / 8 - 4 for i in range(9 * 130)])
    s["near_equal_9x6x130"] = (header(7) + TWO + size(9) + size(130) + view_floats(stride_dense(), len_exact())
                               + near + size(6) + SAME_DIM + view_floats(stride_dense(), len_exact())
                               + rel_nudge([1, 255, 0, 2] * 195) + OUT_SHAPE + view_floats(stride_dense(), len_exact()))
    # Errors: y's dim differs; out has the wrong shape; out's stride is below its row length.
    s["dim_mismatch"] = (header() + TWO + size(2) + size(3) + view_floats(stride_dense(), len_exact())
                         + floats([1] * 6) + size(2) + OWN_DIM + size(4) + view_floats(stride_dense(), len_exact()) + rel_independent(floats([2] * 8))
                         + OUT_SHAPE + view_floats(stride_dense(), len_exact()))
    s["out_rows_wrong"] = (header() + TWO + size(3) + size(2) + view_floats(stride_dense(), len_exact())
                           + floats([1] * 6) + size(4) + SAME_DIM + view_floats(stride_dense(), len_exact()) + rel_independent(floats([2] * 8))
                           + out_own(2, 4) + view_floats(stride_dense(), len_exact()))
    s["out_cols_wrong_self"] = (header() + SELF + size(4) + size(3) + view_floats(stride_dense(), len_exact())
                                + floats([1, 2, 3] * 4) + out_own(4, 3) + view_floats(stride_pad(1), len_exact()))
    s["out_stride_too_small"] = (header() + SELF + size(3) + size(3) + view_floats(stride_dense(), len_exact())
                                 + floats([1] * 9) + OUT_SHAPE + view_floats(stride_short(0), len_abs(9)))
    s["out_too_short"] = (header() + SELF + size(3) + size(3) + view_floats(stride_dense(), len_exact())
                          + floats([1] * 9) + OUT_SHAPE + view_floats(stride_dense(), len_less(0)))
    # Huge: x has usize::MAX − 0 rows of dim 0 against no rows of y; out usize::MAX × 0 with stride 0.
    s["huge_rows_dim0"] = (header() + TWO + size_max_minus(0) + size(0) + view_floats(stride_dense(), len_abs(0))
                           + size(0) + SAME_DIM + view_floats(stride_dense(), len_abs(0)) + rel_independent()
                           + OUT_SHAPE + view_floats(stride_dense(), len_abs(0)))
    # An output whose size overflows.
    s["out_size_overflow"] = (header() + SELF + size(2) + size(1) + view_floats(stride_dense(), len_exact())
                              + floats([1, 2]) + out_own(2, 2) + view_floats(stride_abs(size_pow2(63)), len_abs(8)))
    # Bytes layout for x, a copy of x for y with a few values replaced.
    s["bytes_x_copy_y"] = (header(9) + TWO + size(5) + size(17) + view_bytes(stride_pad(3), len_exact(), byte_offset=4)
                           + floats([(i % 29) / 4 - 3 for i in range(4 * 20 + 17 + 1)]) + size(5) + SAME_DIM + view_floats(stride_dense(), len_exact())
                           + rel_copy([(3, 0.0), (40, 1e-38), (77, 2.0e19)])
                           + OUT_SHAPE + view_floats(stride_pad(5), len_exact()))
    return s


def main():
    seeds = pairwise_seeds()
    d = os.path.join(HERE, "seeds", "pairwise")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    print("pairwise: %d seeds" % len(seeds))


if __name__ == "__main__":
    main()
