"""Helpers shared by the peer scripts (triplet_peers.py, mining_peers.py): one thread, pinning, the timing
protocol, the machine's description and number formats. Import it before numpy or torch: it sets the
thread environment variables those read at import."""

import os
import statistics
import sys
import time

# ---- single thread, before any numerical import ---------------------------------------------------
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pin(cpu):
    """Pins the process (and the children it starts) to `cpu` (default: the last allowed one); returns
    (the CPU, how many were allowed)."""
    allowed = sorted(os.sched_getaffinity(0))
    pinned = cpu if cpu is not None else allowed[-1]
    os.sched_setaffinity(0, {pinned})
    return pinned, len(allowed)


def torch_one_thread(torch):
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def cpu_model():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [x for x in ("avx2", "fma", "avx512f", "avx512_fp16", "amx_tile") if x in flags]
    return model, isa


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def bench(call, sync, repeats, min_time):
    """Median seconds per call. `call()` runs one evaluation, `sync(result)` waits for it."""
    sync(call())  # warm-up
    sync(call())
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            r = call()
        sync(r)
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        iters = max(iters * 2, int(iters * min_time / max(dt, 1e-9) * 1.2) + 1)
    times = [dt / iters]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(iters):
            r = call()
        sync(r)
        times.append((time.perf_counter() - t0) / iters)
    return statistics.median(times), min(times), max(times), iters


def build(binary):
    """Builds one of the bench package's binaries (release) and returns its path."""
    import subprocess
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "triplet-simd-bench", "--bin", binary],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", binary)


def command_line():
    """This run's command, with paths relative to the repository where they lie inside it."""
    exe = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else sys.executable
    return " ".join([exe, os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)] + sys.argv[1:])


def fmt_time(s):
    if s >= 1e-1:
        return "%.1f ms" % (s * 1e3)
    if s >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    return "%.1f µs" % (s * 1e6)


def fmt_rate(x):
    if x >= 1e9:
        return "%.2f G/s" % (x / 1e9)
    if x >= 1e6:
        return "%.2f M/s" % (x / 1e6)
    return "%.1f k/s" % (x / 1e3)
