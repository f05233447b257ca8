"""Benchmark: DMW at K@All (per-class minimum distances to every reference, both modalities, then eq. 1-5) with
`memeclust.dmw.class_min_distances` against a straightforward implementation, the share of the machine's float32
matmul rate the distance part reaches, and peak memory at 1x and 10x the references. Prints its figures as a final table.

usage: python bench/bench_dmw.py [--nq 2000] [--nr 50000] [--d 384] [--classes 1000] [--naive-nq 100] [--mem-nr 50000 500000]

Data: random unit vectors (seeded), references labelled uniformly at random with `--classes` string labels; one
reference set per modality (text and image, same size), one query set per modality.
Straightforward implementation ("naive"): FAISS IndexFlatIP search with k = all references, then a Python loop over
classes taking each class's minimum distance (vectorised over queries: np.where(label == c, dist, inf).min(1)). It is
run on the first `--naive-nq` queries only and its rate (queries/s) is compared with the fast one's on all `--nq`.
Both go on to the same eq. 1-5; the fast result is checked against the naive one on those queries.
Peak memory: each reference count runs `class_min_distances` (one modality, `--nq` queries) in a fresh process: that
process's peak RSS (VmHWM, including the inputs), its peak before the call, and tracemalloc's peak of the NumPy
allocations made inside the call (its working memory).
"""
from __future__ import annotations
import argparse, json, os, platform, resource, subprocess, sys, time, tracemalloc
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memeclust.core import markdown_table  # noqa: E402
from memeclust.dmw import class_min_distances, class_probabilities, dmw  # noqa: E402
from vectors import matmul_gflops, timed as _timed, unit_vectors  # noqa: E402  (bench/vectors.py)


def labels_for(n: int, n_classes: int, seed) -> np.ndarray:
    return np.char.add("c", np.char.zfill(np.random.default_rng(seed).integers(0, n_classes, n).astype(str), 4))


def cpu_seconds() -> tuple[float, float]:
    "(CPU seconds the whole machine has been busy, of which this process and its waited-for children)."
    f = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK"), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def naive_class_min(index: faiss.Index, queries: np.ndarray, ref_cls: np.ndarray, n_classes: int) -> np.ndarray:
    "Straightforward K@All: exhaustive FAISS search (k = all references), then a Python loop over classes."
    sims, rows = index.search(queries, index.ntotal)
    dist, lab = 1 - sims, ref_cls[rows]
    out = np.empty((len(queries), n_classes), np.float32)
    for c in range(n_classes): out[:, c] = np.where(lab == c, dist, np.inf).min(axis=1)
    return out


def fast_dmw(q_text, q_image, refs, classes):
    "Both modalities' class distances (memeclust.dmw) and eq. 1-5; returns (DMWResult, seconds in distances)."
    t = time.perf_counter()
    d_t = class_min_distances(q_text, refs["text"][0], refs["text"][1], classes=classes)[0]
    d_v = class_min_distances(q_image, refs["image"][0], refs["image"][1], classes=classes)[0]
    t_dist = time.perf_counter() - t
    return dmw(class_probabilities(d_t), class_probabilities(d_v)), t_dist, (d_t, d_v)


def naive_dmw(q_text, q_image, flat, classes):
    d_t = naive_class_min(flat["text"][0], q_text, flat["text"][1], len(classes))
    d_v = naive_class_min(flat["image"][0], q_image, flat["image"][1], len(classes))
    return dmw(class_probabilities(d_t), class_probabilities(d_v)), (d_t, d_v)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: a child started by fork+exec inherits in ru_maxrss the
    parent's size at the fork, which would hide the child's own peak."""
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024


def memory_child(nr: int, nq: int, d: int, n_classes: int) -> dict:
    "Run in a fresh process: one modality's class_min_distances at `nr` references; time, RSS and NumPy peak."
    refs, labels = unit_vectors(nr, d, [0, 1]), labels_for(nr, n_classes, [0, 2])
    queries = unit_vectors(nq, d, [0, 3])
    rss_before = peak_rss_mib()
    seconds = _timed(lambda: class_min_distances(queries, refs, labels))
    tracemalloc.start()
    dist, classes = class_min_distances(queries, refs, labels)
    _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
    return dict(nr=nr, seconds=seconds, rss_mib=peak_rss_mib(),
                rss_before_mib=rss_before, call_peak_mib=peak / 2 ** 20, data_mib=(refs.nbytes + labels.nbytes + queries.nbytes) / 2 ** 20,
                out_mib=dist.nbytes / 2 ** 20)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nq", type=int, default=2000)
    ap.add_argument("--nr", type=int, default=50000, help="references per modality")
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--naive-nq", type=int, default=100, help="queries the naive implementation runs on")
    ap.add_argument("--rounds", type=int, default=3, help="runs of the fast path (median); the naive path runs twice")
    ap.add_argument("--mem-nr", type=int, nargs="+", default=[50000, 500000], help="reference counts for the memory runs")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.memory_child is not None:
        print(json.dumps(memory_child(a.memory_child, a.nq, a.d, a.classes))); return None

    load0, t_start = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    gflops = matmul_gflops()
    print(f"float32 matmul 4096^3, best of 3: {gflops:.1f} GFLOP/s", flush=True)

    classes = np.char.add("c", np.char.zfill(np.arange(a.classes).astype(str), 4))
    refs, flat = {}, {}
    for i, m in enumerate(("text", "image")):
        R, lab = unit_vectors(a.nr, a.d, [1, i]), labels_for(a.nr, a.classes, [2, i])
        refs[m] = (R, lab)
        index = faiss.IndexFlatIP(a.d); index.add(R)
        flat[m] = (index, np.searchsorted(classes, lab))
    q_text, q_image = unit_vectors(a.nq, a.d, [3, 0]), unit_vectors(a.nq, a.d, [3, 1])

    fast_dmw(q_text[:50], q_image[:50], refs, classes)  # warm-up
    fast_s, dist_s = [], []
    for r in range(a.rounds):
        t = time.perf_counter(); res, t_dist, d_fast = fast_dmw(q_text, q_image, refs, classes)
        fast_s.append(time.perf_counter() - t); dist_s.append(t_dist)
        print(f"fast round {r + 1}: {fast_s[-1]:.2f} s ({t_dist:.2f} s in distances) for {a.nq} queries", flush=True)
    n = a.naive_nq
    naive_s = []
    for r in range(2):
        t = time.perf_counter(); res_n, d_naive = naive_dmw(q_text[:n], q_image[:n], flat, classes)
        naive_s.append(time.perf_counter() - t)
        print(f"naive round {r + 1}: {naive_s[-1]:.2f} s for {n} queries", flush=True)
    small_s = min(_timed(lambda: fast_dmw(q_text[:n], q_image[:n], refs, classes)) for _ in range(3))
    max_diff = max(float(np.abs(d_fast[i][:n] - d_naive[i]).max()) for i in range(2))
    same_pred = bool((res.predicted[:n] == res_n.predicted).all())
    assert max_diff < 1e-5 and np.allclose(res.probabilities[:n], res_n.probabilities, atol=1e-6), max_diff

    fast_qps, naive_qps = a.nq / float(np.median(fast_s)), n / float(np.median(naive_s))
    dist_flops = 2 * 2 * a.nq * a.nr * a.d  # two modalities
    dist_gflops = dist_flops / float(np.median(dist_s)) / 1e9
    load1, cpu1 = os.getloadavg(), cpu_seconds()
    others = ((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / (time.perf_counter() - wall0)

    mem = []
    for nr in a.mem_nr:
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(nr), "--nq", str(a.nq), "--d", str(a.d),
                              "--classes", str(a.classes)], capture_output=True, text=True, check=True)
        mem.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"memory run, {nr} references: {mem[-1]}", flush=True)
    load2 = os.getloadavg()

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"\nmachine: {os.cpu_count()} CPU(s), {cpu}; numpy {np.__version__}, faiss {faiss.__version__}; {t_start}; "
          f"load average {load0[0]:.2f} at start, {load1[0]:.2f} after timing, {load2[0]:.2f} at end; "
          f"other processes used {others:.2f} cores on average during the timing part")
    rows = [
        ("workload", f"{a.nq} queries x {a.nr:,} refs x {a.d}-d, {a.classes} classes", "per modality; text + image"),
        ("float32 matmul rate", f"{gflops:.1f} GFLOP/s", "np.matmul 4096x4096 @ 4096x4096, best of 3"),
        ("fast DMW K@All", f"{fast_qps:.0f} queries/s", f"class_min_distances x 2 + eq. 1-5, median of {a.rounds} runs of {a.nq} queries"),
        ("  of which distances", f"{float(np.median(dist_s)):.2f} s", f"{dist_gflops:.1f} GFLOP/s = {100 * dist_gflops / gflops:.0f}% of matmul rate (2*nq*nr*d per modality)"),
        ("fast DMW K@All, small batch", f"{n / small_s:.0f} queries/s", f"same, {n} queries per call (best of 3)"),
        ("naive DMW K@All", f"{naive_qps:.1f} queries/s", f"FAISS k=all + Python loop per class, {n} queries (median of 2), rate scaled"),
        ("fast / naive", f"{fast_qps / naive_qps:.0f}x", "aim >= 20x"),
        ("fast / naive, same small batch", f"{(n / small_s) / naive_qps:.0f}x", f"both on {n} queries"),
        ("others' CPU during timing", f"{others:.2f} cores", "of 2; well above 0 means the figures are slowed"),
        ("agreement", f"max |d diff| {max_diff:.1e}; same predictions: {same_pred}", f"on the {n} naive queries"),
    ]
    for m in mem:
        rows.append((f"memory, {m['nr']:,} refs (1 modality)", f"peak RSS {m['rss_mib']:.0f} MiB; call peak {m['call_peak_mib']:.0f} MiB",
                     f"RSS {m['rss_before_mib']:.0f} MiB before the call; inputs {m['data_mib']:.0f} MiB, output {m['out_mib']:.1f} MiB; "
                     f"{a.nq / m['seconds']:.0f} queries/s"))
    table = pd.DataFrame(rows, columns=["figure", "value", "how"])
    print()
    print(markdown_table(table))
    return table


if __name__ == "__main__":
    main()
