#!/usr/bin/env python3
"""Peer timings for the triplet-loss benchmark (single-threaded CPU).

Workload (the crate's `benches` equivalent): squared-distance triplet loss of SEMANTICS.md,
    dp = sum((a - p)^2), dn = sum((a - n)^2), v = dp - dn + margin, loss = sum(where(v > 0, v, 0)),
reduction Sum, margin 0 (with i.i.d. N(0, 1) inputs dp and dn have the same distribution, so about half the
triplets are active), computing the loss and the three gradients d loss / d(a, p, n), float32.

Peers:
  torch-eager    loss + loss.backward() on leaf tensors (grads reset to None every call)
  torch-compile  torch.compile of a function returning (loss, grads); the first variant that compiles wins:
                 torch.func.grad_and_value (fullgraph), forward + torch.autograd.grad, compiled forward +
                 .backward()
  jax-jit        jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2))) with block_until_ready

The crate itself is timed in the same run, on the same data and CPU, before and after the peers of each size
(benches/peers/triplet_timing.rs, built with `cargo build --release -p triplet-simd-bench --bin triplet_timing`, same protocol);
the table's "peer / crate" column is each row's time over the crate's.

Timing: per size and peer, warm up, pick an iteration count that takes >= --min-time seconds, then
--repeats repeats; the reported time per call is the median over repeats. One thread: the process is pinned
to one CPU, torch.set_num_threads(1), and XLA/OpenMP are told to use one thread before jax is imported.

Set-up (from the repository root; .venv is git-ignored):
    python3 -m venv .venv && .venv/bin/pip install -r benches/peers/requirements.txt
Usage:  .venv/bin/python benches/peers/triplet_peers.py [--out benches/peers/results.md]
"""

import argparse
import os
import platform
import statistics
import sys
import time
import traceback

from peerlib import (ROOT, bench, build, command_line, cpu_model, fmt_rate, fmt_time, loadavg, pin,  # noqa: E402
                     torch_one_thread)

SIZES = [(1024, 128), (4096, 256), (65536, 256)]
MARGIN = 0.0


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "peers", "results.md"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat (at least)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last allowed one)")
    ap.add_argument("--peers", default="torch-eager,torch-compile,torch-compile-out,torch-compile-fwd-bwd,jax-jit")
    ap.add_argument("--sizes", default=None, help="e.g. 1024x128,4096x256")
    return ap.parse_args()


ARGS = parse_args()
PINNED, N_ALLOWED = pin(ARGS.cpu)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch_one_thread(torch)


# ---- helpers ---------------------------------------------------------------------------------------

def torch_loss(a, p, n):
    dp = ((a - p) ** 2).sum(1)
    dn = ((a - n) ** 2).sum(1)
    v = dp - dn + MARGIN
    return torch.where(v > 0, v, torch.zeros_like(v)).sum()


# ---- peers -----------------------------------------------------------------------------------------

def peer_torch_eager(a_np, p_np, n_np):
    a, p, n = (torch.from_numpy(x.copy()).requires_grad_(True) for x in (a_np, p_np, n_np))

    def call():
        a.grad = p.grad = n.grad = None
        loss = torch_loss(a, p, n)
        loss.backward()
        return loss.detach(), a.grad, p.grad, n.grad

    return call, (lambda r: None), "loss + .backward() on leaves, grads reset each call"


def peer_torch_compile(a_np, p_np, n_np):
    import torch._dynamo

    a0, p0, n0 = (torch.from_numpy(x.copy()) for x in (a_np, p_np, n_np))
    errors = []

    # variant 1: torch.func.grad_and_value, whole graph
    try:
        torch._dynamo.reset()
        gv = torch.func.grad_and_value(torch_loss, argnums=(0, 1, 2))
        f1 = torch.compile(gv, fullgraph=True, dynamic=False)

        def call1():
            (ga, gp, gn), loss = f1(a0, p0, n0)
            return loss, ga, gp, gn

        call1()
        return call1, (lambda r: None), ("torch.compile(torch.func.grad_and_value(loss), fullgraph=True): "
                                         "fresh gradient tensors each call")
    except Exception as e:  # noqa: BLE001
        errors.append("grad_and_value: %s: %s" % (type(e).__name__, str(e).splitlines()[0][:200]))

    # variant 2: forward + torch.autograd.grad inside the compiled function
    try:
        torch._dynamo.reset()

        def fwd_grad(a, p, n):
            a = a.detach().requires_grad_(True)
            p = p.detach().requires_grad_(True)
            n = n.detach().requires_grad_(True)
            loss = torch_loss(a, p, n)
            ga, gp, gn = torch.autograd.grad(loss, (a, p, n))
            return loss.detach(), ga, gp, gn

        f2 = torch.compile(fwd_grad, dynamic=False)
        f2(a0, p0, n0)
        return (lambda: f2(a0, p0, n0)), (lambda r: None), \
            "torch.compile(forward + torch.autograd.grad) [grad_and_value failed: %s]" % errors[-1]
    except Exception as e:  # noqa: BLE001
        errors.append("autograd.grad: %s: %s" % (type(e).__name__, str(e).splitlines()[0][:200]))

    # variant 3: compiled forward, AOTAutograd-compiled backward via .backward()
    torch._dynamo.reset()
    a, p, n = (x.clone().requires_grad_(True) for x in (a0, p0, n0))
    f3 = torch.compile(torch_loss, dynamic=False)

    def call3():
        a.grad = p.grad = n.grad = None
        loss = f3(a, p, n)
        loss.backward()
        return loss.detach(), a.grad, p.grad, n.grad

    call3()
    return call3, (lambda r: None), "torch.compile(forward) + .backward() [%s]" % "; ".join(errors)


def peer_torch_compile_out(a_np, p_np, n_np):
    """The fused single-pass kernel with its outputs reused: torch.compile(fullgraph=True) of
    grad_and_value whose gradients are copied into three preallocated buffers inside the compiled graph
    (Inductor writes them in place), so no call allocates (no page faults of fresh 64 MiB outputs)."""
    import torch._dynamo

    torch._dynamo.reset()
    a0, p0, n0 = (torch.from_numpy(x.copy()) for x in (a_np, p_np, n_np))
    ga, gp, gn = (torch.empty_like(a0) for _ in range(3))
    gv = torch.func.grad_and_value(torch_loss, argnums=(0, 1, 2))

    def step(a, p, n, ga, gp, gn):
        (g1, g2, g3), loss = gv(a, p, n)
        ga.copy_(g1)
        gp.copy_(g2)
        gn.copy_(g3)
        return loss

    f = torch.compile(step, fullgraph=True, dynamic=False)

    def call():
        return f(a0, p0, n0, ga, gp, gn), ga, gp, gn

    call()
    return call, (lambda r: None), ("torch.compile(grad_and_value(loss) + copy_ into reused gradient buffers, "
                                    "fullgraph=True): outputs reused")


def peer_torch_compile_fwd_bwd(a_np, p_np, n_np):
    """The usual protocol: compiled forward, AOTAutograd-compiled backward through .backward()."""
    import torch._dynamo

    torch._dynamo.reset()
    a, p, n = (torch.from_numpy(x.copy()).requires_grad_(True) for x in (a_np, p_np, n_np))
    f = torch.compile(torch_loss, dynamic=False)

    def call():
        a.grad = p.grad = n.grad = None
        loss = f(a, p, n)
        loss.backward()
        return loss.detach(), a.grad, p.grad, n.grad

    call()
    return call, (lambda r: None), "torch.compile(forward) + .backward(), grads reset to None each call (fresh outputs)"


def peer_jax_jit(a_np, p_np, n_np):
    import jax
    import jax.numpy as jnp

    def loss(a, p, n):
        dp = jnp.sum((a - p) ** 2, axis=1)
        dn = jnp.sum((a - n) ** 2, axis=1)
        v = dp - dn + MARGIN
        return jnp.sum(jnp.where(v > 0, v, 0.0))

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    a, p, n = (jax.device_put(jnp.asarray(x)) for x in (a_np, p_np, n_np))

    def call():
        return f(a, p, n)

    def sync(r):
        jax.block_until_ready(r)

    return call, sync, "jax.jit(jax.value_and_grad(loss, argnums=(0,1,2))), block_until_ready"


CRATE = "triplet-simd"


def build_crate():
    """Builds the crate's timing binary (benches/peers/triplet_timing.rs) once; returns its path."""
    return build("triplet_timing")

def run_crate(binary, a, p, n):
    """The crate on the same data and CPU (the child inherits the pinning), timed by the same protocol.
    Returns (median, min, max, iters, loss, (ga, gp, gn))."""
    import subprocess
    import tempfile
    N, D = a.shape
    with tempfile.TemporaryDirectory() as tmp:
        for k, x in (("a", a), ("p", p), ("n", n)):
            np.ascontiguousarray(x, dtype=np.float32).tofile(os.path.join(tmp, k + ".f32"))
        out = subprocess.run([binary, str(N), str(D), tmp, str(ARGS.min_time), str(ARGS.repeats)],
                             check=True, capture_output=True, text=True).stdout.split()
        grads = tuple(np.fromfile(os.path.join(tmp, k + ".f32"), dtype=np.float32).reshape(N, D)
                      for k in ("ga", "gp", "gn"))
    loss, med, lo, hi, iters = float(out[0]), float(out[1]), float(out[2]), float(out[3]), int(out[4])
    return med, lo, hi, iters, loss, grads


PEERS = {"torch-eager": peer_torch_eager, "torch-compile": peer_torch_compile,
         "torch-compile-out": peer_torch_compile_out, "torch-compile-fwd-bwd": peer_torch_compile_fwd_bwd,
         "jax-jit": peer_jax_jit}


def result_grads(name, r):
    if name == "jax-jit":
        return tuple(np.asarray(g) for g in r[1])
    return tuple(g.detach().numpy() for g in r[1:])


def result_loss(name, r):
    # torch peers return (loss, ga, gp, gn); jax returns (loss, (ga, gp, gn))
    return float(r[0])


def main():
    sizes = SIZES
    if ARGS.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in ARGS.sizes.split(",")]
    peers = [p for p in ARGS.peers.split(",") if p]
    skipped = {}
    versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    try:
        import jax
        import jaxlib
        versions["jax"] = jax.__version__
        versions["jaxlib"] = jaxlib.__version__
        jax_backend = jax.default_backend()
    except Exception as e:  # noqa: BLE001
        versions["jax"] = "unavailable (%s)" % e
        jax_backend = "-"
        if "jax-jit" in peers:
            peers.remove("jax-jit")
            skipped["jax-jit"] = "skipped: jax does not import (%s)" % e
    model, isa = cpu_model()
    load_before = loadavg()

    binary = build_crate()
    rows, notes = [], {}
    for (N, D) in sizes:
        rng = np.random.default_rng(12345 + N + D)
        a, p, n = (rng.standard_normal((N, D), dtype=np.float32) for _ in range(3))
        a64, p64, n64 = (x.astype(np.float64) for x in (a, p, n))
        v = ((a64 - p64) ** 2).sum(1) - ((a64 - n64) ** 2).sum(1) + MARGIN
        active = float((v > 0).mean())
        ref_loss = float(np.where(v > 0, v, 0.0).sum())
        w = (v > 0).astype(np.float64)[:, None]
        ref_grads = (w * 2 * (n64 - p64), w * 2 * (p64 - a64), w * 2 * (a64 - n64))  # SEMANTICS.md, no swap
        del a64, p64, n64

        def crate_row(when):
            print("[%s, %s] N=%d D=%d ..." % (CRATE, when, N, D), file=sys.stderr, flush=True)
            med, lo, hi, iters, got, grads = run_crate(binary, a, p, n)
            rel = abs(got - ref_loss) / max(1.0, abs(ref_loss))
            grel = max(float(np.abs(g.astype(np.float64) - gr).max()) / max(1e-30, float(np.abs(gr).max()))
                       for g, gr in zip(grads, ref_grads))
            rows.append((N, D, "%s (%s)" % (CRATE, when), med, lo, hi, iters, N / med, active, rel, None, grel))

        # The crate is timed before and after the peers of each size, in the same run, so that a change
        # of the machine's speed state shows up as a gap between its two rows.
        crate_row("before")
        notes.setdefault(CRATE, "benches/peers/triplet_timing.rs (TripletLoss::new(0.0), Sum, fused "
                         "forward_backward into three gradient buffers), run before and after the peers")
        for name in peers:
            print("[%s] N=%d D=%d ..." % (name, N, D), file=sys.stderr, flush=True)
            try:
                t_setup = time.perf_counter()
                call, sync, how = PEERS[name](a, p, n)
                r = call()
                sync(r)
                setup = time.perf_counter() - t_setup
                got = result_loss(name, r)
                rel = abs(got - ref_loss) / max(1.0, abs(ref_loss))
                grel = max(float(np.abs(np.asarray(g, dtype=np.float64) - gr).max()) / max(1e-30, float(np.abs(gr).max()))
                           for g, gr in zip(result_grads(name, r), ref_grads))
                del r
                med, lo, hi, iters = bench(call, sync, ARGS.repeats, ARGS.min_time)
                rows.append((N, D, name, med, lo, hi, iters, N / med, active, rel, setup, grel))
                notes.setdefault(name, how)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                msg = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:300] if str(e) else "")
                rows.append((N, D, name, None, None, None, 0, None, active, None, None, None))
                notes[name + " (N=%d, D=%d) FAILED" % (N, D)] = msg
        crate_row("after")

    load_after = loadavg()
    out = []
    out.append("# Triplet-loss peers (single-threaded CPU)")
    out.append("")
    out.append("Workload: squared-distance triplet loss, hinge, margin %g, reduction Sum, float32, "
               "loss + gradients w.r.t. a, p, n; inputs i.i.d. N(0, 1)." % MARGIN)
    out.append("Time per call = median over %d repeats, each >= %.2g s of back-to-back calls; "
               "triplets/s = N / time." % (ARGS.repeats, ARGS.min_time))
    out.append("")
    out.append("- CPU: %s (%s), pinned to CPU %d of %d allowed; `nproc` at run: %d" % (
        model, " ".join(isa) or "no AVX2", PINNED, N_ALLOWED, os.cpu_count() or 0))
    out.append("- " + ", ".join("%s %s" % kv for kv in versions.items()) + "; jax backend: %s" % jax_backend)
    out.append("- threads: torch.set_num_threads(1), OMP_NUM_THREADS=1, XLA_FLAGS=`%s`" % os.environ["XLA_FLAGS"])
    out.append("- load average before / after: %s / %s (other jobs shared the machine: numbers are noisy)" % (
        load_before, load_after))
    out.append("- command: `%s`" % command_line())
    out.append("")
    out.append("Column \"peer / crate\": the row's median time over the mean of the crate's two medians for that "
               "size (how many times faster the crate is).")
    out.append("")
    out.append("| N | D | peer | time/call (median) | min .. max | triplets/s | peer / crate | iters/repeat | active | loss rel. err | grad rel. err |")
    out.append("|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
    ours = {}
    for (N, D, name, med, *_rest) in rows:
        if name.startswith(CRATE):
            ours.setdefault((N, D), []).append(med)
    for (N, D, name, med, lo, hi, iters, rate, active, rel, setup, grel) in rows:
        if med is None:
            out.append("| %d | %d | %s | failed | | | | | %.3f | | |" % (N, D, name, active))
        else:
            base = statistics.mean(ours[(N, D)])
            out.append("| %d | %d | %s | %s | %s .. %s | %s | %.2f | %d | %.3f | %.1e | %.1e |" % (
                N, D, name, fmt_time(med), fmt_time(lo), fmt_time(hi), fmt_rate(rate), med / base, iters, active,
                rel, grel))
    out.append("")
    out.append("Peers:")
    notes.update(skipped)
    for k, v in notes.items():
        out.append("- %s: %s" % (k, v))
    setup_rows = [(N, D, name, s) for (N, D, name, _, _, _, _, _, _, _, s, _) in rows if s is not None]
    out.append("- first-call setup (incl. compilation): " + ", ".join(
        "%s %dx%d %.1f s" % (name, N, D, s) for (N, D, name, s) in setup_rows))
    text = "\n".join(out) + "\n"
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(ARGS.out)), exist_ok=True)
    with open(ARGS.out, "w") as f:
        f.write(text)
    print("wrote", ARGS.out, file=sys.stderr)


if __name__ == "__main__":
    main()
