"""Replay early stopping on the validation histories of finished head runs: what a smaller patience would have chosen.

Usage: python bench/bench_patience.py [SCALE] (default demo; reads runs/cache/train/*/history.csv of that scale's runs)
For each patience p, the share of runs whose selected epoch stays the same as with patience 10, the epochs run as a
share of patience 10's, and the mean validation precision@1 given up. Same rule as `train._better` (precision@1, ties
by MAP@R, min_delta 1e-4). Figures come from this one run over the runs found."""
import json, sys
import pandas as pd
from memeclust.core import runs_dir

def replay(p1, mr, patience: int, min_delta: float = 1e-4) -> tuple:
    "(selected epoch index, last epoch index run, selected precision@1) under `patience`."
    best, chosen, bad, last = None, 0, 0, 0
    for i, v in enumerate(zip(p1, mr)):
        last = i
        better = best is None or v[0] > best[0] + min_delta or (v[0] >= best[0] - 1e-12 and v[1] > best[1] + min_delta)
        if better: best, chosen, bad = v, i, 0
        elif i > 0: bad += 1
        if bad >= patience: break
    return chosen, last, best[0]

def histories(scale: str):
    for s in (runs_dir() / "cache" / "train").glob("*/summary.json"):
        info, cfg = json.loads(s.read_text()), (s.parent / "config.yaml").read_text().splitlines()[0]
        h = s.parent / "history.csv"
        if info.get("mode") != "head" or f"{scale}-" not in cfg or not h.exists(): continue
        h = pd.read_csv(h)
        if "val_precision_at_1" in h: yield info["modality"], h.val_precision_at_1.to_numpy(), h.val_map_at_r.to_numpy()

if __name__ == "__main__":
    scale = sys.argv[1] if len(sys.argv) > 1 else "demo"
    runs = list(histories(scale))
    if not runs: sys.exit(f"no finished {scale} head run with a validation history in runs/cache/train")
    ref = [replay(p1, mr, 10) for _, p1, mr in runs]
    rows = []
    for p in (3, 4, 5, 6, 7, 8, 10):
        got = [replay(p1, mr, p) for _, p1, mr in runs]
        rows.append({"patience": p, "same epoch": sum(g[0] == r[0] for g, r in zip(got, ref)) / len(runs),
                     "epochs vs 10": sum(g[1] + 1 for g in got) / sum(r[1] + 1 for r in ref),
                     "precision@1 given up": sum(r[2] - g[2] for g, r in zip(got, ref)) / len(runs)})
    print(f"{len(runs)} {scale} head runs")
    print(pd.DataFrame(rows).round(4).to_string(index=False))
