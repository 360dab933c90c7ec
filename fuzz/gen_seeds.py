#!/usr/bin/env python3
"""Writes the committed seed inputs under fuzz/seeds/<target>/.

The byte format is the one `fuzz/src/lib.rs` decodes (see its module docs); the helpers below are its
encoder. Each seed is named after what it exercises. Rerun after changing the format:
    python3 fuzz/gen_seeds.py
and check what the seeds decode to with
    FUZZ_DEBUG=1 fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/seeds/<target>/*
"""

import os
import shutil
import struct

CAP = 1 << 14
HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v):
    return bytes([v & 0xFF])


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def header(seed=1):
    return u32(seed)


# --- size: usually small, sometimes huge ---
def size(v):
    assert 0 <= v < 160
    return u8(0) + u16(v)


def size_u16(v):
    return u8(4) + u16(v)


def size_max_minus(p):
    return u8(5) + u16(p)  # usize::MAX - p


def size_pow2(k):
    return u8(6) + u16(k)  # 1 << k


def size_half(p):
    return u8(7) + u16(p)  # usize::MAX / 2 + p


# --- count: an allocatable length ---
def count(v):
    assert 0 <= v <= CAP
    return (u8(0) + u16(v)) if v < 160 else (u8(3) + u16(v))


# --- stride(dim) ---
def stride_dense():
    return u8(0) + u16(0)


def stride_pad(k):
    return u8(1) + u16(k)  # dim + k


def stride_short(k=0):
    return u8(2) + u16(k)  # dim - 1 - k


def stride_abs(size_bytes):
    return u8(3) + u16(0) + size_bytes


# --- len(required) ---
def len_exact():
    return u8(0) + u16(0)


def len_more(k):
    return u8(1) + u16(k)


def len_less(k=0):
    return u8(2) + u16(k)  # required - 1 - k


def len_abs(v):
    return u8(3) + u16(v)


# --- f32 ---
def f(x):
    return u8(3) + u32(struct.unpack("<I", struct.pack("<f", x))[0])


def fbits(b):
    return u8(3) + u32(b)


def fint(x):
    """x must be a multiple of 1/16 in [-2048, 2048)."""
    return u8(0) + u32(int(round(x * 16)) & 0xFFFF)


def fspecial(i):
    return u8(5) + u32(i)


def floats(xs):
    return b"".join(f(x) if isinstance(x, float) else fint(x) for x in xs)


# --- related(src, n) ---
def rel_independent(values=b""):
    return u8(0) + values


def rel_copy(overrides=()):
    out = u8(2) + u8(len(overrides))
    for i, x in overrides:
        out += u16(i) + f(x)
    return out


def rel_nudge(ulps):
    return u8(3) + b"".join(u8(k) for k in ulps)


# --- views (ViewSpec::decode): stride, layout, length, then the values ---
def view_floats(stride, length, offset=0):
    return stride + u8(0) + u8(offset) + length


def view_bytes(stride, length, byte_offset=0, slop=0):
    extra = 0 if slop == 0 else 192 + (slop - 1)
    return stride + u8(3) + u8(byte_offset) + u8(extra) + length


# --- out_buffer(rows) ---
def out_exact(fill=-7.0):
    return u8(0) + f(fill)


def out_len(v, fill=-7.0):
    return u8(3) + count(v) + f(fill)


NAN, INF, SUB, MAXF = 7, 5, 13, 16  # indices into SPECIALS


def pair_seeds():
    s = {}
    # The design document's worked example: sq_l2 = 0.10, l2 = 0.316.
    s["worked_example"] = header() + count(3) + u8(0) + floats([1, 2, 3]) + rel_independent(floats([1.1, 2, 3.3]))
    s["empty"] = header() + count(0) + u8(0)
    s["unequal_lengths"] = header() + count(67) + u8(255) + count(66)
    s["len_65_benign"] = header(7) + count(65) + u8(0)
    specials = b"".join(fspecial(i) for i in [NAN, INF, SUB, MAXF, 6, 23, 18, 1])
    s["specials_vs_copy"] = header() + count(8) + u8(0) + specials + rel_copy([(2, 1e-38), (5, 0.0)])
    s["overflow_to_inf"] = header() + count(2) + u8(0) + floats([3e38, -3e38]) + rel_independent(floats([-3e38, 3e38]))
    near = floats([(i % 64) - 31.5 for i in range(130)])
    s["near_equal_130"] = header() + count(130) + u8(0) + near + rel_nudge([1, 255, 0, 2] * 33)
    s["long_4000"] = header(3) + count(4000) + u8(0)
    return s


def rows_seeds(one_to_many=False):
    s = {}

    def query(mode_same=True, qlen=None, values=b""):
        if mode_same:
            return u8(0) + values
        return u8(255) + count(qlen) + values

    # a: rows=2 dim=3 stride 4 (the crate docs' example), b dense; out exact.
    a_vals = floats([1, 2, 3, 0, 4, 5, 6])
    if not one_to_many:
        va = view_floats(stride_pad(1), len_exact())
        s["doc_example"] = (header() + size(2) + size(3) + va + a_vals + u8(0)
                            + view_floats(stride_dense(), len_exact()) + rel_independent(floats([1, 2, 3, 4, 5, 8]))
                            + out_exact())
        s["stride_too_small"] = header() + size(2) + size(5) + view_floats(stride_short(0), len_abs(20))
        s["size_overflow"] = (header() + size_max_minus(0) + size(1) + view_floats(stride_abs(size_pow2(40)), len_abs(8)))
        s["buffer_too_short"] = header() + size(3) + size(4) + view_floats(stride_pad(2), len_less(0))
        s["bytes_misaligned"] = header() + size(2) + size(2) + view_bytes(stride_dense(), len_exact(), byte_offset=1)
        s["bytes_slop"] = header() + size(2) + size(2) + view_bytes(stride_dense(), len_exact(), slop=2)
        s["bytes_valid_offset4"] = (header() + size(4) + size(17) + view_bytes(stride_pad(3), len_exact(), byte_offset=4)
                                    + floats(range(-40, 38)) + u8(0) + view_bytes(stride_dense(), len_more(2)) + rel_nudge([1] * 70)
                                    + out_exact())
        s["rows_mismatch"] = (header() + size(3) + size(2) + view_floats(stride_dense(), len_exact()) + floats([1] * 6)
                              + u8(255) + size(2) + size(2) + view_floats(stride_dense(), len_exact()) + rel_independent(floats([2] * 4))
                              + out_exact())
        s["dim_mismatch"] = (header() + size(2) + size(3) + view_floats(stride_dense(), len_exact()) + floats([1] * 6)
                             + u8(255) + size(2) + size(4) + view_floats(stride_dense(), len_exact()) + rel_independent(floats([2] * 8))
                             + out_exact())
        s["out_too_long"] = (header() + size(2) + size(3) + view_floats(stride_dense(), len_exact()) + floats([1] * 6)
                             + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy([(1, 5.0)]) + out_len(3))
        s["zero_rows_huge_dim"] = (header() + size(0) + size_max_minus(1) + view_floats(stride_abs(size_max_minus(0)), len_abs(0))
                                   + u8(0) + view_floats(stride_dense(), len_abs(0)) + rel_independent() + out_exact())
        s["empty_rows_huge_count"] = (header() + size_pow2(40) + size(0) + view_floats(stride_dense(), len_abs(0))
                                      + u8(0) + view_floats(stride_dense(), len_abs(0)) + rel_independent() + out_len(16))
        s["many_rows_130"] = (header(5) + size(40) + size(130) + view_floats(stride_pad(5), len_exact(), offset=3)
                              + floats([(i % 32) - 16 for i in range(40)]))  # the rest: benign values
        return s

    # one_to_many: view, query, out
    s["doc_example"] = (header() + size(2) + size(2) + view_floats(stride_dense(), len_exact()) + floats([0, 0, 3, 4])
                        + query() + rel_independent(floats([0, 0])) + out_exact())
    s["query_too_short"] = (header() + size(3) + size(5) + view_floats(stride_pad(1), len_exact()) + floats(range(17))
                            + query(False, 4) + rel_independent(floats([1, 2, 3, 4])) + out_exact())
    s["out_too_short"] = (header() + size(3) + size(5) + view_floats(stride_dense(), len_exact()) + floats(range(15))
                          + query() + rel_copy([(0, -1.0)]) + out_len(2))
    s["stride_too_small"] = header() + size(2) + size(5) + view_floats(stride_short(3), len_abs(20))
    s["bytes_misaligned"] = header() + size(1) + size(3) + view_bytes(stride_dense(), len_exact(), byte_offset=2)
    s["bytes_slop"] = header() + size(1) + size(3) + view_bytes(stride_dense(), len_exact(), slop=1)
    s["size_overflow"] = header() + size_half(0) + size(3) + view_floats(stride_abs(size_u16(4)), len_abs(0))
    s["specials"] = (header() + size(2) + size(4) + view_bytes(stride_pad(1), len_exact(), byte_offset=4)
                     + b"".join(fspecial(i) for i in [NAN, INF, SUB, MAXF, 6, 23, 18, 1, 24, 25]) + query()
                     + rel_copy([(1, 2.0)]) + out_exact())
    s["near_equal_many_rows"] = (header(9) + size(3) + size(70) + view_floats(stride_dense(), len_exact(), offset=1)
                                 + floats([(i % 48) / 4 for i in range(211)]) + query() + rel_nudge([1, 2] * 35)
                                 + out_exact())
    s["zero_rows"] = (header() + size(0) + size(9) + view_floats(stride_dense(), len_exact()) + query()
                      + rel_independent(floats(range(9))) + out_exact())
    return s


def se_head(kind_mse, reduction, overwrite, backward):
    return u8(kind_mse) + u8(reduction) + u8(overwrite) + u8(1 if backward else 0)


RED = {"none": 0, "sum": 1, "mean": 2, "mean_active": 3}


def squared_error_seeds():
    s = {}
    # Worked example: MSE, Sum, forward_backward into grad_a: loss = 0.1 / 3.
    a = floats([1, 2, 3])
    b = rel_independent(floats([1.1, 2, 3.3]))
    s["worked_example_mse"] = (header() + se_head(1, RED["sum"], 1, True) + size(1) + size(3)
                               + view_floats(stride_dense(), len_exact()) + a + u8(0) + view_floats(stride_dense(), len_exact()) + b
                               + u8(1) + out_exact() + u8(1) + f(1.0)
                               + u8(1) + u8(0) + view_floats(stride_dense(), len_exact()) + floats([0, 0, 0])
                               + u8(0))
    for red in RED:
        for mse in (0, 1):
            for ow in (0, 1):
                name = "fb_%s_%s_%s" % ("mse" if mse else "sos", red, "overwrite" if ow else "accumulate")
                va = view_floats(stride_pad(3), len_exact(), offset=1) + floats([(i % 40) / 8 - 2 for i in range(98)])
                vb = u8(0) + view_bytes(stride_dense(), len_exact(), byte_offset=4) + rel_nudge(([2, 1, 0] * 30)[:86])
                up = (u8(0) + u8(0) + floats([1, -2, 0.5, 0, 3])) if red == "none" and ow else (u8(1) + f(1.0))
                ga = u8(1) + u8(0) + view_floats(stride_pad(4), len_exact(), offset=2) + floats([0.25] * 103)
                gb = u8(1) + u8(0) + view_bytes(stride_pad(1), len_exact()) + floats([-1] * 89)
                s[name] = (header(11) + se_head(mse, RED[red], ow, True) + size(5) + size(17) + va + vb
                           + u8(1) + out_exact() + up + ga + gb)
    s["forward_mean_no_per_row"] = (header(2) + se_head(0, RED["mean"], 1, False) + size(8) + size(65)
                                    + view_floats(stride_dense(), len_exact())
                                    + floats([(i % 9) - 4 for i in range(100)]))  # the rest: benign, no per_row
    s["none_without_per_row"] = (header() + se_head(0, RED["none"], 1, False) + size(2) + size(2)
                                 + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4])
                                 + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy() + u8(0))
    s["per_item_with_mean"] = (header() + se_head(1, RED["mean"], 1, True) + size(2) + size(2)
                               + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4])
                               + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy([(0, 9.0)])
                               + u8(1) + out_exact() + u8(0) + u8(0) + floats([1, 1]) + u8(0) + u8(0))
    s["per_item_wrong_len"] = (header() + se_head(0, RED["none"], 0, True) + size(3) + size(2)
                               + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4, 5, 6])
                               + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy([(0, 9.0)])
                               + u8(1) + out_exact() + u8(0) + u8(255) + count(2) + floats([1, 1]) + u8(0) + u8(0))
    s["per_row_wrong_len"] = (header() + se_head(0, RED["sum"], 0, False) + size(3) + size(2)
                              + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4, 5, 6])
                              + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy()
                              + u8(1) + out_len(4))
    s["grad_shape_mismatch"] = (header() + se_head(0, RED["sum"], 1, True) + size(3) + size(2)
                                + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4, 5, 6])
                                + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy([(3, -1.0)])
                                + u8(0) + u8(1) + f(1.0)
                                + u8(1) + u8(255) + size(3) + size(3) + view_floats(stride_dense(), len_exact()) + floats([0] * 9)
                                + u8(0))
    s["b_shape_mismatch"] = (header() + se_head(1, RED["mean"], 1, False) + size(3) + size(2)
                             + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4, 5, 6])
                             + u8(255) + size(2) + size(2) + view_floats(stride_dense(), len_exact()) + rel_independent(floats([1] * 4))
                             + u8(0))
    s["grad_bytes_misaligned"] = (header() + se_head(0, RED["sum"], 1, True) + size(2) + size(2)
                                  + view_floats(stride_dense(), len_exact()) + floats([1, 2, 3, 4])
                                  + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy()
                                  + u8(0) + u8(1) + f(1.0)
                                  + u8(1) + u8(0) + view_bytes(stride_dense(), len_exact(), byte_offset=3) + floats([0] * 5)
                                  + u8(0))
    s["zero_rows_mean"] = (header() + se_head(1, RED["mean"], 1, True) + size(0) + size(4)
                           + view_floats(stride_dense(), len_exact()) + u8(0) + view_floats(stride_dense(), len_exact())
                           + rel_independent() + u8(1) + out_exact() + u8(1) + f(1.0) + u8(0) + u8(0))
    s["specials_accumulate"] = (header() + se_head(1, RED["sum"], 0, True) + size(2) + size(5)
                                + view_floats(stride_dense(), len_exact())
                                + b"".join(fspecial(i) for i in [NAN, 1, SUB, MAXF, 23, 2, 3, 18, 19, 24])
                                + u8(0) + view_floats(stride_dense(), len_exact()) + rel_copy([(0, 1.0), (3, -3e38)])
                                + u8(1) + out_exact() + u8(1) + f(0.75)
                                + u8(1) + u8(0) + view_floats(stride_pad(1), len_exact())
                                + b"".join(fspecial(i) for i in [INF, 1, 2, 24, 0, 11, 12, 13, 14, 15, 16])
                                + u8(1) + u8(0) + view_floats(stride_dense(), len_exact()) + floats([0.5] * 10))
    return s


def main():
    all_seeds = {
        "pair": pair_seeds(),
        "rows": rows_seeds(False),
        "one_to_many": rows_seeds(True),
        "squared_error": squared_error_seeds(),
    }
    for target, seeds in all_seeds.items():
        d = os.path.join(HERE, "seeds", target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(data)
        print("%s: %d seeds" % (target, len(seeds)))


if __name__ == "__main__":
    main()
