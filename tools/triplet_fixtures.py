#!/usr/bin/env python3
"""Generate tests/data/triplet_torch.txt: PyTorch reference values for the triplet loss.

Definitions of record: SEMANTICS.md (shared with the crate). Every value is computed in float32 on the
CPU with autograd: inputs are float32 leaf tensors with requires_grad, the loss is built from torch ops,
then `loss.backward(upstream)`. The Rust tests parse the output without Python and without JSON, so the
format is line oriented, one record per line, fields separated by single spaces:

    case <name>
    config margin=<f> distance=<squared|eps_on_diff|exact> eps=<f> swap=<0|1> soft=<0|1> reduction=<none|sum|mean>
    shape <N> <D>
    a <N*D floats, row-major>
    p <N*D floats>
    n <N*D floats>
    upstream <1 float, or N floats for reduction none>
    loss <1 float for sum/mean, N floats for none>
    grad_a <N*D floats>
    grad_p <N*D floats>
    grad_n <N*D floats>
    end

Lines starting with '#' are comments. A record with no values (N = 0) is the keyword alone. Floats are
float32 values printed with '%.9g' (9 significant digits round-trip every f32; "-0" may appear for a
negative zero gradient). `eps` is 0 for the squared and exact distances (unused there).

Distances:
  * eps_on_diff: torch.nn.functional.triplet_margin_loss(a, p, n, margin, p=2, eps, swap, reduction),
    i.e. d(x, y) = ||x - y + eps||_2 (aten pairwise_distance), hinge = clamp_min(v, 0), swap via at::min.
    For margin = 0 the functional raises "margin must be greater than 0", so those cases call the aten op
    it forwards to, torch.triplet_margin_loss(a, p, n, margin, 2, eps, swap, reduction_enum), directly.
  * squared:     dp = sum((a-p)^2), dn = sum((a-n)^2); swap: dn = where(dps < dn, dps, dn) (strict: a tie
                 keeps d(a, n)); v = dp - dn + m; hinge where(v > 0, v, 0) (v == 0 is inactive with zero
                 gradient) or soft softplus(v).
  * exact:       sqrt of the squared sums, only for inputs where no distance is 0 (torch's sqrt has gradient
                 inf/NaN there). One case (p_eq_a_exact_*) has d(a, p) = 0 on some rows and uses
                 torch.linalg.vector_norm instead, whose backward gives 0 at d = 0 as SEMANTICS.md requires.

Documented differences from PyTorch, handled here:
  * N = 0: PyTorch's mean of an empty tensor is NaN; SEMANTICS.md requires loss 0 for every reduction, so
    the N = 0 cases are written by hand with loss 0 (and no per-triplet values).
  * swap ties: PyTorch's elementwise min splits the gradient half/half on an exact tie (e.g. when p == a);
    SEMANTICS.md keeps d(a, n) on a tie. The script asserts that no swap case has a tie.

The sums inside torch are not accumulated in the crate's fixed lane order, so the Rust side must compare
with a tolerance (a few f32 ulps relative to the magnitude of the terms), not bit for bit.

Usage:
    .venv/bin/python tools/triplet_fixtures.py            # (re)write tests/data/triplet_torch.txt
    .venv/bin/python tools/triplet_fixtures.py --check    # re-read the file, verify round trip + f64 oracle
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "triplet_torch.txt")
SEED = 20240917

DIMS = [1, 3, 7, 16, 17, 64, 130]


def fmt(x):
    """One float32 value as '%.9g' (round-trips to the same f32)."""
    return "%.9g" % float(np.float32(x))


def fmt_list(arr):
    arr = np.asarray(arr, dtype=np.float32).ravel()
    return " ".join(fmt(x) for x in arr)


# ----------------------------------------------------------------------------------------------------
# torch computations
# ----------------------------------------------------------------------------------------------------

def reduce_(per, reduction):
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    if reduction == "mean":
        return per.mean()
    raise ValueError(reduction)


def sq(x, y):
    return ((x - y) ** 2).sum(1)


def custom_loss(a, p, n, c):
    """squared / exact distances written in torch, as SEMANTICS.md defines them."""
    if c["distance"] == "squared":
        dist = sq
    elif c["distance"] == "exact" and c.get("zero_dist"):
        # torch.linalg.vector_norm's backward (norm_backward) gives gradient 0 at d = 0, the rule of
        # SEMANTICS.md; sqrt's backward would give inf * 0 = NaN there.
        dist = lambda x, y: torch.linalg.vector_norm(x - y, ord=2, dim=1)  # noqa: E731
    elif c["distance"] == "exact":
        dist = lambda x, y: torch.sqrt(sq(x, y))  # noqa: E731
    else:
        raise ValueError(c["distance"])
    dp = dist(a, p)
    dn = dist(a, n)
    if c["swap"]:
        dps = dist(p, n)
        # strict: a tie keeps d(a, n); the gradient flows through the distance taken
        dn = torch.where(dps < dn, dps, dn)
    v = dp - dn + c["margin"]
    if c["soft"]:
        per = F.softplus(v)
    else:
        per = torch.where(v > 0, v, torch.zeros_like(v))
    return reduce_(per, c["reduction"])


def check_no_swap_tie(a, p, n, c):
    """Assert that d(p, n) != d(a, n) for every row of a swap case (PyTorch splits the gradient there)."""
    with torch.no_grad():
        if c["distance"] == "eps_on_diff":
            dn = F.pairwise_distance(a, n, p=2, eps=c["eps"])
            dps = F.pairwise_distance(p, n, p=2, eps=c["eps"])
        else:
            dn = sq(a, n)
            dps = sq(p, n)
            if c["distance"] == "exact":
                dn, dps = torch.sqrt(dn), torch.sqrt(dps)
        ties = int((dn == dps).sum())
    assert ties == 0, "case %s: %d swap ties" % (c["name"], ties)


def check_exact_nonzero(a, p, n, c):
    with torch.no_grad():
        for x, y in ((a, p), (a, n), (p, n)):
            assert bool((sq(x, y) > 0).all()), "case %s: exact distance with a zero distance" % c["name"]


def compute(c, a_np, p_np, n_np, upstream):
    N, D = a_np.shape
    if N == 0:
        # PyTorch: mean of an empty tensor is NaN (and sum is 0). SEMANTICS.md: loss 0 for every
        # reduction when N = 0, never NaN. Written by hand.
        loss = np.zeros(0 if c["reduction"] == "none" else 1, dtype=np.float32)
        z = np.zeros((0, D), dtype=np.float32)
        return loss, z, z, z
    a = torch.tensor(a_np, dtype=torch.float32, requires_grad=True)
    p = torch.tensor(p_np, dtype=torch.float32, requires_grad=True)
    n = torch.tensor(n_np, dtype=torch.float32, requires_grad=True)
    if c["swap"]:
        check_no_swap_tie(a, p, n, c)
    if c["distance"] == "exact" and not c.get("zero_dist"):
        check_exact_nonzero(a, p, n, c)
    if c["distance"] == "eps_on_diff":
        assert not c["soft"]
        if c["margin"] > 0:
            loss = F.triplet_margin_loss(a, p, n, margin=c["margin"], p=2, eps=c["eps"],
                                         swap=bool(c["swap"]), reduction=c["reduction"])
        else:
            # torch.nn.functional.triplet_margin_loss raises "margin must be greater than 0" (a
            # Python-side check in torch >= 2.x); the aten op it forwards to has no such check.
            red_enum = {"none": 0, "mean": 1, "sum": 2}[c["reduction"]]
            loss = torch.triplet_margin_loss(a, p, n, c["margin"], 2.0, c["eps"], bool(c["swap"]), red_enum)
    else:
        loss = custom_loss(a, p, n, c)
    up = torch.tensor(upstream if c["reduction"] == "none" else upstream[0], dtype=torch.float32)
    loss.backward(up)
    out = loss.detach().numpy().astype(np.float32).reshape(-1)
    for name, t in (("a", a), ("p", p), ("n", n)):
        assert t.grad is not None
        assert t.grad.dtype == torch.float32
        assert np.isfinite(t.grad.numpy()).all(), "case %s: non-finite grad_%s" % (c["name"], name)
    assert np.isfinite(out).all(), "case %s: non-finite loss" % c["name"]
    return out, a.grad.numpy().copy(), p.grad.numpy().copy(), n.grad.numpy().copy()


# ----------------------------------------------------------------------------------------------------
# float64 oracle from SEMANTICS.md's closed forms (independent of torch; used by --check)
# ----------------------------------------------------------------------------------------------------

def oracle(c, a, p, n, upstream):
    a, p, n = (np.asarray(x, dtype=np.float64) for x in (a, p, n))
    N, D = a.shape
    red = c["reduction"]
    if N == 0:
        return np.zeros(0 if red == "none" else 1), np.zeros((0, D)), np.zeros((0, D)), np.zeros((0, D))
    eps = c["eps"] if c["distance"] == "eps_on_diff" else 0.0

    def dist(x, y):
        diff = x - y + eps
        s = (diff * diff).sum(1)
        if c["distance"] == "squared":
            return s, 2.0 * diff  # d, ∂d/∂x
        d = np.sqrt(s)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(d[:, None] > 0, diff / d[:, None], 0.0)
        return d, g

    dp, gp_ap = dist(a, p)      # ∂dp/∂a = gp_ap, ∂dp/∂p = -gp_ap
    dn, gn_an = dist(a, n)      # ∂dn/∂a = gn_an, ∂dn/∂n = -gn_an
    dps, gs_pn = dist(p, n)     # ∂dps/∂p = gs_pn, ∂dps/∂n = -gs_pn
    take = (dps < dn) if c["swap"] else np.zeros(N, dtype=bool)
    dneg = np.where(take, dps, dn)
    v = dp - dneg + c["margin"]
    if c["soft"]:
        per = np.logaddexp(0.0, v)
        wv = 1.0 / (1.0 + np.exp(-v))
    else:
        per = np.where(v > 0, v, 0.0)
        wv = (v > 0).astype(np.float64)
    if red == "none":
        loss = per
        w = wv * np.asarray(upstream, dtype=np.float64)
    elif red == "sum":
        loss = np.array([per.sum()])
        w = wv * upstream[0]
    else:
        loss = np.array([per.mean()])
        w = wv * upstream[0] / N
    w = w[:, None]
    t = take[:, None]
    ga = w * gp_ap - w * np.where(t, 0.0, gn_an)
    gp = -w * gp_ap - w * np.where(t, gs_pn, 0.0)
    gn = w * np.where(t, gs_pn, gn_an)
    return loss, ga, gp, gn


# ----------------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------------

def near_decision(a, p, n, distance, eps, swap, soft, margin, rel=1e-4):
    """Rows whose hinge (v vs 0) or swap (d(p,n) vs d(a,n)) decision is within `rel` of the terms' size."""
    a, p, n = (x.astype(np.float64) for x in (a, p, n))
    e = eps if distance == "eps_on_diff" else 0.0

    def d(x, y):
        s = ((x - y + e) ** 2).sum(1)
        return s if distance == "squared" else np.sqrt(s)

    dp, dn, dps = d(a, p), d(a, n), d(p, n)
    size = dp + dn + dps + abs(margin) + 1e-30
    bad = np.zeros(a.shape[0], dtype=bool)
    if swap:
        bad |= np.abs(dps - dn) <= rel * size
        dn = np.minimum(dn, dps)
    if not soft:
        bad |= np.abs(dp - dn + margin) <= rel * size
    return bad


def make_cases(rng):
    cases = []
    g_cycle = [1.0, 0.7, -1.3, 2.5]

    def add(name, distance, reduction, margin, a, p, n, eps=0.0, swap=0, soft=0, upstream=None,
            resample=True, guard=True, zero_dist=False):
        N = a.shape[0]
        if guard:
            # Keep every hinge and swap decision well away from its threshold, so that a different
            # summation order (the crate's lanes, this script's f64 oracle) cannot flip it. Random rows
            # that come too close are redrawn; hand-made cases must already be clear of it.
            a, p, n = a.copy(), p.copy(), n.copy()
            for _ in range(100):
                bad = near_decision(a, p, n, distance, eps, swap, soft, margin)
                if not bad.any():
                    break
                assert resample, "case %s: a decision is within rounding of its threshold" % name
                k = int(bad.sum())
                D = a.shape[1]
                if callable(resample):
                    a[bad], p[bad], n[bad] = resample(k, D)
                else:
                    a[bad], p[bad], n[bad] = (rng.standard_normal((k, D), dtype=np.float32) for _ in range(3))
            else:
                raise AssertionError("case %s: could not draw rows clear of the thresholds" % name)
        if upstream is None:
            if reduction == "none":
                upstream = rng.standard_normal(N, dtype=np.float32)
            else:
                upstream = np.array([g_cycle[len(cases) % len(g_cycle)]], dtype=np.float32)
        cases.append(dict(name=name, distance=distance, reduction=reduction, margin=float(np.float32(margin)),
                          eps=float(np.float32(eps)), swap=int(swap), soft=int(soft),
                          a=a.astype(np.float32), p=p.astype(np.float32), n=n.astype(np.float32),
                          upstream=np.asarray(upstream, dtype=np.float32).reshape(-1), zero_dist=zero_dist))

    def rand(N, D):
        return tuple(rng.standard_normal((N, D), dtype=np.float32) for _ in range(3))

    def pick_n(D):
        # keep the big-D cases small so the file stays well under 2 MB
        hi = 33 if D <= 64 else 12
        return int(rng.integers(1, hi + 1))

    reds = ["none", "sum", "mean"]

    # --- eps_on_diff: F.triplet_margin_loss -------------------------------------------------------
    margins_l2 = [0.0, 0.5, 1.0, 2.0]
    k = 0
    for eps in (1e-6, 1e-3):
        for swap in (0, 1):
            for red in reds:
                D = DIMS[k % len(DIMS)]
                m = margins_l2[k % len(margins_l2)]
                N = pick_n(D)
                add("eps_on_diff_e%s_swap%d_%s_m%s_N%d_D%d" % ("1e-6" if eps == 1e-6 else "1e-3", swap, red, m, N, D),
                    "eps_on_diff", red, m, *rand(N, D), eps=eps, swap=swap)
                k += 1
    # each margin with each swap once more, at the default eps, mean reduction (PyTorch's default)
    for swap in (0, 1):
        for m in margins_l2:
            D = DIMS[k % len(DIMS)]
            N = pick_n(D)
            add("eps_on_diff_default_swap%d_mean_m%s_N%d_D%d" % (swap, m, N, D), "eps_on_diff", "mean", m,
                *rand(N, D), eps=1e-6, swap=swap)
            k += 1

    # --- squared: hinge and soft ------------------------------------------------------------------
    for soft in (0, 1):
        for swap in (0, 1):
            for red in reds:
                D = DIMS[k % len(DIMS)]
                N = pick_n(D)
                if soft:
                    m = [0.0, 0.2][k % 2]
                else:
                    # dp - dn has spread ~ 4*sqrt(D); small margins keep roughly half active
                    m = [0.0, 0.5, 1.0, 2.0][k % 4]
                add("squared_%s_swap%d_%s_m%s_N%d_D%d" % ("soft" if soft else "hinge", swap, red, m, N, D),
                    "squared", red, m, *rand(N, D), swap=swap, soft=soft)
                k += 1
    # soft with margin 0 and 0.2 explicitly, sum reduction, both swaps
    for m in (0.0, 0.2):
        for swap in (0, 1):
            D = DIMS[k % len(DIMS)]
            N = pick_n(D)
            add("squared_soft_swap%d_sum_m%s_N%d_D%d" % (swap, m, N, D), "squared", "sum", m, *rand(N, D),
                swap=swap, soft=1)
            k += 1

    # --- exact -----------------------------------------------------------------------------------
    for swap in (0, 1):
        for red in reds:
            D = DIMS[k % len(DIMS)]
            N = pick_n(D)
            m = [0.0, 0.5, 1.0][k % 3]
            add("exact_swap%d_%s_m%s_N%d_D%d" % (swap, red, m, N, D), "exact", red, m, *rand(N, D), swap=swap)
            k += 1
    # exact with soft margin
    add("exact_soft_swap0_mean_m0.2_N9_D17", "exact", "mean", 0.2, *rand(9, 17), soft=1)

    # --- edge cases ------------------------------------------------------------------------------
    # N = 0, every reduction (loss 0 even for mean: PyTorch would give NaN)
    for dist, eps in (("squared", 0.0), ("eps_on_diff", 1e-6)):
        for red in reds:
            D = 7
            z = np.zeros((0, D), dtype=np.float32)
            add("empty_%s_%s_N0_D%d" % (dist, red, D), dist, red, 1.0, z, z, z, eps=eps)
    # N = 1, D = 1
    add("single_squared_hinge_sum_N1_D1", "squared", "sum", 0.5, *rand(1, 1))
    add("single_eps_on_diff_none_N1_D1", "eps_on_diff", "none", 0.5, *rand(1, 1), eps=1e-6)

    # p == a exactly for some rows, eps_on_diff (d(a, p) = eps*sqrt(D), no NaN); swap 0 (swap would tie)
    # (margins about d(a, n), so that about half of the p == a rows are active and their gradient,
    # (x - y + eps) / d = 1/sqrt(D) per component, flows)
    for red, D, m in (("none", 16, 6.0), ("mean", 3, 2.5)):
        a, p, n = rand(20, D)
        p[::3] = a[::3]
        add("p_eq_a_eps_on_diff_%s_m%s_N20_D%d" % (red, m, D), "eps_on_diff", red, m, a, p, n, eps=1e-6,
            resample=False)
    # same with the squared distance (dp = 0 exactly)
    a, p, n = rand(15, 7)
    p[1::2] = a[1::2]
    add("p_eq_a_squared_hinge_none_m14_N15_D7", "squared", "none", 14.0, a, p, n, resample=False)

    # exact distance with d(a, p) = 0 on some rows: gradient 0 there (torch.linalg.vector_norm's rule)
    a, p, n = rand(14, 17)
    p[::4] = a[::4]
    add("p_eq_a_exact_none_m6_N14_D17", "exact", "none", 6.0, a, p, n, resample=False, zero_dist=True)

    # all active: margin far above the spread of dp - dn
    add("all_active_squared_hinge_sum_m100_N25_D16", "squared", "sum", 100.0, *rand(25, 16))
    add("all_active_eps_on_diff_swap1_mean_m20_N25_D17", "eps_on_diff", "mean", 20.0, *rand(25, 17),
        eps=1e-6, swap=1)
    add("all_active_squared_swap1_none_m100_N19_D7", "squared", "none", 100.0, *rand(19, 7), swap=1)
    # all inactive: negatives pushed far from anchors and positives
    for dist, red, eps, swap in (("squared", "mean", 0.0, 0), ("eps_on_diff", "none", 1e-6, 0),
                                 ("squared", "sum", 0.0, 1), ("eps_on_diff", "sum", 1e-3, 1)):
        def far(k, D):
            a, p, n = rand(k, D)
            return a, p, n + np.float32(10.0)
        add("all_inactive_%s_swap%d_%s_m0.5_N21_D16" % (dist, swap, red), dist, red, 0.5, *far(21, 16), eps=eps,
            swap=swap, resample=far)

    # v == 0 exactly (integer inputs, squared distance): inactive, zero gradient. Rows: v = 0, v > 0, v < 0.
    a = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0], [0.0, 0.0], [3.0, 0.0]], dtype=np.float32)
    p = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 3.0], [2.0, -1.0], [2.0, 0.0], [3.0, 1.0]], dtype=np.float32)
    n = np.array([[2.0, 0.0], [1.0, 1.0], [1.0, 0.0], [2.0, 1.0], [0.0, 3.0], [3.0, -1.0]], dtype=np.float32)
    # dp: 1,1,4,0,4,1  dn: 4,1,1,4,9,1  margin 3 -> v: 0,3,6,-1,-2,3
    # (integers: every summation order gives exactly these values, so the v == 0 rows stay at 0)
    add("v_zero_squared_hinge_none_m3_N6_D2", "squared", "none", 3.0, a, p, n, guard=False)
    add("v_zero_squared_hinge_sum_m3_N6_D2", "squared", "sum", 3.0, a, p, n, guard=False)

    # the largest: N = 33, D = 130 and N = 33, D = 64
    add("big_squared_hinge_swap1_mean_m0_N33_D130", "squared", "mean", 0.0, *rand(33, 130), swap=1)
    add("big_eps_on_diff_swap0_sum_m0.5_N33_D64", "eps_on_diff", "sum", 0.5, *rand(33, 64), eps=1e-6)
    # odd sizes around lane widths
    for D in (1, 3, 17):
        add("lanes_squared_hinge_swap0_sum_m0_N33_D%d" % D, "squared", "sum", 0.0, *rand(33, D))
    return cases


def write(path):
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    cases = make_cases(rng)
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), "duplicate case names"
    lines = [
        "# PyTorch reference fixtures for the triplet loss (definitions of record: SEMANTICS.md).",
        "# Generated by tools/triplet_fixtures.py with torch %s, numpy %s, seed %d." % (
            torch.__version__, np.__version__, SEED),
        "# Regenerate: .venv/bin/python tools/triplet_fixtures.py   (check: ... --check)",
        "# Format: see the docstring of tools/triplet_fixtures.py. float32 values as '%.9g'.",
        "# N = 0 cases: loss 0 for every reduction (PyTorch's mean of nothing is NaN; written by hand).",
        "# Compare with a tolerance: torch does not sum in the crate's lane order.",
    ]
    stats = []
    for c in cases:
        loss, ga, gp, gn = compute(c, c["a"], c["p"], c["n"], c["upstream"])
        N, D = c["a"].shape
        lines.append("case %s" % c["name"])
        lines.append("config margin=%s distance=%s eps=%s swap=%d soft=%d reduction=%s" % (
            fmt(c["margin"]), c["distance"], fmt(c["eps"]), c["swap"], c["soft"], c["reduction"]))
        lines.append("shape %d %d" % (N, D))
        for key, arr in (("a", c["a"]), ("p", c["p"]), ("n", c["n"]), ("upstream", c["upstream"]),
                         ("loss", loss), ("grad_a", ga), ("grad_p", gp), ("grad_n", gn)):
            body = fmt_list(arr)
            lines.append(key + (" " + body if body else ""))
        lines.append("end")
        stats.append((c["name"], N, D, active_fraction(c)))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print("wrote %s: %d cases, %d bytes" % (path, len(cases), len(text)))
    for name, N, D, frac in stats:
        print("  %-55s N=%-3d D=%-4d active=%s" % (name, N, D, "-" if frac is None else "%.2f" % frac))


def active_fraction(c):
    a, p, n = (c[k].astype(np.float64) for k in "apn")
    if a.shape[0] == 0 or c["soft"]:
        return None
    eps = c["eps"] if c["distance"] == "eps_on_diff" else 0.0
    def d(x, y):
        s = ((x - y + eps) ** 2).sum(1)
        return s if c["distance"] == "squared" else np.sqrt(s)
    dn = d(a, n)
    if c["swap"]:
        dn = np.minimum(dn, d(p, n))
    return float((d(a, p) - dn + c["margin"] > 0).mean())


# ----------------------------------------------------------------------------------------------------
# re-reader (what the Rust side does), used by --check
# ----------------------------------------------------------------------------------------------------

KEYS = ["a", "p", "n", "upstream", "loss", "grad_a", "grad_p", "grad_n"]


def read(path):
    cases = []
    cur = None
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split(" ")
            key = parts[0]
            if key == "case":
                assert cur is None, "line %d: case inside case" % lineno
                cur = {"name": parts[1], "raw": {}}
            elif key == "config":
                for kv in parts[1:]:
                    k, v = kv.split("=")
                    cur[k] = v
            elif key == "shape":
                cur["N"], cur["D"] = int(parts[1]), int(parts[2])
            elif key in KEYS:
                cur["raw"][key] = parts[1:]
            elif key == "end":
                cases.append(cur)
                cur = None
            else:
                raise ValueError("line %d: unknown record %r" % (lineno, key))
    assert cur is None, "unterminated case"
    return cases


def check(path):
    cases = read(path)
    worst = 0.0
    n_values = 0
    for c in cases:
        N, D, red = c["N"], c["D"], c["reduction"]
        want = {"a": N * D, "p": N * D, "n": N * D, "grad_a": N * D, "grad_p": N * D, "grad_n": N * D,
                "upstream": N if red == "none" else 1, "loss": N if red == "none" else 1}
        vals = {}
        for k in KEYS:
            toks = c["raw"][k]
            assert len(toks) == want[k], "%s: %s has %d values, want %d" % (c["name"], k, len(toks), want[k])
            arr = np.array([np.float32(t) for t in toks], dtype=np.float32)
            # round trip: parsing to f32 and printing again gives the same text
            for t, x in zip(toks, arr):
                assert fmt(x) == t, "%s: %s value %r does not round-trip (%r)" % (c["name"], k, t, fmt(x))
            n_values += len(toks)
            vals[k] = arr
        assert fmt(np.float32(c["margin"])) == c["margin"]
        cfg = dict(distance=c["distance"], reduction=red, margin=float(np.float32(c["margin"])),
                   eps=float(np.float32(c["eps"])), swap=int(c["swap"]), soft=int(c["soft"]), name=c["name"])
        a, p, n = (vals[k].reshape(N, D).astype(np.float64) for k in "apn")
        loss, ga, gp, gn = oracle(cfg, a, p, n, vals["upstream"])
        # error scales: float32 rounding is relative to the magnitude of the terms that were summed
        up = np.abs(vals["upstream"].astype(np.float64))
        mag = (np.abs(a - p) + np.abs(a - n) + np.abs(p - n) + 1.0) ** 2
        term = mag.sum(1) + abs(cfg["margin"])  # bounds dp + dn + dps + |m| per triplet (any distance)
        if red == "none":
            loss_scale = term * up
        else:
            loss_scale = np.array([term.sum() * up[0] / (N if red == "mean" and N else 1)])
        w_max = float(up.max()) if up.size else 0.0
        if red == "mean" and N:
            w_max /= N
        grad_scale = 2.0 * w_max * float(np.sqrt(mag).max()) if N else 0.0
        for k, ref, scale in (("loss", loss, loss_scale), ("grad_a", ga, grad_scale), ("grad_p", gp, grad_scale),
                              ("grad_n", gn, grad_scale)):
            got = vals[k].astype(np.float64).ravel()
            ref = np.asarray(ref, dtype=np.float64).ravel()
            assert np.isfinite(got).all(), "%s: non-finite %s" % (c["name"], k)
            if not ref.size:
                continue
            scale = np.maximum(np.broadcast_to(np.asarray(scale, dtype=np.float64), ref.shape), 1e-30)
            err = float((np.abs(got - ref) / scale).max())
            worst = max(worst, err)
            assert err < 1e-5, "%s: %s differs from the f64 oracle by %.3g (relative to scale)" % (c["name"], k, err)
    print("check %s: %d cases, %d values round-trip exactly; worst relative deviation from the f64 oracle %.3g"
          % (path, len(cases), n_values, worst))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="only re-read and verify the file")
    args = ap.parse_args()
    if not args.check:
        write(args.out)
    check(args.out)


if __name__ == "__main__":
    sys.exit(main())
