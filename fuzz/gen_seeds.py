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


# --- triplet settings (triplet::Settings::decode) ---
EPS_TABLE = [1e-6, 1e-12, 0.0, -0.0, 1e-3, 0.5, "2^-149", 2.0]  # indices for eps_t()
MARGIN_TABLE = [0.2, 1.0, 0.0, -0.0, 0.5, -0.5, 2.0, 100.0]  # indices for margin_t()
DIST = {"sq": 0, "eps_on_diff": 1, "eps_in_sqrt": 2, "exact": 3}


def eps_t(i):
    return u8(4 * i + 1)  # EPS_TABLE[i]


def eps_f(x):
    return u8(0) + (x if isinstance(x, bytes) else f(x))


def margin_t(i):
    return u8(4 * i + 1)  # MARGIN_TABLE[i]


def margin_f(x):
    return u8(0) + (x if isinstance(x, bytes) else f(x))


def settings(dist="sq", eps=None, margin=None, swap=False, soft=False, red="mean"):
    """eps / margin: None (table entry 0: 1e-6 / 0.2) or bytes from eps_t/eps_f, margin_t/margin_f."""
    out = u8(DIST[dist])
    if dist in ("eps_on_diff", "eps_in_sqrt"):
        out += eps if eps is not None else eps_t(0)
    out += margin if margin is not None else margin_t(0)
    return out + u8(int(swap)) + u8(int(soft)) + u8(RED[red])


def up_scalar(g=1.0):
    return u8(1) + f(g)


def up_per_item(values):
    return u8(0) + u8(0) + floats(values)  # n values (n <= CAP)


def up_per_item_len(length, values):
    return u8(0) + u8(255) + count(length) + floats(values)


def dense(values):
    return view_floats(stride_dense(), len_exact()) + floats(values)


def size_any(v):
    return size(v) if v < 160 else size_u16(v)


def triplet_case(st, overwrite, backward, n, dim, a, p, nv, losses, up, grads=b""):
    """a: view bytes with values; p, nv: a shape byte, a view and `related` values; losses: bytes from
    out_exact/out_len or u8(0) (none)."""
    return (header(21) + st + u8(int(overwrite)) + u8(1 if backward else 0) + size_any(n) + size_any(dim) + a + p + nv
            + losses + up + grads)


def same_shape(view_and_values):
    return u8(0) + view_and_values


def no_losses():
    return u8(0)


def with_losses(fill=-7.0):
    return u8(1) + out_exact(fill)


def interleaved(view_and_values, own_shape=None):
    if own_shape is None:
        return u8(1) + u8(0) + view_and_values
    return u8(1) + u8(255) + own_shape + view_and_values


def separate(*members):
    """Each member: None (absent) or a view with values (shape n × dim); or (shape bytes, view)."""
    out = u8(0)
    for m in members:
        if m is None:
            out += u8(0)
        elif isinstance(m, tuple):
            out += u8(1) + u8(255) + m[0] + m[1]
        else:
            out += u8(1) + u8(0) + m
    return out


def triplet_seeds():
    s = {}
    # The crate docs' interleaved example: losses 0.95 and 0, Sum, gradients into one 6 x 2 buffer.
    s["doc_interleaved"] = triplet_case(
        settings("sq", margin=margin_f(0.2), red="sum"), True, True, 2, 2,
        dense([0, 0, 0, 0]), same_shape(view_floats(stride_dense(), len_exact()) + rel_independent(floats([1, 0, 0.1, 0]))),
        same_shape(view_floats(stride_dense(), len_exact()) + rel_independent(floats([0.5, 0, 3, 0]))),
        with_losses(), up_scalar(1.0), interleaved(dense([9] * 12)))
    # Every distance x reduction, with swap, soft margin, grad mode and gradient layout varied.
    k = 0
    for dist in DIST:
        for red in RED:
            swap, soft, ow = bool(k & 1), bool(k & 2), bool(k & 4)
            n, dim = 5, 17
            a = view_floats(stride_pad(3), len_exact(), offset=1) + floats([(i % 40) / 8 - 2 for i in range(98)])
            p = same_shape(view_bytes(stride_dense(), len_exact(), byte_offset=4) + rel_nudge(([9, 1, 0, 3] * 30)[:86]))
            nv = same_shape(view_floats(stride_pad(1), len_exact()) + rel_copy([(3, 1.5), (20, -2.0), (40, 0.25)]))
            losses = with_losses() if red == "none" or k % 3 else no_losses()
            up = up_per_item([1, -2, 0.5, 0, 3]) if red == "none" and k & 8 else up_scalar(0.75)
            if k % 2:
                g = interleaved(view_floats(stride_pad(2), len_exact(), offset=2) + floats([0.5] * (15 * 19)))
            else:
                g = separate(view_floats(stride_pad(4), len_exact()) + floats([0.25] * 101),
                             None if k % 4 == 2 else dense([-1] * 85),
                             view_bytes(stride_dense(), len_exact()) + floats([2] * 85))
            st = settings(dist, eps=eps_t(k % 8), margin=margin_t(k % 8), swap=swap, soft=soft, red=red)
            s["%s_%s" % (dist, red)] = triplet_case(st, ow, True, n, dim, a, p, nv, losses, up, g)
            k += 1
    base_views = lambda: (dense([1, 2, 3, 4, 5, 6]), same_shape(view_floats(stride_dense(), len_exact()) + rel_copy([(0, 0.0)])),
                          same_shape(view_floats(stride_dense(), len_exact()) + rel_copy([(5, 9.0)])))
    a, p, nv = base_views()
    for name, st in [
        ("margin_nan", settings("sq", margin=margin_f(fspecial(NAN)))),
        ("margin_inf", settings("exact", margin=margin_f(fspecial(INF)))),
        ("eps_negative", settings("eps_on_diff", eps=eps_f(-1e-6))),
        ("eps_nan", settings("eps_in_sqrt", eps=eps_f(fspecial(NAN)))),
        ("eps_inf", settings("eps_in_sqrt", eps=eps_f(fspecial(INF)))),
        ("eps_negative_zero", settings("eps_on_diff", eps=eps_t(3), red="sum")),
    ]:
        s[name] = triplet_case(st, True, True, 2, 3, a, p, nv, with_losses(), up_scalar(), separate(dense([0] * 6), None, None))
    s["per_item_with_mean"] = triplet_case(settings(red="mean"), True, True, 2, 3, a, p, nv, no_losses(),
                                           up_per_item([1, 1]), interleaved(dense([0] * 18)))
    s["per_item_wrong_len"] = triplet_case(settings(red="none"), True, True, 2, 3, a, p, nv, with_losses(),
                                           up_per_item_len(3, [1, 1, 1]), interleaved(dense([0] * 18)))
    s["none_without_losses"] = triplet_case(settings(red="none"), True, False, 2, 3, a, p, nv, no_losses(), up_scalar())
    s["losses_wrong_len"] = triplet_case(settings(red="sum"), True, False, 2, 3, a, p, nv, u8(1) + out_len(3),
                                         up_scalar())
    s["interleaved_wrong_rows"] = triplet_case(settings(red="sum"), True, True, 2, 3, a, p, nv, no_losses(), up_scalar(),
                                               interleaved(dense([0] * 15), size(5) + size(3)))
    s["separate_wrong_dim"] = triplet_case(settings(red="sum"), False, True, 2, 3, a, p, nv, no_losses(), up_scalar(),
                                           separate(None, (size(2) + size(4), dense([0] * 8)), None))
    s["p_wrong_rows"] = triplet_case(settings(red="sum"), True, False, 2, 3, a,
                                     u8(255) + size(3) + size(3) + view_floats(stride_dense(), len_exact()) + rel_independent(floats([1] * 9)),
                                     nv, no_losses(), up_scalar())
    s["interleaved_3n_overflows"] = (header() + settings(red="sum") + u8(1) + u8(1) + size_max_minus(0) + size(0)
                                     + view_floats(stride_dense(), len_abs(0)) + u8(0) + view_floats(stride_dense(), len_abs(0))
                                     + rel_independent() + u8(0) + view_floats(stride_dense(), len_abs(0)) + rel_independent()
                                     + no_losses() + up_scalar() + u8(1) + size(0) + size(0)
                                     + u8(0) + view_floats(stride_dense(), len_abs(0)))
    s["zero_triplets"] = triplet_case(settings("exact", red="mean_active"), True, True, 0, 4, dense([]),
                                      same_shape(view_floats(stride_dense(), len_exact()) + rel_independent()),
                                      same_shape(view_floats(stride_dense(), len_exact()) + rel_independent()),
                                      with_losses(), up_scalar(), interleaved(dense([])))
    # NaN, infinities, a == p (d = 0), p == a with swap (a tie), overflow, subnormals.
    sp = lambda idx: b"".join(fspecial(i) for i in idx)
    for dist in ("exact", "eps_on_diff", "sq"):
        s["specials_" + dist] = triplet_case(
            settings(dist, eps=eps_t(2), margin=margin_t(1), swap=True, red="none"), True, True, 4, 3,
            dense([1, 2, 3, 1, 2, 3, 1e-20, 2.0, 3e38, 0.5, 0.5, 0.5]),
            same_shape(view_floats(stride_dense(), len_exact()) + rel_copy([(3, 1.0), (6, 2.646978e-23), (8, -3e38)])),
            same_shape(view_floats(stride_dense(), len_exact()) + rel_independent(
                sp([NAN, 1, 2]) + floats([4, 5, 6]) + sp([SUB, 23, 0]) + floats([1, 1]) + sp([INF]))),
            with_losses(), up_per_item([1, 2, -1, 0.5]), interleaved(dense([3] * 36)))
    s["soft_accumulate_long"] = triplet_case(
        settings("eps_in_sqrt", eps=eps_t(1), margin=margin_t(2), soft=True, red="mean"), False, True, 3, 700,
        view_floats(stride_dense(), len_exact()) + floats([(i % 64) / 16 for i in range(2100)]),
        same_shape(view_floats(stride_dense(), len_exact()) + rel_copy([(7, 0.0), (900, 5.0)])),
        same_shape(view_floats(stride_dense(), len_exact()) + rel_copy([(1, -3.0), (1500, 2.5), (2099, 1.0)])),
        no_losses(), up_scalar(2.0), separate(dense([1] * 2100), None, dense([-0.5] * 2100)))
    return s


def index_in(i):
    return u8(0) + u16(i)


def index_u32(v):
    return u8(6) + u32(v)


def index_past(k):
    return u8(7) + u8(k)  # rows + k


def triplet_indexed_case(st, overwrite, backward, rows, dim, emb, triplets, losses, up, grad=b""):
    """triplets: a list of 3-lists of index bytes (index_in/index_u32/index_past) or ints (in range)."""
    out = (header(31) + st + u8(int(overwrite)) + u8(1 if backward else 0) + size(rows) + size(dim) + emb
           + count(len(triplets)))
    for t in triplets:
        for i in t:
            out += index_in(i) if isinstance(i, int) else i
    return out + losses + up + grad


def grad_same(view_and_values):
    return u8(0) + view_and_values


def triplet_indexed_seeds():
    s = {}
    emb = dense([0, 0, 1, 0, 0.5, 0])
    s["doc_example"] = triplet_indexed_case(settings("sq", margin=margin_f(0.2), red="sum"), True, True, 3, 2, emb,
                                            [[0, 1, 2], [1, 0, 2]], with_losses(), up_scalar(), grad_same(dense([5] * 6)))
    k = 0
    for dist in DIST:
        for red in RED:
            swap, soft, ow = bool(k & 1), bool(k & 2), bool(k & 4)
            rows, dim = 6, 19
            e = view_floats(stride_pad(5), len_exact(), offset=3) + floats([(i % 36) / 4 - 4 for i in range(142)])
            ts = [[0, 1, 2], [2, 1, 0], [3, 3, 4], [5, 0, 5], [1, 2, 3], [4, 5, 1], [0, 0, 0]]
            losses = with_losses() if red == "none" or k % 3 else no_losses()
            up = up_per_item([1, -2, 0.5, 0, 3, 1, 1]) if red == "none" and k & 8 else up_scalar(1.25)
            g = grad_same(view_floats(stride_pad(1), len_exact()) + floats([0.125 * (i % 5) for i in range(119)]))
            st = settings(dist, eps=eps_t(k % 8), margin=margin_t(k % 8), swap=swap, soft=soft, red=red)
            s["%s_%s" % (dist, red)] = triplet_indexed_case(st, ow, True, rows, dim, e, ts, losses, up, g)
            k += 1
    st = settings(red="sum")
    g = grad_same(dense([0] * 6))
    s["index_equals_rows"] = triplet_indexed_case(st, True, True, 3, 2, emb, [[0, 1, 2], [1, index_past(0), 2]],
                                                  no_losses(), up_scalar(), g)
    s["index_u32_max"] = triplet_indexed_case(st, True, False, 3, 2, emb, [[index_u32(0xFFFFFFFF), 1, 2]],
                                              no_losses(), up_scalar())
    s["index_past_rows"] = triplet_indexed_case(st, False, True, 3, 2, emb, [[0, 1, 2], [0, 1, index_past(7)]],
                                                with_losses(), up_scalar(), g)
    s["grad_wrong_shape"] = triplet_indexed_case(st, True, True, 3, 2, emb, [[0, 1, 2]], no_losses(), up_scalar(),
                                                 u8(255) + size(2) + size(2) + dense([0] * 4))
    s["per_item_with_sum"] = triplet_indexed_case(st, True, True, 3, 2, emb, [[0, 1, 2]], no_losses(),
                                                  up_per_item([1]), g)
    s["none_without_losses"] = triplet_indexed_case(settings(red="none"), True, False, 3, 2, emb, [[0, 1, 2]],
                                                    no_losses(), up_scalar())
    s["no_rows_no_triplets"] = triplet_indexed_case(settings("exact", red="mean_active"), True, True, 0, 3,
                                                    dense([]), [], with_losses(), up_scalar(), grad_same(dense([])))
    s["no_rows_one_triplet"] = triplet_indexed_case(st, True, False, 0, 3, dense([]), [[0, 0, 0]], no_losses(),
                                                    up_scalar())
    s["repeated_rows_accumulate"] = triplet_indexed_case(
        settings("exact", margin=margin_t(6), swap=True, red="mean"), False, True, 2, 5,
        dense([1, 2, 3, 4, 5, 1, 2, 3, 4, 6]), [[0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 1]] * 3, with_losses(),
        up_scalar(-1.0), grad_same(view_bytes(stride_pad(2), len_exact(), byte_offset=4) + floats([1.5] * 13)))
    s["nan_rows"] = triplet_indexed_case(
        settings("eps_on_diff", eps=eps_t(0), red="none"), True, True, 3, 2,
        dense([0, 0, 1, 0]) + fspecial(NAN) + fspecial(0), [[0, 1, 2], [0, 1, 1], [2, 2, 0]], with_losses(),
        up_per_item([1, 1, 1]), grad_same(dense([0] * 6)))
    return s


def normalize_seeds():
    """Seeds for the `normalize` target (fuzz/src/normalize.rs)."""
    def head(op, overwrite=True, eps_i=0, eps=None):
        out = header() + u8(op) + u8(1 if overwrite else 0)
        return out + (u8(eps_i) if eps is None else u8(3) + eps)

    def dense_view(values, stride=None):
        st = stride_dense() if stride is None else stride_pad(stride)
        return view_floats(st, len_exact()) + floats(values)

    same_shape = u8(0)
    s = {}
    # The doc example: [3, 4] -> [0.6, 0.8], a zero row stays zero; norms [5, 0].
    s["doc_example"] = (head(0) + size(2) + size(2) + dense_view([3, 4, 0, 0]) + out_exact()
                        + same_shape + view_floats(stride_dense(), len_exact()) + rel_independent(floats([0] * 4)))
    # In place, strided, a NaN and an inf row among ordinary ones.
    s["in_place_specials"] = (head(1, eps_i=1) + size(3) + size(5)
                              + view_floats(stride_pad(2), len_exact(), offset=1)
                              + floats([0.5, 1, 2, 3, 4]) + fspecial(NAN) + floats([1, 2, 3, 4, 5, 6])
                              + fspecial(INF) + floats([1, 2, 3, 4, 5]) + u8(1) + out_exact())
    # Backward on the crate's own forward, accumulate, a long row.
    s["backward_consistent_accumulate"] = (head(2, overwrite=False) + size(3) + size(130)
                                           + dense_view([(i % 37) - 18 for i in range(390)]) + u8(0)
                                           + u8(0) + floats([1, 1, 1])
                                           + same_shape + view_floats(stride_dense(), len_exact())
                                           + rel_independent(floats([(i % 11) - 5 for i in range(390)]))
                                           + same_shape + dense_view([0.25] * 390))
    # Backward in place with eps = 0.5: rows below it take dy / eps.
    s["backward_in_place_eps_branch"] = (head(3, eps_i=2) + size(2) + size(3) + dense_view([0.0625, 0, 0, 3, 4, 0])
                                         + u8(1) + u8(0) + floats([0.0625, 5])
                                         + same_shape + view_floats(stride_pad(1), len_exact())
                                         + rel_independent(floats([1, 2, 3, 4, 5, 6, 7])))
    # eps = NaN and a negative eps: InvalidParameter, nothing written.
    s["eps_nan"] = (head(0, eps=fspecial(NAN)) + size(1) + size(3) + dense_view([1, 2, 3]) + out_exact()
                    + same_shape + view_floats(stride_dense(), len_exact()) + rel_independent())
    s["eps_negative_backward"] = (head(2, eps=f(-1e-12)) + size(1) + size(2) + dense_view([1, 0]) + u8(1)
                                  + u8(0) + floats([1]) + same_shape + dense_view([1, 1]) + same_shape
                                  + dense_view([0, 0]))
    # norms one value short; y with another row count.
    s["norms_too_short"] = (head(0) + size(3) + size(2) + dense_view([1] * 6) + u8(1) + out_len(2)
                            + same_shape + view_floats(stride_dense(), len_exact()) + rel_independent())
    s["y_rows_mismatch"] = (head(0) + size(3) + size(2) + dense_view([1] * 6) + u8(0) + u8(255) + size(2)
                            + size(2) + view_floats(stride_dense(), len_exact()) + rel_independent())
    # y·dy overflows f32 (dy near f32::MAX): the gradient is inf / NaN, documented; no bound is claimed.
    s["backward_dot_overflow"] = (head(2) + size(1) + size(2) + dense_view([1, 1]) + u8(0) + u8(0) + floats([1])
                                  + same_shape + view_floats(stride_dense(), len_exact())
                                  + rel_independent(floats([3e38, 3e38])) + same_shape + dense_view([0, 0]))
    return s


def main():
    all_seeds = {
        "pair": pair_seeds(),
        "rows": rows_seeds(False),
        "one_to_many": rows_seeds(True),
        "squared_error": squared_error_seeds(),
        "triplet": triplet_seeds(),
        "triplet_indexed": triplet_indexed_seeds(),
        "normalize": normalize_seeds(),
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
