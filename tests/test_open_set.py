"""The default path on a fitted run: global routing, evidence-aware fusion, and the open-set answer ("no known class")."""
import json, shutil

import numpy as np, pandas as pd, pytest
from PIL import Image

from memeclust.pipeline import assign, evaluate, fit, load_run


@pytest.fixture(scope="module")
def default_run(tiny, tmp_path_factory):
    "The default preset fitted on the tiny manifest (k from the preset: one group)."
    out = tmp_path_factory.mktemp("open-set") / "run"
    return fit(tiny, out, scale="smoke", log=lambda *_: None)


def test_default_fit_records_global_routing_and_the_evidence_rule(default_run):
    info = json.loads((default_run / "fit.json").read_text())
    assert (info["clusters"], info["routing"]) == (1, "global")
    f = info["fusion"]
    assert f["rule"] == "dmw_evidence" and f["precision"] == 0.95 and 0 < f["threshold"] <= 1
    assert set(f["evidence"]) == {"rel_text", "rel_image", "t_text", "t_image", "threshold"}
    assert f["validation_mix"]["as is"]["accuracy"] > f["validation_mix"]["both lost"]["accuracy"] == 0.0
    cal = json.loads((default_run / "calibration.json").read_text())
    assert cal["evidence"] == f["evidence"]
    rule = load_run(default_run).evidence_rule()
    sure, lost = [[0.05, 0.45, 0.5]], [[0.6, 0.62, 0.63]]    # a near-duplicate vs a picture of no class
    assert rule.rel_image(sure)[0] > 0.5 > rule.rel_image(lost)[0]
    assert rule.rel_text(sure)[0] >= rule.rel_text(lost)[0]        # tiny texts differ by a digit: maybe no evidence at all


def test_a_query_far_from_every_reference_is_not_known(default_run, tiny, tmp_path):
    "Known-class test memes are answered known; a plain grey picture with an unrelated caption is `known = false`."
    root = tiny.parent
    Image.new("RGB", (96, 96), (128, 128, 128)).save(tmp_path / "grey.png")
    rows = pd.read_csv(tiny)
    known = rows[rows.meme_id.str.endswith("-7") & rows.label.ne("class-8")]
    (tmp_path / "img").mkdir()
    for p in known.image: shutil.copy(root / p, tmp_path / p)
    far = pd.DataFrame([dict(meme_id="far", image="grey.png", text="quarterly tax filing deadline reminder",
                             label="no-class", status="unconfirmed", source="query")])
    pd.concat([known, far]).to_csv(tmp_path / "q.csv", index=False)
    m = evaluate(default_run, tmp_path / "q.csv", tmp_path / "ev", log=lambda *_: None)
    pred = pd.read_csv(tmp_path / "ev" / "predictions.csv", keep_default_na=False).set_index("meme_id")
    assert {"predicted", "known", "p_right", "r_text", "r_image"} <= set(pred.columns)
    assert (pred.predicted == pred.predicted_evidence).all() and m["fusion"] == "dmw_evidence"
    assert pred.loc["far", "known"] in (False, "False")
    assert pred.loc["far", "p_right"] < load_run(default_run).evidence_rule().threshold
    kn = pred.drop(index="far")
    assert (kn.predicted == kn.label).mean() >= 0.75 and kn.known.astype(str).eq("True").mean() >= 0.75
    a = assign(default_run, tmp_path / "grey.png", text="quarterly tax filing deadline reminder", device="cpu")
    assert a["known"] is False and a["top"] and a["fusion"] == "dmw_evidence"
    assert set(a["evidence"]) == {"image", "text"} and "reliability" in a["evidence"]["image"]["why"]
    assert assign(default_run, tmp_path / "grey.png", text="x", device="cpu", threshold=0.0)["known"] is True
