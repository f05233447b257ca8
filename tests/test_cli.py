"""The `memeclust` command as a researcher uses it: help, reproduce end to end, failures that name their cause."""
import json, re, subprocess, sys
from pathlib import Path

import nbformat, pytest
import numpy as np, pandas as pd
from PIL import Image

BIN = Path(sys.executable).parent / "memeclust"


def run(*args, cwd=None, check=True):
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=1200)
    if check and p.returncode != 0:
        raise AssertionError(f"memeclust {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def test_help_lists_the_commands():
    out = run("--help").stdout
    for cmd in ["reproduce", "synth", "validate", "realmemes", "ocr", "weights", "fit", "evaluate", "assign", "add", "report", "import"]:
        assert cmd in out
    assert "--scale" in run("reproduce", "--help").stdout


def test_reproduce_e00_smoke_writes_results_and_figures(tmp_path):
    p = run("reproduce", "--scale", "smoke", "--only", "e00", "--out", tmp_path)
    assert "[1/1] e00_data done in" in p.stdout
    res, fig = tmp_path / "results", tmp_path / "figures"
    stats = pd.read_csv(res / "corpus_stats.csv")
    assert set(stats["set"]) == {"confirmed", "unconfirmed", "imgflip"} and (stats.memes > 0).all()
    assert (res / "corpus_stats.md").read_text().startswith("# Corpus statistics")
    assert (fig / "fig1_examples.png").stat().st_size > 10_000 and (fig / "fig_class_sizes.png").exists()
    executed = nbformat.read(res / "notebooks" / "e00_data.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "scale = \"smoke\"" in injected[0].source
    t = pd.read_csv(res / "timings.csv")
    assert t.notebook.tolist() == ["e00_data"] and t.status.tolist() == ["ok"] and t.seconds.iloc[0] > 0
    assert "_Made by nbs/experiments/e00_data.ipynb (scale smoke" in (res / "corpus_stats.md").read_text()
    assert " commit " in (res / "corpus_stats.md").read_text().splitlines()[2]      # the footer names the code's commit
    made = (res / "notebooks" / "e00_data.ipynb").stat().st_mtime_ns
    again = run("reproduce", "--scale", "smoke", "--only", "e00", "--out", tmp_path)   # nothing changed: skipped
    assert "e00_data: unchanged since" in again.stdout and "skipped" in again.stdout
    assert (res / "notebooks" / "e00_data.ipynb").stat().st_mtime_ns == made


def test_reproduce_failure_names_notebook_and_cell(tmp_path, experiment_notebook):
    exp = tmp_path / "experiments"; exp.mkdir()
    experiment_notebook(exp / "e00_fine.ipynb", "x = 1")
    experiment_notebook(exp / "e01_broken.ipynb", "y = 2", "ratio = 1 / 0")
    experiment_notebook(exp / "e02_never.ipynb", "z = 3")
    p = run("reproduce", "--scale", "smoke", "--experiments", exp, "--out", tmp_path / "out", check=False)
    assert p.returncode != 0
    assert "e01_broken failed in cell 3 `ratio = 1 / 0`: ZeroDivisionError" in p.stderr
    assert "[1/3] e00_fine done" in p.stdout and "e02_never" not in p.stdout
    t = pd.read_csv(tmp_path / "out" / "results" / "timings.csv")
    assert dict(zip(t.notebook, t.status)) == {"e00_fine": "ok", "e01_broken": "failed"}
    assert (tmp_path / "out" / "results" / "notebooks" / "e01_broken.ipynb").exists()  # traceback kept for reading


def test_reproduce_full_needs_data_and_unknown_notebooks_are_named(tmp_path):
    p = run("reproduce", "--scale", "full", "--out", tmp_path, check=False)
    assert p.returncode != 0 and "pass --data MANIFEST" in p.stderr
    p = run("reproduce", "--only", "e77", "--out", tmp_path, check=False)
    assert p.returncode != 0 and "no experiment notebook matches e77" in p.stderr


def test_validate_reports_rejects_and_writes_clean_manifest(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "img" / "a.png")
    (tmp_path / "img" / "b.png").write_bytes(b"")
    pd.DataFrame({"meme_id": ["a", "b", "c"], "image": ["img/a.png", "img/b.png", "img/c.png"], "text": ["hi", "", ""],
                  "label": ["x", "x", "y"], "status": ["confirmed"] * 3, "source": ["kym"] * 3}).to_csv(tmp_path / "m.csv", index=False)
    p = run("validate", tmp_path / "m.csv", "--save")
    assert "3 rows in, 1 kept, 2 rejected" in p.stdout
    clean = pd.read_csv(tmp_path / "m.clean.csv")
    rejects = pd.read_csv(tmp_path / "m.clean.rejects.csv")
    assert clean.meme_id.tolist() == ["a"] and (tmp_path / clean.image[0]).exists()
    assert dict(zip(rejects.meme_id, rejects.reason)) == {"b": "empty image file (0 bytes)", "c": "image file not found"}
    p = run("validate", tmp_path / "nothing.csv", check=False)
    assert p.returncode != 0 and "manifest not found" in p.stderr


@pytest.fixture(scope="module")
def cli_run(tiny, tmp_path_factory):
    """One `memeclust fit` on a hand-made manifest that no notebook produced, shared by the tests below: 2 Protomeme
    clusters, soft routing, both offline fused models. Returns (run folder, train.csv, test.csv, fit's stdout).
    The test split holds a query without text and a corrupt image."""
    root = tiny.parent
    rows = pd.read_csv(tiny, keep_default_na=False)
    rows["split"] = ["test" if int(m.split("-")[1]) >= 6 else "train" for m in rows.meme_id]
    rows.to_csv(root / "train.csv", index=False)
    test = rows[rows.split.eq("test")].copy()
    test.loc[test.meme_id.eq("c1-6"), "text"] = ""                                   # a query without text
    (root / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    broken = dict(meme_id="broken", image="img/broken.png", text="caption of class 2", label="class-2",
                  status="confirmed", source="kym", split="test")
    test = pd.concat([test, pd.DataFrame([broken])])
    test.to_csv(root / "test.csv", index=False)
    out = tmp_path_factory.mktemp("cli") / "run"
    p = run("fit", "--train", root / "train.csv", "--out", out, "--scale", "smoke", "--clusters", "2",
            "--fused", "alpha_fusion", "concat_fusion")
    return out, root / "train.csv", root / "test.csv", p.stdout


def test_fit_records_the_preset_routing_and_streams(cli_run):
    import json
    out, train, test, _ = cli_run
    info = json.loads((out / "fit.json").read_text())
    n_train = len(pd.read_csv(train)) - len(pd.read_csv(test)) + 1
    assert info["clusters"] == 2 and info["memes"] == n_train and info["train"]["mode"] == "head"
    assert info["preset"] == "default" and info["routing"] == "soft" and set(info["grid_choice"]) >= {"image", "text"}
    assert info["streams"] == ["image", "text", "alpha_fusion", "concat_fusion"]
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["routing"] > 0 and cal["validation_memes"] > 0
    assert (out / "protomemes.npz").exists() and (out / "indexes" / "indexes.json").exists()
    assert any((out / "models").glob("image-c*/model.pt")) and any((out / "models").glob("text-c*/model.pt"))


def test_evaluate_writes_metrics_predictions_and_rejects(cli_run, tmp_path):
    "An empty text is fused from the image; a corrupt image is rejected with its reason; the fused streams are scored beside DMW."
    import json
    out, _, test, _ = cli_run
    ev = tmp_path / "eval"
    p = run("evaluate", "--run", out, "--test", test, "--out", ev)
    m = json.loads((ev / "metrics.json").read_text())
    for method in ("image", "text", "dmw"):
        assert set(m[method]) >= {"accuracy", "precision", "recall", "f1"}
        assert all(0 <= m[method][k] <= 1 for k in ("accuracy", "precision", "recall", "f1"))
    assert m["per_cluster"] and all("dmw" in v for v in m["per_cluster"].values())
    assert m["dmw"]["accuracy"] > 0.5                                              # 8 classes: chance is 0.125
    for kind in ("alpha_fusion", "concat_fusion"):
        assert m[kind]["accuracy"] > 0.3                                            # held-out memes: 2.4x chance at least
        assert all(kind in v for v in m["per_cluster"].values())
    pred = pd.read_csv(ev / "predictions.csv", keep_default_na=False)
    assert {"meme_id", "label", "predicted", "probability", "w_text", "w_image", "alpha_fusion", "concat_fusion"} <= set(pred.columns)
    n_test = len(pd.read_csv(test))
    assert len(pred) == n_test - 1 and "broken" not in set(pred.meme_id)
    no_text = pred.set_index("meme_id").loc["c1-6"]
    assert no_text.w_text == 0 and no_text.w_image == 1
    np.testing.assert_allclose(pred.w_text + pred.w_image, 1, atol=1e-6)
    rejects = pd.read_csv(ev / "rejects.csv")
    assert rejects.meme_id.tolist() == ["broken"] and rejects.reason.str.contains("image").all()
    assert "1 rejected" in p.stdout
    missing = run("evaluate", "--run", tmp_path / "nothing", "--test", test, "--out", ev, check=False)
    assert missing.returncode != 0 and "not a finished fit run" in missing.stderr


def test_fused_models_train_per_cluster_and_are_indexed(cli_run):
    import json
    out = cli_run[0]
    for kind in ("alpha_fusion", "concat_fusion"):
        s = json.loads(next((out / "models").glob(f"{kind}-c*/summary.json")).read_text())
        assert s["modality"] == "multimodal" and s["trainable"].startswith(f"{kind} head") and "+" in s["backbone"]
        assert s["select"] == "validation" and s["val_epoch0"]["n"] > 0
    idx = json.loads((out / "indexes" / "indexes.json").read_text())["indexes"]
    assert {e["modality"] for e in idx} == {"image", "text", "alpha_fusion", "concat_fusion"}
    assert {e["dim"] for e in idx if e["modality"] in ("alpha_fusion", "concat_fusion")} == {512}


def test_fit_refuses_an_unknown_fused_model(tiny, tmp_path):
    bad = run("fit", "--train", tiny, "--out", tmp_path / "x", "--fused", "late_fusion", check=False)
    assert bad.returncode != 0 and "late_fusion" in bad.stderr


def test_assign_one_meme(cli_run, monkeypatch):
    "One image (and its text, or OCR): JSON with the top classes, the weights and the nearest references; failures say why."
    import json, shutil
    out, train, _, _ = cli_run
    root = train.parent
    a = json.loads(run("assign", "--run", out, root / "img" / "c3-7.png", "--text", "caption of class 3 number 7 lol").stdout)
    assert a["top"][0]["class"] == "class-3" and abs(a["w_text"] + a["w_image"] - 1) < 1e-6
    assert len(a["nearest"]["image"]) == len(a["nearest"]["text"]) == 3 and a["nearest"]["image"][0]["label"] == "class-3"
    bad = run("assign", "--run", out, root / "img" / "broken.png", "--text", "x", check=False)
    assert bad.returncode != 0 and "memeclust assign:" in bad.stderr and "Traceback" not in bad.stderr
    if shutil.which("tesseract"):
        a = json.loads(run("assign", "--run", out, root / "img" / "c3-7.png").stdout)
        assert a["text_from_ocr"] is True and a["top"]
    import memeclust.pipeline as pipeline                               # OCR that fails on this image: image alone, said so
    def broken(*a, **k): raise RuntimeError("tesseract failed (exit 1): Image too large: (500, 33000)")
    monkeypatch.setattr(pipeline, "ocr_image", broken)
    a = pipeline.assign(out, root / "img" / "c3-7.png", device="cpu")
    assert a["text"] == "" and a["w_text"] == 0 and "Image too large" in a["ocr_error"] and "image alone" in a["ocr_error"]
    assert a["top"][0]["class"] == "class-3"


def test_paper_preset_fits_with_the_papers_training_and_hard_routing(tiny, tmp_path):
    "`fit --preset paper`: the Section 4.2 settings (cached mode on a CPU at smoke, training-loss selection), hard routing by default."
    import json
    out, ev = tmp_path / "run", tmp_path / "eval"
    run("fit", "--train", tiny, "--out", out, "--scale", "smoke", "--clusters", "1", "--preset", "paper")
    info = json.loads((out / "fit.json").read_text())
    assert (info["preset"], info["routing"], info["train"]["mode"], info["train"].get("select", "loss")) == ("paper", "centroid", "cached", "loss")
    summary = json.loads((out / "models" / "image-c1" / "summary.json").read_text())
    assert summary["select"] == "loss" and summary["loss_spec"] == {"name": "NTXentLoss", "temperature": 0.7}
    run("evaluate", "--run", out, "--test", tiny, "--out", ev)
    m = json.loads((ev / "metrics.json").read_text())
    assert m["routing_rule"] == "centroid" and m["routing"]["recall_top1"] == 1.0      # one cluster: every class is in it


def test_weights_lists_the_multimodal_baselines(tmp_path):
    "`memeclust weights` names CLIP, FLAVA and BLIP-2 with their status; a save_pretrained folder in the weights folder counts."
    import os
    env = {k: v for k, v in os.environ.items() if k != "MEMECLUST_WEIGHTS"}
    env["HF_HUB_CACHE"] = str(tmp_path / "hf")
    p = subprocess.run([str(BIN), "weights", "--weights-dir", tmp_path], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = {l.split()[0]: l for l in p.stdout.splitlines() if l.strip().split()[:1] and l.split()[0] in ("clip", "flava", "blip2")}
    assert set(lines) == {"clip", "flava", "blip2"} and all("weights unavailable" in l for l in lines.values())
    assert "Salesforce/blip2-opt-2.7b" in lines["blip2"] and "facebook/flava-full" in lines["flava"]
    (tmp_path / "openai--clip-vit-base-patch32").mkdir(); (tmp_path / "openai--clip-vit-base-patch32" / "config.json").write_text("{}")
    p = subprocess.run([str(BIN), "weights", "--weights-dir", tmp_path], capture_output=True, text=True, env=env, timeout=600)
    clip = next(l for l in p.stdout.splitlines() if l.split()[:1] == ["clip"])
    assert " True " in clip and str(tmp_path / "openai--clip-vit-base-patch32") in clip


def _chromium():
    import shutil
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_batch_assign_a_folder_resumes_and_reports(cli_run, tmp_path):
    "A folder of memes (and a broken file) into one Parquet table with rejects; a rerun skips what is done; the page shows it."
    import shutil
    out, train, test, _ = cli_run
    root = train.parent
    memes = tmp_path / "scraped"; (memes / "deeper").mkdir(parents=True)
    ids = pd.read_csv(test).meme_id
    for i, mid in enumerate(m for m in ids if m != "broken"):
        shutil.copy(root / "img" / f"{mid}.png", memes / ("deeper" if i % 2 else "") / f"{mid}.png")
    shutil.copy(root / "img" / "broken.png", memes / "broken.png")
    (memes / "readme.txt").write_text("not a meme")
    table = tmp_path / "assigned.parquet"
    p = run("assign", "--run", out, memes, "--out", table, "--no-ocr")
    df = pd.read_parquet(table)
    n = len(ids) - 1
    assert len(df) == n and df.meme_id.is_unique and df.path.map(lambda s: Path(s).exists()).all()
    assert {"predicted", "probability", "known", "w_text", "w_image", "r_image", "top", "nearest_image"} <= set(df.columns)
    assert (df.text == "").all() and (df.w_image == 1).all()                    # --no-ocr: the image alone
    label = df.meme_id.str.extract(r"(c\d+)-")[0].str.replace("c", "class-")
    assert (df.predicted == label).mean() >= 0.75
    near = json.loads(df.nearest_image.iloc[0])
    assert len(near) == 3 and {"meme_id", "label", "path", "similarity"} <= set(near[0]) and Path(near[0]["path"]).exists()
    rejects = pd.read_csv(tmp_path / "assigned.rejects.csv")
    assert sorted(rejects.meme_id) == ["scraped/broken.png", "scraped/readme.txt"]
    assert "  scraped/readme.txt (" in p.stdout and "suffix (.txt)" in p.stdout          # the console names each reject
    assert rejects.reason.str.contains("not an image").all() and "suffix (.txt)" in " ".join(rejects.reason)
    again = run("assign", "--run", out, memes, "--out", table, "--no-ocr")
    assert f"0 memes to assign from 1 input(s), {n} done before" in again.stdout and len(pd.read_parquet(table)) == n
    page = tmp_path / "page"
    run("report", table, "--out", page)
    assert (page / "index.html").exists() and len(list((page / "thumbs").glob("*.jpg"))) >= n
    typo = run("assign", "--run", out, tmp_path / "nosuch", memes / "deeper", "--out", tmp_path / "typo.csv", "--no-ocr", check=False)
    assert typo.returncode == 1 and f"not found: {json.dumps([str(tmp_path / 'nosuch')])} (the other" in typo.stderr
    deeper = len(list((memes / "deeper").glob("*.png")))
    assert len(pd.read_csv(tmp_path / "typo.csv")) == deeper > 0
    run("assign", "--run", out, memes, "--out", tmp_path / "typo.csv", "--no-ocr")            # the files done: skipped
    both = pd.read_csv(tmp_path / "typo.csv")
    assert len(both) == n and both.path.is_unique and both.meme_id.str.startswith("deeper/").sum() == deeper
    (tmp_path / "empty").mkdir()                                              # nothing to assign: still a table to report
    run("assign", "--run", out, tmp_path / "empty", "--out", tmp_path / "none.csv", "--no-ocr")
    assert "0 memes" in run("report", tmp_path / "none.csv", "--out", tmp_path / "none").stdout
    if _chromium() is None: pytest.skip("no chromium here to open the page in (apt-get install chromium)")
    shot = tmp_path / "page.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--window-size=1400,1000"]
    dom = subprocess.run(cmd + ["--dump-dom", (page / "index.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom)[1]); failed = int(re.search(r'data-images-failed="(\d+)"', dom)[1])
    assert loaded >= n * 2 and failed == 0                                     # each meme and its nearest references
    subprocess.run(cmd + [f"--screenshot={shot}", (page / "index.html").as_uri()], capture_output=True, timeout=120)
    im = np.asarray(Image.open(shot).convert("L"))
    assert im.shape == (1000, 1400) and im.std() > 20                          # not a blank page


def test_add_a_class_never_seen_in_fitting(cli_run, tmp_path):
    "`memeclust add` puts a new class into a copy of the run; its held-out memes are then assigned to it."
    import shutil
    from PIL import ImageDraw
    run_dir = tmp_path / "run"; shutil.copytree(cli_run[0], run_dir)
    rng = np.random.default_rng(1)
    (tmp_path / "new").mkdir()
    rows = []
    for j in range(8):                                                          # a class of its own: white triangles
        im = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 90, 3)))
        x, y = rng.integers(5, 40, 2)
        ImageDraw.Draw(im).polygon([(x, y + 45), (x + 45, y + 45), (x + 22, y)], fill=(255, 255, 255))
        im.save(tmp_path / "new" / f"tri-{j}.png")
        rows.append(dict(meme_id=f"tri-{j}", image=f"new/tri-{j}.png", text=f"triangle meme {j} goes brrr", label="class-new",
                         status="confirmed", source="kym"))
    pd.DataFrame(rows[:6]).to_csv(tmp_path / "add.csv", index=False)
    pd.DataFrame(rows[6:]).to_csv(tmp_path / "held.csv", index=False)
    before = run("assign", "--run", run_dir, tmp_path / "held.csv", "--out", tmp_path / "before.csv")
    assert "class-new" not in set(pd.read_csv(tmp_path / "before.csv").predicted)
    p = run("add", "--run", run_dir, tmp_path / "add.csv")
    assert "6 memes of 1 classes (1 new)" in p.stdout and "stay as fitted" in p.stdout
    info = json.loads((run_dir / "fit.json").read_text())
    assert info["added"][0]["new_classes"] == ["class-new"] and info["added"][0]["manifest"].endswith("add.csv")
    run("assign", "--run", run_dir, tmp_path / "held.csv", "--out", tmp_path / "after.csv")
    after = pd.read_csv(tmp_path / "after.csv")
    assert after.predicted.tolist() == ["class-new", "class-new"] and (after.label == "class-new").all()
    again = run("add", "--run", run_dir, tmp_path / "add.csv", check=False)
    assert again.returncode != 0 and "already references" in again.stderr
