"""The multimodal baselines' table path: with weights present the same experiment fills CLIP / FLAVA / BLIP-2 rows over
the method's references and queries; without them the rows say so and hold no number."""
import numpy as np, pandas as pd, torch

from memeclust import experiments as ex
from memeclust.baselines import build_multimodal, tiny_config, unavailable_rows
from memeclust.data import ensure_split, load_manifest, write_manifest
from memeclust.pipeline import fit, load_run


def test_baseline_rows_are_filled_with_weights_and_marked_without(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("MEMECLUST_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    rows = ensure_split(load_manifest(tiny).rows, seed=0)
    sets = {"confirmed_split": write_manifest(rows, tiny.parent / "split.csv"),
            "confirmed_test": write_manifest(rows[rows.split.eq("test")], tiny.parent / "test.csv")}
    run = load_run(fit(sets["confirmed_split"], tmp_path / "run", scale="smoke", clusters=2, log=lambda *_: None))
    exp = ex.Experiment("e99", "smoke", None, 0, 2, "cpu", tmp_path, tmp_path, "tiny", sets, "default", run)
    pred = exp.predictions("confirmed")

    same, status = exp.multimodal_baselines(pred)                      # no weights anywhere: nothing runs, every row says why
    pd.testing.assert_frame_equal(same, pred)
    assert status.status.str.startswith("weights unavailable").all() and len(unavailable_rows(status)) == 5

    folder = tmp_path / "w" / "openai--clip-vit-base-patch32"          # CLIP "weights" present: a tiny random CLIP stands in
    folder.mkdir(parents=True); (folder / "config.json").write_text("{}")
    monkeypatch.setenv("MEMECLUST_WEIGHTS", str(tmp_path / "w"))
    seen = []
    def tiny_clip(name, path, fine_tune=True, device="cpu", **kw):
        seen.append((name, str(path), fine_tune)); torch.manual_seed(0)
        return build_multimodal(name, tiny_config(name))
    def processor(path):
        def proc(images, texts):
            px = torch.stack([torch.from_numpy(np.asarray(im.resize((32, 32)), np.float32) / 255).permute(2, 0, 1) for im in images])
            ids = torch.tensor([[ord(c) % 90 for c in (t or " ")[:8].ljust(8)] for t in texts])
            return {"pixel_values": px, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
        return proc
    monkeypatch.setattr(ex, "build_multimodal", tiny_clip); monkeypatch.setattr(ex, "load_processor", processor)
    out, status = exp.multimodal_baselines(pred, rows=("clip", "flava"), log=lambda *_: None)
    st = status.set_index("method").status
    assert st["clip"] == f"measured with {folder.resolve()}" and st["flava"].startswith("weights unavailable")
    assert {s[0] for s in seen} == {"clip"} and all(s[2] for s in seen)          # CLIP is fine-tuned, once per cluster with queries
    assert len(seen) == pred.cluster.nunique()
    assert "clip" in out and "flava" not in out and out["clip"].isin(set(rows.label)).all()   # a class for every query, over the same queries
    assert list(unavailable_rows(status).method) == ["flava"]
