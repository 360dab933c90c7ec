#!/usr/bin/env python3
"""Peer timings for the all-pairs distances and the fused miners (single-threaded CPU), against this crate
in the same run.

Workloads (D = 128, rows i.i.d. N(0, 1), float32; labels: classes of 4 rows, row i in class i // 4):
  pairwise    d(X, X) squared, N = 1024: torch.cdist(compute_mode="donot_use_mm_for_euclid_dist")**2 (the
              difference form) and torch's default cdist (one GEMM, ||x||^2 + ||y||^2 - 2x.y, which cancels)**2;
              forward only. The second half of the rows are the first half plus noise of 1e-3, so that the
              table can also show what the GEMM form makes of near-identical rows.
  batch-hard  N = 1024, margin 0.2, Euclidean, mean over active triplets, loss + gradient: a torch.compile'd
              dense batch-hard loss (cdist, masks, max / min, hinge; forward + .backward()) and
              pytorch-metric-learning's BatchHardMiner + TripletMarginLoss.
  batch-all   N = 1024, the same loss over every triplet: PML's TripletMarginLoss with no miner. The crate also
              at N = 8192, where PML would need an N^3 mask (550 GB) and is not run.
  semi-hard   N = 512, margin 0.2, Euclidean, mean over positive pairs: a port of TF Addons'
              triplet_semihard_loss to torch (autograd backward). Its n^2 x n tiles (0.5 GB each at N = 512,
              4 GB at 1024) keep it at N = 512.
Peers' gradients come the way a training step makes them: loss.backward() into a fresh .grad every call.
PML's distance is LpDistance(normalize_embeddings=False) to match the crate's unnormalised rows.

The crate (benches/peers/mining_timing.rs, same timing protocol) runs before and after each workload's peers;
"peer / crate" is a peer's median over the mean of the crate's two medians.

Set-up as in benches/peers/README.md.  Usage:  .venv/bin/python benches/peers/mining_peers.py [--out PATH]
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

from peerlib import (ROOT, bench, build, command_line, cpu_model, fmt_time, loadavg, pin,  # noqa: E402
                     torch_one_thread)
from tf_semihard import tf_semihard_parts  # noqa: E402

MARGIN = 0.2
D = 128


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "peers", "mining_results.md"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat (at least)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last allowed one)")
    ap.add_argument("--workloads", default="pairwise,batch-hard,batch-all,semi-hard")
    return ap.parse_args()


ARGS = parse_args()
PINNED, N_ALLOWED = pin(ARGS.cpu)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch_one_thread(torch)


def data(n, seed, near=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D), dtype=np.float32)
    if near:
        h = n // 2
        x[h:2 * h] = x[:h] + np.float32(1e-3) * rng.standard_normal((h, D), dtype=np.float32)
    labels = (np.arange(n) // 4).astype(np.uint32)
    return x, labels


def run_crate(binary, workload, x, labels):
    """The crate on the same data and CPU (the child inherits the pinning). Returns (median, min, max,
    iters, value, out)."""
    n = x.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        np.ascontiguousarray(x, dtype=np.float32).tofile(os.path.join(tmp, "x.f32"))
        np.ascontiguousarray(labels, dtype=np.uint32).tofile(os.path.join(tmp, "labels.u32"))
        out = subprocess.run([binary, workload, str(n), str(D), tmp, str(ARGS.min_time), str(ARGS.repeats)],
                             check=True, capture_output=True, text=True).stdout.split()
        res = np.fromfile(os.path.join(tmp, "out.f32"), dtype=np.float32)
    return float(out[1]), float(out[2]), float(out[3]), int(out[4]), float(out[0]), res


# ---- peers: each returns (call, sync, what it is, value of a result) -----------------------------------

def none_sync(_):
    return None


def peer_cdist(x_np, _labels, mm):
    x = torch.from_numpy(x_np)
    mode = "use_mm_for_euclid_dist" if mm else "donot_use_mm_for_euclid_dist"

    def call():
        with torch.no_grad():
            return torch.cdist(x, x, compute_mode=mode) ** 2
    how = "torch.cdist(x, x, compute_mode=%r) ** 2, no grad" % mode
    return call, none_sync, how, lambda r: float(r.double().sum())


def dense_batch_hard(x, lab):
    d = torch.cdist(x, x)
    same = lab[:, None] == lab[None, :]
    eye = torch.eye(x.shape[0], dtype=torch.bool)
    hp = torch.where(same & ~eye, d, torch.full_like(d, -float("inf"))).max(1).values
    hn = torch.where(~same, d, torch.full_like(d, float("inf"))).min(1).values
    v = hp - hn + MARGIN
    act = v > 0
    return torch.where(act, v, torch.zeros_like(v)).sum() / act.sum().clamp(min=1)


def leaf_step(x_np, loss_of):
    """A training step's protocol: a leaf with a fresh .grad every call, loss.backward()."""
    x = torch.from_numpy(x_np.copy()).requires_grad_(True)

    def call():
        x.grad = None
        loss = loss_of(x)
        loss.backward()
        return loss
    return call


def peer_compile_batch_hard(x_np, labels):
    lab = torch.from_numpy(labels.astype(np.int64))
    f = torch.compile(dense_batch_hard, fullgraph=True)
    call = leaf_step(x_np, lambda x: f(x, lab))
    how = ("torch.compile(dense batch-hard: cdist, masks, max/min, hinge, mean over active; fullgraph=True) "
           "+ .backward()")
    return call, none_sync, how, lambda r: float(r)


def pml_loss(miner_kind):
    from pytorch_metric_learning import distances, losses, miners
    dist = distances.LpDistance(normalize_embeddings=False)
    loss_fn = losses.TripletMarginLoss(margin=MARGIN, distance=dist)
    miner = miners.BatchHardMiner(distance=dist) if miner_kind == "batch-hard" else None
    return loss_fn, miner


def peer_pml(x_np, labels, miner_kind):
    lab = torch.from_numpy(labels.astype(np.int64))
    loss_fn, miner = pml_loss(miner_kind)
    if miner is None:
        call = leaf_step(x_np, lambda x: loss_fn(x, lab))
        how = "PML TripletMarginLoss(0.2, LpDistance(normalize_embeddings=False)), no miner (all triplets) + .backward()"
    else:
        call = leaf_step(x_np, lambda x: loss_fn(x, lab, miner(x, lab)))
        how = "PML BatchHardMiner + TripletMarginLoss(0.2), LpDistance(normalize_embeddings=False) + .backward()"
    return call, none_sync, how, lambda r: float(r)


def peer_tf_semihard(x_np, labels):
    lab = torch.from_numpy(labels.astype(np.int64))
    call = leaf_step(x_np, lambda x: tf_semihard_parts(lab, x, MARGIN, squared=False)[0])
    how = "a torch port of TF Addons triplet_semihard_loss(0.2, \"L2\") (its n^2 x n tiles), float32, + .backward()"
    return call, none_sync, how, lambda r: float(r)


# (workload, N, crate workload, [(peer, factory, target peer/crate)])
WORKLOADS = {
    "pairwise": (1024, "pairwise", [
        ("torch cdist, difference form", lambda x, l: peer_cdist(x, l, mm=False), 4.0),
        ("torch cdist, matmul form", lambda x, l: peer_cdist(x, l, mm=True), 0.6)]),
    "batch-hard": (1024, "batch-hard", [
        ("torch.compile dense batch-hard", peer_compile_batch_hard, 1.2),
        ("PML BatchHardMiner + TripletMarginLoss", lambda x, l: peer_pml(x, l, "batch-hard"), 3.0)]),
    "batch-all": (1024, "batch-all", [
        ("PML TripletMarginLoss, all triplets", lambda x, l: peer_pml(x, l, "all"), 50.0)]),
    "semi-hard": (512, "semi-hard", [
        ("TF Addons triplet_semihard_loss port", peer_tf_semihard, 10.0)]),
}


def near_pair_error(mat, n):
    """Median relative error of the squared distances of the near-identical pairs (i, i + n/2), against
    float64 difference-form sums."""
    x = DATA[n][0].astype(np.float64)
    h = n // 2
    exact = ((x[:h] - x[h:2 * h]) ** 2).sum(1)
    got = np.asarray(mat, dtype=np.float64).reshape(n, n)[np.arange(h), np.arange(h) + h]
    return float(np.median(np.abs(got - exact) / exact))


DATA = {}


def main():
    workloads = [w for w in ARGS.workloads.split(",") if w]
    versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    try:
        import pytorch_metric_learning
        versions["pytorch-metric-learning"] = pytorch_metric_learning.__version__
    except ImportError as e:
        versions["pytorch-metric-learning"] = "unavailable (%s)" % e
    model, isa = cpu_model()
    load_before = loadavg()
    binary = build("mining_timing")
    rows, notes = [], {}
    for w in workloads:
        n, crate_w, peers = WORKLOADS[w]
        x, labels = data(n, 777 + n, near=(w == "pairwise"))
        DATA[n] = (x, labels)
        crate = []

        def crate_row(when):
            print("[crate %s, %s] N=%d ..." % (w, when, n), file=sys.stderr, flush=True)
            med, lo, hi, iters, value, out = run_crate(binary, crate_w, x, labels)
            extra = "near-pair error %.1e" % near_pair_error(out, n) if w == "pairwise" else ""
            crate.append(med)
            rows.append([w, n, "triplet-simd (%s)" % when, med, lo, hi, iters, value, None, None, extra])

        crate_row("before")
        for name, factory, target in peers:
            print("[%s] N=%d ..." % (name, n), file=sys.stderr, flush=True)
            try:
                call, sync, how, value_of = factory(x, labels)
                t0 = time.perf_counter()
                r = call()
                setup = time.perf_counter() - t0
                value = value_of(r)
                extra = ""
                if w == "pairwise":
                    extra = "near-pair error %.1e" % near_pair_error(r.numpy(), n)
                del r
                med, lo, hi, iters = bench(call, sync, ARGS.repeats, ARGS.min_time)
                rows.append([w, n, name, med, lo, hi, iters, value, target, setup, extra])
                notes[name] = how
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                rows.append([w, n, name, None, None, None, 0, None, target, None,
                             "failed: %s" % (str(e).splitlines()[0][:200] if str(e) else type(e).__name__)])
        crate_row("after")
        base = statistics.mean(crate)
        for r in rows:
            if r[0] == w and r[1] == n:
                r.append(base)
        if w == "batch-all":
            # The crate alone at N = 8192 (PML's all-triplets mask would be N^3 bytes).
            xb, lb = data(8192, 8192)
            print("[crate batch-all] N=8192 ...", file=sys.stderr, flush=True)
            med, lo, hi, iters, value, _ = run_crate(binary, "batch-all", xb, lb)
            rows.append([w, 8192, "triplet-simd", med, lo, hi, iters, value, None, None,
                         "PML not run: its all-triplets mask needs N^3 = 550 GB", med])

    load_after = loadavg()
    out = ["# Mining and all-pairs peers (single-threaded CPU)", ""]
    out.append("Workloads: see the script's docstring (`benches/peers/mining_peers.py`). D = %d, float32, classes of 4 "
               "rows, margin %g, Euclidean distances. Time per call = median over %d repeats, each >= %.2g s of "
               "back-to-back calls." % (D, MARGIN, ARGS.repeats, ARGS.min_time))
    out.append("")
    out.append("- CPU: %s (%s), pinned to CPU %d of %d allowed" % (model, " ".join(isa) or "no AVX2", PINNED, N_ALLOWED))
    out.append("- " + ", ".join("%s %s" % kv for kv in versions.items()))
    out.append("- threads: torch.set_num_threads(1), OMP_NUM_THREADS=1")
    out.append("- load average before / after: %s / %s" % (load_before, load_after))
    out.append("- command: `%s`" % command_line())
    out.append("")
    out.append("\"peer / crate\": the peer's median over the mean of the crate's two medians for that workload (how "
               "many times faster the crate is); \"target\": what issue 9 asks of that ratio. \"value\": the loss "
               "(pairwise: the sum of the matrix), to compare with the crate's.")
    out.append("")
    out.append("| workload | N | contender | time/call (median) | min .. max | peer / crate | target | met | value | notes |")
    out.append("|---|---:|---|---:|---|---:|---:|---|---:|---|")
    for (w, n, name, med, lo, hi, iters, value, target, setup, extra, base) in rows:
        if med is None:
            out.append("| %s | %d | %s | failed | | | %s | no | | %s |" % (w, n, name, "≥ %g" % target, extra))
            continue
        ratio = "%.2f" % (med / base) if not name.startswith("triplet-simd") else "%.2f" % (med / base)
        tgt = "≥ %g" % target if target else ""
        met = ("yes" if med / base >= target else "**no**") if target else ""
        note = extra
        if setup is not None and setup > 1.0:
            note = (note + "; " if note else "") + "first call %.1f s" % setup
        out.append("| %s | %d | %s | %s | %s .. %s | %s | %s | %s | %.6g | %s |" % (
            w, n, name, fmt_time(med), fmt_time(lo), fmt_time(hi), ratio, tgt, met, value, note))
    out.append("")
    out.append("Peers:")
    out.append("- triplet-simd: benches/peers/mining_timing.rs (sq_l2_pairwise_self; TripletMiner BatchHard / BatchAll "
               "with Distance::Exact and MeanActive, SemiHard(TfAddons) with Exact and Mean; fused loss + gradient)")
    for k, v in notes.items():
        out.append("- %s: %s" % (k, v))
    text = "\n".join(out) + "\n"
    print(text)
    with open(ARGS.out, "w") as f:
        f.write(text)
    print("wrote", ARGS.out, file=sys.stderr)


if __name__ == "__main__":
    main()
