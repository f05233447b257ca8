"""Benchmark: metric-learning training throughput (samples/s) of `memeclust.train.launch` per stream, corpus scale, mode
(full fine-tune vs cached trunk) and number of processes, with the ratios between them. Prints a final table.

usage: python bench/bench_training.py [--streams image text] [--scales smoke demo] [--modes full cached] [--procs 1 2]
                                      [--steps 5] [--epochs 3] [--wait-idle 0] [--retries 0]

Every case is one short `launch` (a subprocess; torchrun + gloo when processes > 1) on the confirmed, non-ImgFlip memes
of a MiniKYM corpus: global batch 32 (8 classes x 4), `--steps` steps per epoch, `--epochs` epochs, lr 1e-4, no dropout.
Throughput = mean `samples_per_s` of the run's history.csv over the epochs after the first (the first holds warm-up);
setup = wall time of the launch minus the epochs' seconds (imports, model, DDP start, checkpoints and, in cached mode,
filling the trunk cache). The corpora are generated once under $MEMECLUST_RUNS (or /tmp/memeclust-bench-runs); the trunk
cache starts empty in every bench run (its own runs folder) and is shared by the later cases of the same stream and scale,
so the case that fills it shows the fill in its setup time. Peak memory is sampled from /proc every 0.2 s over all the
run's processes (torchrun agent, ranks, data workers). "others' CPU" is what other processes used during a case: on a
shared machine, figures with it well above 0 are slowed (2 OpenMP threads on 2 cores suffer most); `--wait-idle S`
starts each case only after a quiet 10 s (waiting at most S s) and `--retries R` reruns a case up to R times while
others used more than `--max-others` cores, keeping the quietest try (a retried case that filled the trunk cache fills an
empty one again).
"""
from __future__ import annotations
import argparse, hashlib, os, platform, re, resource, shutil, sys, tempfile, threading, time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
CORPORA = Path(os.environ.get("MEMECLUST_RUNS") or "/tmp/memeclust-bench-runs")
os.environ["MEMECLUST_RUNS"] = str(CORPORA)                     # before memeclust is imported: minikym() writes here
from memeclust.core import markdown_table  # noqa: E402
from memeclust.synth import minikym  # noqa: E402
from memeclust.train import TrainConfig, TrainError, launch  # noqa: E402

STREAMS = {"image": dict(modality="image", backbone="efficientnet_lite0"),
           "text": dict(modality="text", backbone="all-MiniLM-L6-v2", dense_dim=4096)}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_by_pid() -> dict:
    "{pid: (parent pid, resident bytes)} of every process we can read."
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit(): continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            out[int(d)] = (ppid, int(open(f"/proc/{d}/statm").read().split()[1]) * PAGE)
        except (OSError, ValueError, IndexError): continue
    return out


class TreeMemory:
    "Samples, in a thread, the summed and the largest RSS of this process' descendants: `peak_sum`, `peak_one` (bytes)."
    def __init__(self, every: float = 0.2): self.every, self.peak_sum, self.peak_one, self._stop = every, 0, 0, threading.Event()
    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            procs = _rss_by_pid(); kids, tree = {}, []
            for pid, (ppid, _) in procs.items(): kids.setdefault(ppid, []).append(pid)
            todo = list(kids.get(me, []))
            while todo: p = todo.pop(); tree.append(p); todo += kids.get(p, [])
            rss = [procs[p][1] for p in tree]
            if rss: self.peak_sum, self.peak_one = max(self.peak_sum, sum(rss)), max(self.peak_one, max(rss))
            self._stop.wait(self.every)
    def __enter__(self): self._t = threading.Thread(target=self._run, daemon=True); self._t.start(); return self
    def __exit__(self, *exc): self._stop.set(); self._t.join()


def cpu_seconds() -> tuple[float, float]:
    "(CPU seconds the whole machine has been busy, of which this process and its waited-for descendants)."
    f = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / os.sysconf("SC_CLK_TCK"), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_idle(limit: float, window: float = 10.0, below: float = 0.2) -> float:
    "Wait (at most `limit` s) for a `window` s in which other processes use under `below` cores; returns seconds waited."
    t = time.perf_counter()
    while True:
        c0 = cpu_seconds(); time.sleep(window); c1 = cpu_seconds()
        if (c1[0] - c0[0]) - (c1[1] - c0[1]) < below * window or time.perf_counter() - t >= limit: return time.perf_counter() - t


def folder_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.exists() else 0


def confirmed_ids(manifest: Path) -> list[str]:
    "The memes a run trains on: confirmed, not from ImgFlip."
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    return df.meme_id[df.status.eq("confirmed") & df.source.ne("imgflip")].tolist()


def run_case(stream, scale, mode, procs, manifest, ids, out_dir, train_runs, a) -> dict:
    cfg = TrainConfig(manifest=str(manifest), out_dir=str(out_dir), mode=mode, meme_ids=ids, batch_size=32, per_class=4,
                      steps_per_epoch=a.steps, max_epochs=a.epochs, patience=100, lr=1e-4, dropout=False, **STREAMS[stream])
    cache = train_runs / "cache"
    row = dict(stream=stream, scale=scale, mode=mode, procs=procs)
    if a.wait_idle: row["waited_s"] = wait_idle(a.wait_idle)
    cache0, cpu0, t = folder_bytes(cache), cpu_seconds(), time.perf_counter()
    log_lines = []
    try:
        with TreeMemory() as mem:
            summary = launch([cfg], nproc=procs, resume=False, log=log_lines.append, env={"MEMECLUST_RUNS": str(train_runs)})[0]
    except TrainError as e:                                      # its message ends with torchrun's summary: find the cause
        causes = [l for l in log_lines if re.search(r"\w+(Error|Exception)\b", l) and "ChildFailedError" not in l]
        cause = causes[-1] if causes else str(e).splitlines()[-1]
        rank = re.match(r"\[rank\d+\]", cause)
        detail = [l for l in log_lines if rank and l.startswith(rank.group()) and "Parameter indices" in l]
        row.update(error="\n".join([cause, *detail[-1:], f"  command: {str(e).splitlines()[0]}"]),
                   wall_s=time.perf_counter() - t)
        print(f"FAILED {stream}/{scale}/{mode}/{procs}p: {row['error']}", flush=True)
        return row
    wall, cpu1 = time.perf_counter() - t, cpu_seconds()
    h = pd.read_csv(out_dir / "history.csv")
    later = h[h.epoch > 1]
    grown = folder_bytes(cache) - cache0
    row.update(memes=summary["memes"], classes=summary["classes"], epochs=len(h), wall_s=wall,
               setup_s=wall - h.seconds.sum(), sps=later.samples_per_s.mean(), sps_epochs=h.samples_per_s.tolist(),
               cache=("-" if mode == "full" else f"filled ({grown / 2**20:.1f} MiB)" if grown > 0 else "reused"),
               others=((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / wall,
               rss_sum=mem.peak_sum / 2**20, rss_one=mem.peak_one / 2**20, loss=f"{h.loss.iloc[0]:.3f}->{h.loss.iloc[-1]:.3f}")
    print(f"{stream}/{scale}/{mode}/{procs}p: {row['sps']:.1f} samples/s (epochs: {' '.join(f'{v:g}' for v in row['sps_epochs'])}), "
          f"setup {row['setup_s']:.1f}s, wall {wall:.1f}s, trunk cache {row['cache']}, peak RSS {row['rss_sum']:.0f} MiB, "
          f"others' CPU {row['others']:.2f} cores" + (f" (waited {row['waited_s']:.0f}s for quiet)" if a.wait_idle else ""), flush=True)
    return row


def measure(stream, scale, mode, procs, manifest, ids, out_dir, train_runs, a) -> dict:
    "run_case, rerun (up to --retries times) while other processes took more than --max-others cores; the quietest try is kept."
    tries = []
    while True:
        shutil.rmtree(out_dir, ignore_errors=True)
        tries.append(run_case(stream, scale, mode, procs, manifest, ids, out_dir, train_runs, a))
        row = tries[-1]
        if "error" in row or row["others"] <= a.max_others or len(tries) > a.retries: break
        print(f"  others used {row['others']:.2f} cores (> {a.max_others}): trying again", flush=True)
        if row["cache"].startswith("filled"): shutil.rmtree(train_runs, ignore_errors=True)   # the retry fills it again
    best = min(tries, key=lambda r: r.get("others", 0))
    return {**best, "tries": len(tries)}


def ratio_rows(res: pd.DataFrame) -> list[tuple]:
    "(ratio, value, what) rows from the cases that ran."
    ok = res[res.sps.notna()] if "sps" in res else res.iloc[:0]
    sps = {(r.stream, r.scale, r.mode, r.procs): r.sps for r in ok.itertuples()}
    failed = {(r.stream, r.scale, r.mode, r.procs) for r in res.itertuples()} - set(sps)
    out = []
    for (st, sc, mo, pr), v in sps.items():
        if mo == "cached" and pr == 1 and (st, sc, "full", 1) in sps:
            out.append((f"cached / full, {st}, {sc}, 1 process", f"{v / sps[st, sc, 'full', 1]:.1f}x", "throughput"))
    for st, sc, mo, pr in res[["stream", "scale", "mode", "procs"]].itertuples(index=False):
        if pr > 1 and (st, sc, mo, 1) in sps | dict.fromkeys(failed):
            v = "failed" if {(st, sc, mo, pr), (st, sc, mo, 1)} & failed else f"{sps[st, sc, mo, pr] / sps[st, sc, mo, 1]:.2f}x"
            out.append((f"{pr} processes / 1, {st}, {sc}, {mo}", v, f"throughput; ~1x or less expected on {os.cpu_count()} cores"))
    for (st, sc, mo, pr), v in sps.items():
        if sc == "demo" and (st, "smoke", mo, pr) in sps:
            out.append((f"demo / smoke, {st}, {mo}, {pr} process{'es' if pr > 1 else ''}", f"{sps[st, 'smoke', mo, pr] / v:.2f}x",
                        "time per training sample (inverse throughput)"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", nargs="+", choices=list(STREAMS), default=list(STREAMS))
    ap.add_argument("--scales", nargs="+", choices=["smoke", "demo"], default=["smoke", "demo"])
    ap.add_argument("--modes", nargs="+", choices=["full", "cached"], default=["full", "cached"])
    ap.add_argument("--procs", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--steps", type=int, default=5, help="steps (global batches of 32) per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per case; the first is left out of the throughput")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="before each case wait up to S s for 10 s in which other processes use < 0.2 cores (shared machines)")
    ap.add_argument("--retries", type=int, default=0, help="rerun a case up to this many times while others' CPU > --max-others")
    ap.add_argument("--max-others", type=float, default=0.25, metavar="CORES", help="see --retries")
    a = ap.parse_args(argv)
    if a.epochs < 2: ap.error("--epochs must be at least 2: the first epoch (warm-up) is left out of the throughput")
    if any(p < 1 or 32 % p for p in a.procs): ap.error("--procs: each must divide the global batch of 32")
    procs = sorted(set(a.procs))                                  # 1 process first: it fills the trunk cache with every core
    train_py = Path(sys.modules[launch.__module__].__file__)        # the training subprocesses run this file
    code0 = hashlib.sha256(train_py.read_bytes()).hexdigest()[:12]
    load0, t_start, t0 = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench_training_"))
    rows = []
    try:
        corpora = {}
        for sc in a.scales:
            t = time.perf_counter(); path = minikym(sc, 0)
            corpora[sc] = (path, confirmed_ids(path))
            print(f"MiniKYM {sc}: {path} ({len(corpora[sc][1])} confirmed memes; {time.perf_counter() - t:.1f}s)", flush=True)
        for st in a.streams:
            for sc in a.scales:
                for mo in a.modes:
                    for pr in procs:
                        rows.append(measure(st, sc, mo, pr, *corpora[sc], tmp / f"{st}-{sc}-{mo}-{pr}p", tmp / f"runs-{st}-{sc}", a))
        ru_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1, total = os.getloadavg(), time.perf_counter() - t0
    code1 = hashlib.sha256(train_py.read_bytes()).hexdigest()[:12]

    res = pd.DataFrame(rows)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    import torch
    print(f"\nmachine: {os.cpu_count()} CPU(s), {cpu}; torch {torch.__version__}, cuda available: {torch.cuda.is_available()}; "
          f"{t_start}; load average {load0[0]:.2f} at start, {load1[0]:.2f} at end; total {total / 60:.1f} min")
    print(f"each case: global batch 32 (8 classes x 4), {a.steps} steps/epoch, {a.epochs} epochs, lr 1e-4, no dropout; "
          f"OMP_NUM_THREADS = {os.cpu_count()} // processes (set by launch)")
    print(f"{train_py.relative_to(train_py.parents[1])} sha256 {code0}" + ("" if code1 == code0 else
          f" at start, {code1} at end: IT CHANGED DURING THE RUN, so cases may have run different code") + "\n")
    table = pd.DataFrame([(r.stream, r.scale, r.mode, r.procs,
                           "FAILED" if isinstance(getattr(r, "error", None), str) else f"{r.sps:.1f}",
                           "" if isinstance(getattr(r, "error", None), str) else " ".join(f"{v:g}" for v in r.sps_epochs),
                           f"{getattr(r, 'setup_s', float('nan')):.1f}", f"{r.wall_s:.1f}", getattr(r, "cache", ""),
                           f"{getattr(r, 'rss_sum', float('nan')):.0f}", f"{getattr(r, 'rss_one', float('nan')):.0f}",
                           "" if isinstance(getattr(r, "error", None), str) else str(int(r.memes)), getattr(r, "loss", ""),
                           f"{getattr(r, 'others', float('nan')):.2f}", r.tries)
                          for r in res.itertuples()],
                         columns=["stream", "scale", "mode", "procs", "samples/s", "per epoch", "setup s", "wall s", "trunk cache",
                                  "peak RSS all MiB", "largest proc MiB", "memes", "loss",
                                  "others' CPU", "tries"])
    print(markdown_table(table))
    print()
    print(markdown_table(pd.DataFrame(ratio_rows(res), columns=["ratio", "value", "of"])))
    print(f"\nsamples/s: mean over epochs 2..{a.epochs} (per epoch: all epochs, from history.csv); setup: launch wall time minus "
          f"the epochs' seconds. Peak RSS: sampled every 0.2 s, summed over the run's processes (shared library pages count "
          f"once per process) and the largest single one. ru_maxrss of children (the largest process of ANY case so far, "
          f"not per case): {ru_max:.0f} MiB. others' CPU: cores used, on average over the "
          f"case, by processes outside this bench (machine busy time from /proc/stat minus this bench's own CPU time); "
          f"figures from cases where it is well above 0 are slowed by other work.")
    for r in res.itertuples():
        if isinstance(getattr(r, "error", None), str): print(f"\nFAILED {r.stream}/{r.scale}/{r.mode}/{r.procs}p:\n{r.error}")
    return res


if __name__ == "__main__":
    main()
