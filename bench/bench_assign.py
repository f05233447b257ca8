"""Benchmark: batch `memeclust assign` throughput (memes per second, no OCR) against a bare forward pass of the image
backbone over the same images, and Tesseract's own rate. Prints its figures as a final table.

usage: python bench/bench_assign.py [--per-class 3] [--queries-per-class 12] [--ocr-n 40] [--out /tmp/bench-assign]

Data: real templates and real ImgFlip captions (../shared/data/realmemes) drawn by `render.realmemes_manifest`: one
draw (seed 0) is the fitted run's references (`pipeline.fit`, smoke training budget), another draw (seed 1) is the
memes to assign, given as a folder of images (no text, `ocr=False`: the image alone decides).
Bare forward pass: `backbones.embed_manifest` with the run's image backbone and no cache: decoding, resizing and the
forward pass, batched, as the assignment does it. The assignment timing includes loading the run, reading the folder
and validating each image, the Protomeme pass (a cache hit: same backbone), the heads, the per-class distances, the
fusion and writing the Parquet table; the embedding cache starts empty (its own folder).
"""
from __future__ import annotations
import argparse, os, platform, shutil, sys, tempfile, time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("--per-class", type=int, default=3, help="references per class (the fitted run)")
ap.add_argument("--queries-per-class", type=int, default=12, help="memes to assign per class")
ap.add_argument("--ocr-n", type=int, default=40)
ap.add_argument("--out", default=None, help="working folder (default: a temporary one)")
a = ap.parse_args()
work = Path(a.out or tempfile.mkdtemp(prefix="bench-assign-"))
os.environ["MEMECLUST_RUNS"] = str(work / "runs")          # an empty embedding cache: nothing is read from earlier runs

import pandas as pd  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memeclust.core import markdown_table, realmemes_dir  # noqa: E402
from memeclust.data import load_manifest  # noqa: E402
from memeclust.render import realmemes_manifest, ocr_many, tesseract_available  # noqa: E402
from memeclust.backbones import build_encoder, embed_manifest  # noqa: E402
from memeclust.pipeline import fit, load_run  # noqa: E402
from memeclust.batch import assign_batch  # noqa: E402

root = realmemes_dir()
if root is None: sys.exit("needs ../shared/data/realmemes")
refs = realmemes_manifest(root, work / "refs", per_class=a.per_class, seed=0)
queries = realmemes_manifest(root, work / "queries", per_class=a.queries_per_class, seed=1)
folder = work / "folder"; folder.mkdir(exist_ok=True)
q = load_manifest(queries)
for p in q.images(): shutil.copy(p, folder / f"{p.parent.name}-{p.name}")
n = len(list(folder.iterdir()))
t = time.perf_counter(); run_dir = fit(refs, work / "run", scale="smoke", log=lambda *_: None); t_fit = time.perf_counter() - t
run = load_run(run_dir)
enc = build_encoder(run.info["image_backbone"])
bare_m = load_manifest(queries)
t = time.perf_counter(); embed_manifest(bare_m, enc, cache=False, progress=False); t_bare = time.perf_counter() - t
t = time.perf_counter()
s = assign_batch(run_dir, [folder], work / "assigned.parquet", ocr=False, log=lambda *_: None)
t_assign = time.perf_counter() - t
rows = [("references (fitted run), memes to assign", f"{run.info['memes']} of {run.info['classes']} classes, {n}", ""),
        ("fit (smoke budget)", f"{t_fit:.0f} s", ""),
        (f"bare forward pass of {enc.name} (decode + forward)", f"{n / t_bare:.1f} memes/s ({t_bare:.1f} s)", ""),
        ("memeclust assign --no-ocr, whole run", f"{n / t_assign:.1f} memes/s ({t_assign:.1f} s)", ""),
        ("assign / bare forward", f"{t_bare / t_assign:.2f}x", ">= 0.8x")]
if tesseract_available():
    paths = [p for p in sorted(folder.iterdir())][:a.ocr_n]
    t = time.perf_counter(); ocr_many(paths, workers=2); t_ocr = time.perf_counter() - t
    rows.append(("OCR (Tesseract, 2 processes)", f"{len(paths) / t_ocr:.2f} memes/s", ""))
print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; work folder {work}")
print(markdown_table(pd.DataFrame(rows, columns=["measure", "value", "aim"])))
