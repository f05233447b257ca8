"""How often each setting of the validation grid was chosen by the fits in a cache, and how far behind it was otherwise.

Usage: python bench/bench_grid.py [SCALE] [RUNS_DIR ...] (default demo, this checkout's runs/). Reads every
cache/fit/*/fit.json of that scale that searched a grid. Per setting: fits x streams where it was chosen (ties go to
the earlier setting, as `pipeline.train_groups` breaks them), chosen with no tie, and its mean and largest shortfall
in validation precision@1 behind the chosen one. Figures come from the fits found in this one run."""
import json, sys
from pathlib import Path
import pandas as pd
from memeclust.core import runs_dir

def choices(scale: str, folders):
    "One row per (fit, stream, setting): its validation precision@1, the chosen one's, and whether it was chosen."
    for folder in folders:
        for f in sorted(Path(folder).glob("cache/fit/*/fit.json")):
            info = json.loads(f.read_text())
            if info.get("scale") != scale: continue
            for stream, c in (info.get("grid_choice") or {}).items():
                grid = c.get("grid", [])
                if len(grid) < 2: continue
                best = max(g["val_precision_at_1"] for g in grid)
                tied = sum(g["val_precision_at_1"] == best for g in grid) > 1
                for g in grid:
                    yield {"fit": f.parent.name, "stream": stream, "setting": g["setting"], "p1": g["val_precision_at_1"],
                           "best": best, "chosen": g["setting"] == c["label"], "tied": tied}

if __name__ == "__main__":
    scale = sys.argv[1] if len(sys.argv) > 1 else "demo"
    df = pd.DataFrame(choices(scale, sys.argv[2:] or [runs_dir()]))
    if df.empty: sys.exit(f"no {scale} fit with a grid search in the given runs folders")
    df["shortfall"] = df.best - df.p1
    out = df.groupby("setting", sort=False).agg(chosen=("chosen", "sum"), chosen_untied=("chosen", lambda s: int((s & ~df.loc[s.index, "tied"]).sum())),
                                                mean_shortfall=("shortfall", "mean"), max_shortfall=("shortfall", "max"))
    print(f"{df.fit.nunique()} {scale} fits, {len(df.groupby(['fit', 'stream']))} stream searches")
    print(out.round(4).to_string())
