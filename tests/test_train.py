"""Metric-learning training: DDP (gloo) equivalence, kill-and-resume, and the data problems a run must explain."""
import os, signal, subprocess, sys
from pathlib import Path

import numpy as np, pandas as pd, pytest, torch

from memeclust.train import TrainConfig, TrainError, launch, load_config, save_config, embed_trained
from memeclust.data import load_manifest
from conftest import N_CLASSES, PER_CLASS

def _cfg(manifest, out, **kw):
    base = dict(mode="cached", lr=1e-3, max_epochs=3, patience=5, batch_size=16, per_class=4, steps_per_epoch=6, dropout=False)
    return TrainConfig(str(manifest), str(out), **{**base, **kw})


def _history(run):
    return pd.read_csv(Path(run) / "history.csv")


def test_two_gloo_processes_match_one(tiny, tmp_path):
    "Same global batches, one process vs two gloo processes: the same loss curve."
    one = launch([_cfg(tiny, tmp_path / "one", lr=1e-4)], nproc=1, log=lambda s: None)[0]
    two = launch([_cfg(tiny, tmp_path / "two", lr=1e-4)], nproc=2, log=lambda s: None)[0]
    assert (one["world_size"], two["world_size"]) == (1, 2)
    h1, h2 = _history(tmp_path / "one"), _history(tmp_path / "two")
    assert len(h1) == len(h2) == 3
    # Same weights, same global batches: only the order of float sums differs (gathered embeddings, gradient
    # all-reduce), ~1e-7 per step. Measured at lr 1e-4: 3 epochs of 6 steps agree to ~1e-6 relative; we allow 1e-5.
    # (At lr 1e-3 on this tiny set, training is chaotic enough that the same 1e-7 grows to ~5% within 12 steps; the
    # first steps still agree to 1e-7. That is float arithmetic, not a different computation.)
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-5)
    assert h1.loss.iloc[-1] < h1.loss.iloc[0]                      # it learns


def _children(pid):
    try: return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError: return []


def test_kill_one_rank_then_resume_matches_uninterrupted(tiny, tmp_path):
    "SIGKILL one of two ranks mid-run; --resume finishes it at exactly the uninterrupted run's losses."
    kw = dict(max_epochs=4, steps_per_epoch=12, dropout=True, seed=3)   # dropout on: the RNG state must be restored too
    ref = launch([_cfg(tiny, tmp_path / "ref", **kw)], nproc=2, log=lambda s: None)[0]
    run = tmp_path / "killed"; cfg = _cfg(tiny, run, **kw); run.mkdir()
    path = save_config(cfg, run / "config.yaml")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "memeclust.train", "--config", str(path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:                                         # the ranks' own log lines: wait for the event, no polling
        if "epoch 2:" in line: break
    workers = _children(proc.pid)
    assert len(workers) == 2, f"expected two worker processes, found {workers}"
    os.kill(workers[-1], signal.SIGKILL)                             # one rank dies in epoch 3
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not (run / "model.pt").exists() and (run / "last.pt").exists()
    done = torch.load(run / "last.pt", weights_only=True)["state"]["epoch"]
    assert 2 <= done < 4
    resumed = launch([cfg], nproc=2, resume=True, log=lambda s: None)[0]
    assert "resumed after epoch" in (run / "train.log").read_text()
    left = sorted(f.name for f in run.glob("*.pt"))
    assert left == ["model.pt"], f"a finished run keeps only its weights, not its resume state: {left}"
    # Same world size, same thread count, same batches and restored RNG: the arithmetic is the same, so the losses are
    # equal to float precision (we allow 1e-6 relative).
    np.testing.assert_allclose(_history(run).loss, _history(tmp_path / "ref").loss, rtol=1e-6)
    assert resumed["best_loss"] == pytest.approx(ref["best_loss"], rel=1e-6)


def test_data_problems_are_explained(tiny, tmp_path):
    "Singleton class and empty text are reported and left out; an empty cluster fails with a clear message."
    s = launch([_cfg(tiny, tmp_path / "text", modality="text", max_epochs=1)], nproc=1, log=lambda s: None)[0]
    log = (tmp_path / "text" / "train.log").read_text()
    assert "1 memes with empty text are left out of text training" in log
    assert "1 classes with a single meme are left out of the batches" in log
    assert s["memes"] == N_CLASSES * PER_CLASS - 1 + 1                # 63 of class 0-7 with text + the singleton
    with pytest.raises(TrainError, match="no training memes: the selection .* is empty"):
        launch([_cfg(tiny, tmp_path / "empty", meme_ids=[])], nproc=1, log=lambda s: None)
    one_class = [f"c0-{j}" for j in range(PER_CLASS)]
    with pytest.raises(TrainError, match="at least 2 classes with 2 or more memes"):
        launch([_cfg(tiny, tmp_path / "one", meme_ids=one_class)], nproc=1, log=lambda s: None)


def test_trained_model_embeds_and_is_reused(tiny, tmp_path):
    "A finished run is reused (not retrained) and its embeddings put same-class memes closer than the untrained trunk+top."
    cfg = _cfg(tiny, tmp_path / "run", max_epochs=6, steps_per_epoch=8)
    first = launch([cfg], nproc=1, log=lambda s: None)[0]
    lines = []
    again = launch([cfg], nproc=1, log=lines.append)[0]
    assert again["seconds"] == first["seconds"] and any("already trained" in l for l in lines)
    m = load_manifest(tiny, decode=False)
    emb = embed_trained(tmp_path / "run", m)
    assert emb.vectors.shape == (len(m.rows), 1280)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, atol=1e-5)
    labels = m.rows.set_index("meme_id").loc[emb.meme_ids, "label"].to_numpy()
    S = emb.vectors @ emb.vectors.T; np.fill_diagonal(S, -np.inf)
    assert (labels[S.argmax(1)] == labels).mean() > 0.5                   # 1-NN well above chance (1/9)


@pytest.mark.parametrize("modality", ["image", "text"])
def test_full_mode_two_processes(tiny, tmp_path, modality):
    "The paper's full fine-tune under DDP: backbone parameters the embedding never uses (classifier head, pooler) are tolerated."
    cfg = _cfg(tiny, tmp_path / "full", modality=modality, mode="full", max_epochs=1, steps_per_epoch=2, batch_size=8, per_class=2, lr=1e-5)
    s = launch([cfg], nproc=2, log=lambda s: None)[0]
    assert (s["world_size"], s["mode"], s["trainable"], s["epochs"]) == (2, "full", "whole network", 1)
    assert np.isfinite(_history(tmp_path / "full").loss).all()


def _head(manifest, out, **kw):
    base = dict(mode="head", loss={"name": "NTXentLoss", "temperature": 0.1}, miner=None, lr=1e-3, weight_decay=1e-4, max_epochs=8,
                patience=8, batch_size=16, per_class=4, select="validation", val_fraction=0.25, seed=0)
    return TrainConfig(str(manifest), str(out), **{**base, **kw})


def test_validation_selects_the_best_epoch(tiny, tmp_path):
    "Head mode, selection on validation: the kept epoch is the history's best validation precision@1 (ties: MAP@R, then the earlier)."
    s = launch([_head(tiny, tmp_path / "run")], nproc=1, log=lambda s: None)[0]
    h = _history(tmp_path / "run")
    assert h.epoch.tolist() == list(range(0, s["epochs"] + 1))       # epoch 0 (untrained) is scored too
    best = h.sort_values(["val_precision_at_1", "val_map_at_r", "epoch"], ascending=[False, False, True], kind="stable").iloc[0]
    assert s["best_epoch"] == int(best.epoch) and s["select"] == "validation"
    assert s["val"]["precision_at_1"] == pytest.approx(best.val_precision_at_1)
    assert s["val"]["n"] == 2 * N_CLASSES                            # 25% of each 8-meme class; the singleton stays whole
    assert "1 classes too small to spare a validation meme" in " ".join(s["notes"])
    ck = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert ck["head"] == {"kind": "linear", "dim_in": 1280, "dim_out": 1280}


def test_untrained_epoch_is_kept_when_training_only_hurts(tiny, tmp_path):
    "A huge learning rate wrecks the head: no epoch beats epoch 0, the run says so, and the indexed embedding keeps the backbone's neighbours."
    from memeclust.backbones import build_encoder, embed_manifest
    lines = []
    s = launch([_head(tiny, tmp_path / "run", lr=50.0, max_epochs=3, patience=3)], nproc=1, log=lines.append)[0]
    assert s["best_epoch"] == 0 and s["selected_untrained"] is True
    assert any("no epoch beat epoch 0" in l for l in lines)
    h = _history(tmp_path / "run")
    assert (h.val_precision_at_1[1:] <= h.val_precision_at_1[0]).all()
    m = load_manifest(tiny, decode=False)
    trained, base = embed_trained(tmp_path / "run", m), embed_manifest(m, build_encoder("efficientnet_lite0"), progress=False)
    assert trained.meme_ids == base.meme_ids
    np.testing.assert_allclose(trained.vectors @ trained.vectors.T, base.vectors @ base.vectors.T, atol=1e-5)   # an orthogonal map: same cosines


def test_head_training_improves_on_the_backbone(tiny, tmp_path):
    "On the tiny set, heads trained for a few epochs reach at least the untrained validation precision@1 and are chosen on it."
    s = launch([_head(tiny, tmp_path / "img"), _head(tiny, tmp_path / "txt", modality="text")], nproc=1, log=lambda s: None)
    for summary in s:
        assert summary["val"]["precision_at_1"] >= summary["val_epoch0"]["precision_at_1"]
        assert summary["mode"] == "head" and "head" in summary["trainable"]


_LAUNCHER = """
import os, signal, time
from memeclust.train import _worker_pool
pool = _worker_pool(2)
pids = sorted({pool.submit(os.getpid).result() for _ in range(8)})
for pid in pids: os.kill(pid, signal.SIGINT)
time.sleep(0.5)
print(" ".join(map(str, pids)), pool.submit(os.getpid).result() in pids, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try: return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError: return False


def test_head_workers_ignore_ctrl_c_and_leave_with_their_launcher():
    "Ctrl-C (or a kernel's shutdown) interrupts the launcher, not its workers; a SIGKILLed launcher leaves no worker behind."
    out = subprocess.run([sys.executable, "-c", _LAUNCHER], capture_output=True, text=True, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    *pids, served = out.stdout.split()
    assert pids and served == "True"                      # after SIGINT the same workers still serve
    import time
    deadline = time.monotonic() + 10
    while any(_alive(int(p)) for p in pids) and time.monotonic() < deadline: time.sleep(0.2)
    assert not any(_alive(int(p)) for p in pids), f"workers outlived their launcher: {pids}"


def _sigint_disposition(q) -> None:
    q.put(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)


def test_workers_spawned_while_sigint_is_ignored_inherit_it():
    "A child spawned inside `_sigint_ignored` ignores Ctrl-C from its first line (no traceback while it imports torch); outside, it does not."
    import multiprocessing
    from memeclust.train import _sigint_ignored
    ctx = multiprocessing.get_context("spawn")
    seen = []
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)    # a suite started in the background ignores it
    try:
        for ignored in (True, False):
            q = ctx.Queue()
            p = ctx.Process(target=_sigint_disposition, args=(q,))
            if ignored:
                with _sigint_ignored(): p.start()
            else: p.start()
            seen.append(q.get(timeout=60))
            p.join(timeout=60)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally: signal.signal(signal.SIGINT, inherited)
    assert seen == [True, False]


def test_head_grid_per_scale():
    "smoke: the first two settings; demo: the four validation chose (no t = 0.02, no second lr); full: all six."
    from memeclust.train import HEAD_GRID, head_grid
    assert head_grid("smoke") == list(HEAD_GRID[:2]) and head_grid("full") == list(HEAD_GRID)
    demo = head_grid("demo")
    assert len(demo) == 4 and all(p in HEAD_GRID for p in demo)
    assert not any(p["loss"]["temperature"] == 0.02 or "lr" in p for p in demo)


def test_a_failing_head_run_in_the_workers_fails_the_launch(tiny, tmp_path, monkeypatch):
    "A run that cannot train, among runs spread over spawned workers: TrainError, and the launch's queued runs dropped."
    monkeypatch.setenv("MEMECLUST_TRAIN_PROCS", "2")
    configs = [_head(tiny, tmp_path / str(s), seed=s, max_epochs=1) for s in range(3)]
    configs.append(_head(tiny, tmp_path / "empty", meme_ids=[]))
    with pytest.raises(TrainError, match="no training memes"):
        launch(configs, log=lambda s: None)
