#!/usr/bin/python3
"""The anchor for `lora4j bench matmul`: numpy's matmul (OpenBLAS) on the same shapes and layouts.

Reads cases 'M K N LAYOUT' from stdin, one a line, and answers each with one JSON line, like
`lora4j bench matmul --cases-from-stdin --json`; its first line names the BLAS in use. Run it through
bench/matmul.sh, which unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE so OpenBLAS picks its AVX-512 kernels.
Usage: matmul_numpy.py THREADS SECONDS_PER_CASE
"""
import json, sys, time
import numpy as np

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
try:
    from threadpoolctl import threadpool_info, threadpool_limits
    limit = threadpool_limits(threads)
    info = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
except ImportError:
    info = "threadpoolctl missing: thread count not enforced"
print(json.dumps({"blas": str(info)}), flush=True)

rng = np.random.default_rng(1)
for line in sys.stdin:
    if not line.strip():
        continue
    m, k, n, layout = line.split()
    m, k, n = int(m), int(k), int(n)
    a = rng.uniform(-1, 1, (k, m) if layout[0] == "T" else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if layout[1] == "T" else (k, n)).astype(np.float32)
    A = a.T if layout[0] == "T" else a
    B = b.T if layout[1] == "T" else b
    end = time.perf_counter() + seconds * 0.3
    while time.perf_counter() < end:
        A @ B
    best, reps, end = 1e9, 0, time.perf_counter() + seconds * 0.7
    while reps < 3 or time.perf_counter() < end:
        t0 = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t0)
        reps += 1
    print(json.dumps({"m": m, "k": k, "n": n, "layout": layout, "gflops": 2 * m * k * n / best / 1e9, "ms": best * 1e3}), flush=True)
