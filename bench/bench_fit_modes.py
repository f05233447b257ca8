"""Benchmark: `memeclust fit` in head mode (default preset, with and without the validation grid) vs cached mode (paper
preset) on the same ~4,000 MiniKYM demo memes from the same warm embedding caches, and `evaluate` throughput against a
bare backbone forward. Prints a final table.

usage: python bench/bench_fit_modes.py [--queries 600] [--skip-cached]

Fits: the Confirmed reference split of MiniKYM demo (e03's training manifest, ~4,000 memes, 300 classes, k = 6). Before
timing, the backbone embeddings (protomeme/image/text) are computed once (the embedding cache every mode shares), and
so are the cached-mode trunk activations, timed apart as "trunk fill" (cached mode's own cache, which a first cached
fit pays). What the fits time is clustering, training, indexing and calibration. Each fit gets a fresh seed (a new
training key) so no trained run is reused. `--skip-cached` leaves the cached fit out.

Evaluate: `--queries` held-out memes whose images are in no cache (a fresh runs folder for the embeddings), scored
with the head-mode fit and soft routing (every cluster); against the bare image backbone's forward over the same images
(batch 8, no cache, decoding included as in `embed_manifest`). The ratio is memes/s of evaluate over memes/s of the
bare forward. The 1-minute load average is printed last: well above 2 means others shared the 2 cores and slowed the figures.
"""
from __future__ import annotations
import argparse, dataclasses, os, shutil, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pandas as pd  # noqa: E402
from memeclust.core import markdown_table  # noqa: E402


def main():
    p = argparse.ArgumentParser(); p.add_argument("--queries", type=int, default=600); p.add_argument("--skip-cached", action="store_true")
    a = p.parse_args()
    from memeclust.experiments import experiment_sets
    from memeclust.pipeline import fit, evaluate
    from memeclust.data import load_manifest, write_manifest
    from memeclust.backbones import build_encoder, embed_manifest, default_backbone
    from memeclust.train import trunk_encoder, HEAD_GRID
    from memeclust.core import artifact_path
    sets = experiment_sets(None, "demo", 0, 2)
    m = load_manifest(sets["confirmed_split"], workers=2)
    train = dataclasses.replace(m, rows=m.rows[m.rows.split.ne("test")].reset_index(drop=True))
    print(f"warming caches for {len(train.rows)} memes ...", flush=True)
    for mod in ("image", "text"):
        embed_manifest(train, build_encoder(default_backbone(mod)), progress=False)
    rows, out, t = [], Path(tempfile.mkdtemp(prefix="bench-fit-")), {}
    if not a.skip_cached:
        trunks = [trunk_encoder(build_encoder(default_backbone(mod), dense_dim=4096 if mod == "text" else None), 2)[0] for mod in ("image", "text")]
        for tr in trunks: shutil.rmtree(artifact_path("embeddings", tr.cache_key), ignore_errors=True)     # a cold trunk cache
        t0 = time.perf_counter()
        for tr in trunks: embed_manifest(train, tr, progress=False)
        t["trunk"] = time.perf_counter() - t0
        rows.append({"figure": "trunk fill (cached mode's own cache)", "value": f"{t['trunk']:.1f} s", "how": "image + text trunk activations of the same memes"})
    seed = int(time.time()) % 100000
    cases = [("head", "default", None), ("head+grid", "default", list(HEAD_GRID))] + ([] if a.skip_cached else [("cached", "paper", None)])
    for name, preset, grid in cases:
        t0 = time.perf_counter()
        fit(sets["confirmed_split"], out / name, scale="demo", clusters=6, seed=seed, preset=preset, grid=grid, log=lambda s: None)
        t[name] = time.perf_counter() - t0
        rows.append({"figure": f"fit, {preset} preset, {name} mode" + (" (6 settings chosen on validation)" if grid else ""), "value": f"{t[name]:.1f} s",
                     "how": f"{len(train.rows)} memes, k = 6, warm embedding caches, seed {seed}"})
        print(rows[-1], flush=True)
    if not a.skip_cached:
        rows += [{"figure": "cached / head fit time", "value": f"{t['cached'] / t['head']:.1f}x", "how": "warm trunk cache; aim >= 5x"},
                 {"figure": "cached incl. trunk fill / head", "value": f"{(t['cached'] + t['trunk']) / t['head']:.1f}x", "how": "a first cached fit"},
                 {"figure": "cached / head with grid", "value": f"{t['cached'] / t['head+grid']:.1f}x", "how": "warm trunk cache"}]
    # evaluate throughput on memes in no cache
    q = load_manifest(sets["unconfirmed"] or sets["confirmed_test"], workers=2)
    q = dataclasses.replace(q, rows=q.rows.head(a.queries).reset_index(drop=True))
    qpath = write_manifest(q.rows, Path(q.root) / ".bench-queries.csv")
    os.environ["MEMECLUST_RUNS"] = str(out / "cold")                       # no embedding cache for the queries
    t0 = time.perf_counter(); evaluate(out / "head", qpath, out / "eval", log=lambda s: None); t_eval = time.perf_counter() - t0
    os.environ["MEMECLUST_RUNS"] = str(out / "cold2")
    qm = load_manifest(qpath, workers=2)
    enc = build_encoder(default_backbone("image"))
    t0 = time.perf_counter(); embed_manifest(qm, enc, cache=False, progress=False); t_bare = time.perf_counter() - t0
    n = len(qm.rows)
    rows += [{"figure": "evaluate", "value": f"{n / t_eval:.1f} memes/s", "how": f"{n} memes, cold caches, soft routing over 6 clusters, image + text + protomeme features"},
             {"figure": "bare image backbone forward", "value": f"{n / t_bare:.1f} memes/s", "how": "embed_manifest(cache=False), batch 8, decoding included"},
             {"figure": "evaluate / bare forward", "value": f"{t_bare / t_eval:.2f}", "how": "aim >= 0.5"},
             {"figure": "load average (1 min) at the end", "value": f"{os.getloadavg()[0]:.2f}", "how": "2 cores; this bench alone keeps it near 2"}]
    print(markdown_table(pd.DataFrame(rows)))
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
