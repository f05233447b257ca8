"""Benchmark: embedding extraction (decode + resize in DataLoader workers + model) against the bare model forward on
the same images, and a cached re-run against the first run. Prints its figures as a final table.

usage: python bench/bench_extraction.py [--n 512] [--model efficientnet_lite0] [--workers 0 1 2] [--threads 1 2] [--batch 8 32]

Images are generated (seeded): PNGs of 256-512 px with gradients, shapes, a caption and mild noise, like rendered memes.
Bare forward = the encoder (batch normalisation + network) on already-decoded, already-resized uint8 pixels: the upper
bound extraction can reach.
Every configuration runs on the same images in the same process; the best bare and the best pipeline configuration are
then run alternately (--rounds) and their medians compared: a ratio measured in one run, robust to load drifting.
"""
from __future__ import annotations
import argparse, os, platform, resource, shutil, sys, tempfile, time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memeclust.backbones import build_encoder, default_batch_size, default_workers, embed_manifest, image_pixels  # noqa: E402
from memeclust.core import markdown_table  # noqa: E402
from memeclust.data import load_image, validate_manifest  # noqa: E402

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"


def make_images(root: Path, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed); (root / "img").mkdir(parents=True, exist_ok=True)
    font = ImageFont.truetype(str(FONT), 28)
    rows = []
    for i in range(n):
        w, h = (int(v) for v in rng.integers(256, 513, size=2))
        c0, c1 = rng.integers(0, 256, size=3), rng.integers(0, 256, size=3)
        t = np.linspace(0, 1, h)[:, None, None]
        a = (c0 * (1 - t) + c1 * t) * np.ones((1, w, 1))
        a += rng.normal(0, 6, size=a.shape)
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            d.ellipse((x0, y0, x0 + int(rng.integers(30, 200)), y0 + int(rng.integers(30, 200))), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        d.text((10, 10), f"MEME NUMBER {i}", font=font, fill="white", stroke_width=2, stroke_fill="black")
        im.save(root / f"img/{i:04d}.png")
        rows.append({"meme_id": f"b{i:04d}", "image": f"img/{i:04d}.png", "text": f"meme number {i}", "label": f"c{i % 20}"})
    return pd.DataFrame(rows)


def bare_forward(enc, images: list, batch: int, threads: int) -> float:
    "images/s of the encoder alone (batch normalisation + network) on pre-decoded, pre-resized uint8 pixels."
    old = torch.get_num_threads()
    x = torch.stack([image_pixels(im, enc.spec.image_size) for im in images])
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            enc(x[:batch])                                          # warm-up
            t = time.perf_counter()
            for i in range(0, len(x), batch): enc(x[i:i + batch])
            return len(x) / (time.perf_counter() - t)
    finally: torch.set_num_threads(old)


def pipeline(enc, m, batch, workers, threads, cache=False) -> tuple[float, object]:
    "images/s of embed_manifest (None = its default for that argument)."
    t = time.perf_counter()
    e = embed_manifest(m, enc, batch_size=batch, num_workers=workers, threads=threads, cache=cache, progress=False)
    return len(m.rows) / (time.perf_counter() - t), e


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 32], help="bare-forward batch sizes tried once; the first is used after")
    ap.add_argument("--rounds", type=int, default=3, help="rounds in which every configuration runs once, alternated")
    a = ap.parse_args(argv)
    load0, t_start = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    tmp = Path(tempfile.mkdtemp(prefix="bench_extraction_"))
    try:
        t = time.perf_counter(); df = make_images(tmp / "data", a.n)
        print(f"generated {a.n} PNGs (256-512 px) in {time.perf_counter() - t:.1f}s", flush=True)
        m = validate_manifest(df, tmp / "data", decode=False)
        enc = build_encoder(a.model)
        images = [load_image(tmp / "data" / p) for p in m.rows["image"]]
        t = time.perf_counter(); [image_pixels(load_image(tmp / "data" / p), enc.spec.image_size) for p in m.rows["image"]]
        decode_ms = (time.perf_counter() - t) / a.n * 1000
        pipeline(enc, m, a.batch[0], 0, None)                          # warm-up (imports, allocator)
        batch_effect = {(b, th): bare_forward(enc, images, b, th) for b in a.batch for th in a.threads}
        for k, v in batch_effect.items(): print(f"bare forward batch={k[0]} threads={k[1]}: {v:.1f} img/s", flush=True)

        # every configuration once per round, rounds alternated so load drifting on a shared machine hits all alike
        b, torch_threads = a.batch[0], torch.get_num_threads()
        dflt = (default_batch_size(enc), default_workers(), torch_threads)
        configs = [("bare", b, None, th) for th in a.threads] + [("pipeline", b, w, th) for w in a.workers for th in a.threads]
        if ("pipeline", *dflt) not in configs: configs.append(("pipeline", *dflt))
        rates = {c: [] for c in configs}
        for r in range(a.rounds):
            for c in configs:
                rates[c].append(bare_forward(enc, images, c[1], c[3]) if c[0] == "bare" else pipeline(enc, m, c[1], c[2], c[3])[0])
            print(f"round {r + 1}: " + ", ".join(f"{c[0]} w={c[2]} t={c[3]}: {v[-1]:.1f}" for c, v in rates.items()), flush=True)
        med = {c: float(np.median(v)) for c, v in rates.items()}
        best_bare_c = max((c for c in configs if c[0] == "bare"), key=med.get)
        best_pipe_c = max((c for c in configs if c[0] == "pipeline"), key=med.get)
        best_bare, best_pipe, default_pipe = med[best_bare_c], med[best_pipe_c], med[("pipeline", *dflt)]
        one = (med[("pipeline", b, 1, 1)] / med[("bare", b, None, 1)]) if ("pipeline", b, 1, 1) in med and ("bare", b, None, 1) in med else float("nan")

        cache = tmp / "cache"
        first_rate, e1 = pipeline(enc, m, None, None, None, cache=cache)
        t = time.perf_counter(); e2 = embed_manifest(m, enc, cache=cache, progress=False)
        rerun_s = time.perf_counter() - t
        first_s = a.n / first_rate
        assert e2.n_computed == 0 and e2.n_cached == a.n and np.array_equal(e1.vectors, e2.vectors)
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        load1 = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"\nmachine: {os.cpu_count()} CPU(s), {cpu}; torch {torch.__version__}; {t_start}; "
          f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    print("\nbatch size, bare forward, one pass:")
    print(markdown_table(pd.DataFrame([(bb, th, f"{v:.1f}") for (bb, th), v in batch_effect.items()], columns=["batch", "torch threads", "img/s"])))
    print(f"\nevery configuration, batch {b}, {a.rounds} alternated rounds:")
    print(markdown_table(pd.DataFrame([(c[0], "-" if c[2] is None else c[2], c[3], " ".join(f"{v:.1f}" for v in rates[c]), f"{med[c]:.1f}")
                                       for c in configs], columns=["path", "workers", "torch threads", "img/s per round", "median"])))
    desc = lambda c: f"batch {c[1]}, {c[2]} workers, {c[3]} torch threads" if c[0] == "pipeline" else f"batch {c[1]}, {c[3]} torch threads"
    table = pd.DataFrame([
        ("images", a.n, "generated PNG, 256-512 px"),
        ("decode+resize, 1 core", f"{decode_ms:.1f} ms/img", "what a worker does: PIL decode, RGB, bilinear 224x224"),
        ("bare forward, best", f"{best_bare:.1f} img/s", desc(best_bare_c) + ", pre-decoded uint8 pixels (median)"),
        ("extraction, best", f"{best_pipe:.1f} img/s", desc(best_pipe_c) + " (median)"),
        ("extraction, defaults", f"{default_pipe:.1f} img/s", "embed_manifest defaults: " + desc(("pipeline", *dflt)) + " (median)"),
        ("extraction / bare, best vs best", f"{best_pipe / best_bare:.2f}", "aim >= 0.85"),
        ("extraction / bare, defaults vs best", f"{default_pipe / best_bare:.2f}", ""),
        ("extraction (1 worker) / bare, both 1 thread", f"{one:.2f}", "decoding hidden when the worker has its own core"),
        ("first run, cache on", f"{first_s:.2f} s", f"{a.n} computed, written to cache (defaults)"),
        ("cached re-run", f"{rerun_s:.3f} s", f"{e2.n_cached} from cache, 0 computed"),
        ("first / cached", f"{first_s / rerun_s:.0f}x", "aim >= 50x"),
        ("peak RSS", f"{peak:.0f} MiB", "max of this process and its workers"),
    ], columns=["figure", "value", "how"])
    print()
    print(markdown_table(table))
    return table


if __name__ == "__main__":
    main()
