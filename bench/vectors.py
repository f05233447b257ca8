"""Synthetic vectors and this machine's float32 matmul rate, shared by the benchmarks (bench_dmw, bench_duplicates)."""
from __future__ import annotations
import time

import numpy as np


def unit_vectors(n: int, d: int, seed, block: int = 65536) -> np.ndarray:
    "n random unit vectors (float32), drawn in blocks so no float64 temporary of the full size exists."
    out = np.empty((n, d), np.float32)
    for i, s in enumerate(range(0, n, block)):
        x = np.random.default_rng([*np.atleast_1d(seed), i]).standard_normal((min(block, n - s), d), dtype=np.float32)
        out[s:s + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def matmul_gflops(n: int = 4096, repeats: int = 3) -> float:
    "Best-of-`repeats` float32 GFLOP/s of an n x n @ n x n np.matmul (2 n^3 flops)."
    a, b = unit_vectors(n, n, 11), unit_vectors(n, n, 12)
    a @ b  # warm-up (BLAS threads, pages)
    best = min(timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def timed(fn) -> float:
    t = time.perf_counter(); fn(); return time.perf_counter() - t
