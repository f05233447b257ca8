"""Cache keys are complete: changing any input of a key (data, a setting, the backbone a role resolves to and its
weights, the code) gives a new key, so nothing stale is ever reused."""
from pathlib import Path

import numpy as np

from memeclust.backbones import build_encoder, default_backbone, embed_manifest
from memeclust.data import load_manifest
from memeclust.experiments import fit_key
from memeclust.train import TrainConfig


def test_fit_key_changes_with_each_input(tiny, tmp_path, monkeypatch, edited_code):
    base = dict(scale="smoke", clusters=6, seed=0, device="cpu", preset="default", grid=None)
    k0 = fit_key(tiny, **base)
    assert fit_key(tiny, **base) == k0
    for field, value in [("scale", "demo"), ("clusters", 5), ("seed", 1), ("preset", "paper"), ("grid", [{"lr": 0.1}])]:
        assert fit_key(tiny, **{**base, field: value}) != k0, field
    edited = tmp_path / "m.csv"; edited.write_text(Path(tiny).read_text() + "\n")         # the manifest's content
    assert fit_key(edited, **base) != k0
    # the stale-fit scenario: VGG19 weights appear in the weights folder, so Protomemes switch to VGG19
    weights = tmp_path / "weights"; weights.mkdir(); monkeypatch.setenv("MEMECLUST_WEIGHTS", str(weights))
    assert fit_key(tiny, **base) == k0
    (weights / "vgg19.pth").write_bytes(b"not the real weights, only their presence matters for the key")
    assert default_backbone("protomeme") == "vgg19" and fit_key(tiny, **base) != k0
    k_vgg = fit_key(tiny, **base)
    (weights / "vgg19.pth").write_bytes(b"other weights under the same name")
    assert fit_key(tiny, **base) != k_vgg                                # the weights' content, not only the name
    (weights / "vgg19.pth").unlink()
    edited_code("dmw")                                                   # any module the fit runs
    assert fit_key(tiny, **base) != k0


def test_training_key_changes_with_backbone_weights_and_code(tmp_path, monkeypatch, edited_code):
    cfg = TrainConfig("m.csv", "out", mode="head", modality="image")
    k0 = cfg.key
    assert TrainConfig("m.csv", "elsewhere", mode="head", modality="image", device="cpu").key == k0   # where and on what device: not the result
    assert TrainConfig("m.csv", "out", mode="head", modality="image", lr=0.5).key != k0
    weights = tmp_path / "w"; weights.mkdir(); monkeypatch.setenv("MEMECLUST_WEIGHTS", str(weights))
    (weights / "efficientnet_lite0.pth").write_bytes(b"a fine-tuned EfficientNet-Lite0 the user dropped in")
    assert cfg.key != k0                                                 # same name, other weights
    (weights / "efficientnet_lite0.pth").unlink()
    assert cfg.key == k0
    edited_code("train")
    assert cfg.key != k0


def test_embedding_cache_recomputes_after_a_code_change(tiny, edited_code):
    m = load_manifest(tiny, decode=False)
    enc = build_encoder("efficientnet_lite0")
    first = embed_manifest(m, enc, progress=False)
    again = embed_manifest(m, enc, progress=False)
    assert first.n_computed == len(m.rows) and again.n_computed == 0     # reused while nothing changed
    edited_code("data")                                                  # decoding code changed: the cache may be stale
    third = embed_manifest(m, enc, progress=False)
    assert third.n_computed == len(m.rows)
    np.testing.assert_allclose(third.vectors, first.vectors, atol=1e-6)


def test_a_comment_or_docstring_edit_keeps_the_fingerprint(tmp_path, monkeypatch):
    "Fingerprints hash code: a comment or a docstring edit (or an nbdev cell marker) keeps every cache valid."
    import shutil
    import memeclust.core as core
    copy = tmp_path / "pkg"
    shutil.copytree(core.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(core, "PACKAGE_DIR", copy)
    before = core.code_fingerprint("dmw")
    src = (copy / "dmw.py").read_text()
    (copy / "dmw.py").write_text(src.replace('"""', '"""Edited. ', 1) + "\n# a comment\n")
    assert core.code_fingerprint("dmw") == before
    (copy / "dmw.py").write_text(src + "\n_changed = 2\n")
    assert core.code_fingerprint("dmw") != before
