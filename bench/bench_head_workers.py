"""Head runs of one `launch` one after another in this process vs spread over spawned workers (`head_workers`).

Usage: python bench/bench_head_workers.py [RUN_CONFIG.yaml] [N]
RUN_CONFIG: a head-mode run's config.yaml (default: the largest demo head run in runs/cache/train; needs its
embeddings cached). N copies (seeds 0..N-1, 15 epochs, no early stop) train twice into fresh folders: with
MEMECLUST_TRAIN_PROCS=1, then =2. Prints the seconds of each and their ratio, measured in this one run."""
import dataclasses, json, os, sys, tempfile, time
from pathlib import Path
from memeclust.core import runs_dir
from memeclust.train import launch, load_config

def largest_head_run() -> Path:
    best = None
    for s in (runs_dir() / "cache" / "train").glob("*/summary.json"):
        info = json.loads(s.read_text())
        if info.get("mode") == "head" and info.get("modality") == "image" and (best is None or info["memes"] > best[0]):
            best = (info["memes"], s.parent / "config.yaml")
    if best is None: sys.exit("no head-mode run in runs/cache/train: run a fit first (e.g. make reproduce SCALE=smoke)")
    return best[1]

def timed(configs, procs: str) -> float:
    os.environ["MEMECLUST_TRAIN_PROCS"] = procs
    t0 = time.perf_counter()
    launch(configs, log=lambda *_: None)
    return time.perf_counter() - t0

if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else largest_head_run()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    base = load_config(path)
    tmp = Path(tempfile.mkdtemp())
    make = lambda tag: [dataclasses.replace(base, out_dir=str(tmp / tag / str(s)), seed=s, max_epochs=15, patience=100)
                        for s in range(n)]
    print(f"{n} head runs of {len(base.meme_ids or [])} memes ({path.parent.name}), 15 epochs each, {os.cpu_count()} cores")
    one, two = timed(make("serial"), "1"), timed(make("workers"), "2")
    print(f"in this process: {one:.1f} s; two spawned workers: {two:.1f} s; speed-up {one / two:.2f}x")
