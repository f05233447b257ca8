"""Benchmark: Table 8's duplicate-class detection (Appendix A.1) at the paper's scale, every Unconfirmed meme against
every Confirmed meme (334,039 x 344,695), with `memeclust.index.similar_class_counts` (FAISS range search over query
blocks: the similarity matrix is never held) and `duplicate_classes`. Prints wall time, peak memory, the memory a dense
matrix would take, the rate reached as a share of this machine's float32 matmul rate (measured in the same run), and
whether every planted duplicate class is found. One modality per run (`--d`: its embedding size).

usage: python bench/bench_duplicates.py [--nq 334039] [--nr 344695] [--d 128] [--q-classes 9074] [--r-classes 4497]
                                        [--planted 900] [--block 4096] [--threshold 0.9] [--share 0.8]

Data: random unit vectors (seeded); query and reference labels uniform over `--q-classes` / `--r-classes` (the
paper's class counts). `--planted` query classes are made duplicates of a random reference class: each of their memes
is a reference meme of that class plus noise (cosine about 0.95), so the rule must find exactly those pairs. Random
d-dimensional unit vectors are far below 0.9 of each other (about 0.45 at most here), so nothing else matches.
Peak memory: this process's peak RSS (ru_maxrss), which includes the inputs (queries + references, float32).
"""
from __future__ import annotations
import argparse, platform, resource, sys, time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memeclust.core import markdown_table  # noqa: E402
from memeclust.index import duplicate_classes, similar_class_counts  # noqa: E402
from vectors import matmul_gflops, unit_vectors  # noqa: E402  (bench/vectors.py)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nq", type=int, default=334_039); p.add_argument("--nr", type=int, default=344_695)
    p.add_argument("--d", type=int, default=128); p.add_argument("--q-classes", type=int, default=9_074)
    p.add_argument("--r-classes", type=int, default=4_497); p.add_argument("--planted", type=int, default=900)
    p.add_argument("--block", type=int, default=4096); p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--share", type=float, default=0.8)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    R = unit_vectors(a.nr, a.d, 1)
    r_lab = rng.integers(0, a.r_classes, a.nr)
    q_lab = rng.integers(0, a.q_classes, a.nq)
    Q = unit_vectors(a.nq, a.d, 2)
    planted = dict(zip(rng.choice(a.q_classes, a.planted, replace=False), rng.choice(a.r_classes, a.planted, replace=False)))
    by_ref = pd.Series(np.arange(a.nr)).groupby(r_lab).apply(np.asarray)
    for qc, rc in planted.items():                                 # each meme of qc: a meme of rc plus noise (cosine ~0.95)
        rows = np.flatnonzero(q_lab == qc)
        src = R[rng.choice(by_ref[rc], len(rows))]
        x = src + 0.32 / np.sqrt(a.d) * rng.standard_normal(src.shape).astype(np.float32)
        Q[rows] = x / np.linalg.norm(x, axis=1, keepdims=True)
    q_names, r_names = np.char.add("u", q_lab.astype(str)), np.char.add("c", r_lab.astype(str))
    gen = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t1 = time.perf_counter()
    counts = similar_class_counts(Q, q_names, R, r_names, a.threshold, block=a.block)
    dups = duplicate_classes(counts, a.share)
    wall = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rate = 2 * a.nq * a.nr * a.d / wall / 1e9
    mm = matmul_gflops()
    found = set(zip(dups.query_class, dups.reference_class))
    want = {(f"u{q}", f"c{r}") for q, r in planted.items() if (q_lab == q).any()}
    inputs = (Q.nbytes + R.nbytes) / 2**30
    rows = [("queries x references x dims", f"{a.nq:,} x {a.nr:,} x {a.d}", "paper: 334,039 x 344,695; d: the embedding size"),
            ("wall time: counts + rule", f"{wall:.1f} s", f"block {a.block} queries; threshold {a.threshold}, share {a.share}"),
            ("rate", f"{rate:.1f} GFLOP/s = {rate / mm:.0%} of matmul", f"2*nq*nr*d flops; np.matmul 4096^3 here: {mm:.1f} GFLOP/s"),
            ("peak memory (process, incl. inputs)", f"{peak:.2f} GiB", f"inputs {inputs:.2f} GiB; before the call {rss_before:.2f} GiB"),
            ("dense similarity matrix (float32)", f"{a.nq * a.nr * 4 / 2**30:,.2f} GiB", f"{a.nq * a.nr * 4 / 2**30 / peak:,.1f}x the measured peak"),
            ("class pairs with a similar meme", f"{len(counts):,}", ""),
            ("duplicate pairs found / planted", f"{len(found & want)} / {len(want)} (+{len(found - want)} others)", "planted: cosine ~0.95 copies"),
            ("generating the data (not timed above)", f"{gen:.1f} s", "")]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(markdown_table(pd.DataFrame(rows, columns=["measure", "value", "note"])))


if __name__ == "__main__":
    main()
