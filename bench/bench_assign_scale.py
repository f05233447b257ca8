"""Benchmark: the paper's scale through the code `memeclust assign` runs after embedding: 69,000 queries against
345,000 references of 4,478 classes (paper Section 3: the KYM corpus), per chunk of queries as `batch.assign_batch`
scores them: per-class distances from the FAISS indexes (`dmw.index_class_distances`: image the nearest reference of
each class, text the mean of each class' 3 nearest, as the default preset), the evidence-aware fusion over all classes
(`pipeline.mix` with `dmw.EvidenceDMW`, one global group) and the open-set answer (P(right) against the threshold).
Prints time per stage, peak memory and a sanity accuracy as a final table.

usage: python bench/bench_assign_scale.py [--nq 69000] [--nr 345000] [--classes 4478] [--d 256] [--chunk 4096]

Data: synthetic unit vectors: each class a random centre, its references and queries the centre plus noise (`--noise`)
in each modality; 5% of the queries are of no class (pure noise), which the open set should call unknown. The
embedding itself (backbone + head per meme) is not part of this: `bench_assign.py` measures it on real images.
The reliabilities are fixed (a slope on margin - distance like a fitted run's), not fitted on validation data.
"""
from __future__ import annotations
import argparse, platform, resource, sys, time
from pathlib import Path

import numpy as np, pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memeclust.core import markdown_table  # noqa: E402
from memeclust.dmw import EvidenceDMW, Reliability, index_class_distances  # noqa: E402
from memeclust.index import build_index  # noqa: E402
from memeclust.pipeline import QueryScores, mix  # noqa: E402
from vectors import unit_vectors  # noqa: E402  (bench/vectors.py)


def peak_gib() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def clustered(centres: np.ndarray, of: np.ndarray, noise: float, seed) -> np.ndarray:
    "Unit vectors near `centres[of]`, made in blocks (no full-size float64 temporary)."
    out = np.empty((len(of), centres.shape[1]), np.float32)
    for s in range(0, len(of), 65536):
        e = unit_vectors(min(65536, len(of) - s), centres.shape[1], [*np.atleast_1d(seed), s])
        x = centres[of[s:s + len(e)]] + noise * e
        out[s:s + len(e)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nq", type=int, default=69000); ap.add_argument("--nr", type=int, default=345000)
    ap.add_argument("--classes", type=int, default=4478); ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=4096); ap.add_argument("--noise", type=float, default=1.2)
    ap.add_argument("--text-k", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    names = np.char.add("kym-", np.arange(a.classes).astype(str))
    t0 = time.perf_counter()
    ref_of = np.concatenate([np.arange(a.classes), rng.integers(0, a.classes, a.nr - a.classes)])
    q_of = rng.integers(0, a.classes, a.nq)
    unknown = rng.random(a.nq) < 0.05
    idx, Q = {}, {}
    for j, mod in enumerate(("image", "text")):
        centres = unit_vectors(a.classes, a.d, [j, 1])
        R = clustered(centres, ref_of, a.noise, [j, 2])
        idx[mod] = build_index(R, np.char.add(f"{mod}-", np.arange(a.nr).astype(str)), names[ref_of], mod, cluster="1")
        del R
        Q[mod] = clustered(centres, q_of, a.noise, [j, 3])
        Q[mod][unknown] = unit_vectors(int(unknown.sum()), a.d, [j, 4])
    t_data = time.perf_counter() - t0
    rel = Reliability((4.0, 1.0), 2.0)          # P(right) rises with margin_weight x margin - d1
    rule = EvidenceDMW(rel, rel, 0.05, 0.05, threshold=0.6)
    classes = np.array(sorted(names))
    pred, known, times = np.empty(a.nq, object), np.empty(a.nq, bool), {"image": 0.0, "text": 0.0, "fusion": 0.0}
    t1 = time.perf_counter()
    for s in range(0, a.nq, a.chunk):
        e = min(a.nq, s + a.chunk)
        t = time.perf_counter(); d_img = index_class_distances(idx["image"], Q["image"][s:e], classes, k=1)[0]
        times["image"] += time.perf_counter() - t
        t = time.perf_counter(); d_txt = index_class_distances(idx["text"], Q["text"][s:e], classes, k=a.text_k)[0]
        times["text"] += time.perf_counter() - t
        t = time.perf_counter()
        n = e - s
        qs = QueryScores(np.arange(s, e), np.full(n, "?", object), classes, np.full(len(classes), "1"), ["1"],
                         np.ones((n, 1)), d_img, d_txt, np.ones(n, bool), "global")
        r = mix(rule, qs)
        pred[s:e], known[s:e] = classes[r.predicted], r.p_right >= rule.threshold
        times["fusion"] += time.perf_counter() - t
    total = time.perf_counter() - t1
    right = (pred == names[q_of])[~unknown].mean()
    rows = [("queries x references x classes", f"{a.nq:,} x {a.nr:,} x {a.classes:,}", ""),
            ("dims (both modalities), chunk", f"{a.d}, {a.chunk}", ""),
            ("make the vectors and FAISS indexes", f"{t_data:.1f} s", ""),
            ("image: per-class nearest distance", f"{times['image']:.1f} s", ""),
            (f"text: per-class mean of {a.text_k} nearest", f"{times['text']:.1f} s", ""),
            ("evidence fusion + open set (pipeline.mix)", f"{times['fusion']:.1f} s", ""),
            ("scoring all queries (the three above)", f"{total:.1f} s ({a.nq / total:.0f} queries/s)", "< 600 s"),
            ("peak memory of the process (incl. indexes)", f"{peak_gib():.2f} GiB", "< 8 GiB"),
            ("precision@1 of known-class queries (sanity)", f"{right:.3f}", ""),
            ("known = true: known-class / no-class queries", f"{known[~unknown].mean():.3f} / {known[unknown].mean():.3f}", "")]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(markdown_table(pd.DataFrame(rows, columns=["measure", "value", "aim"])))


if __name__ == "__main__":
    main()
