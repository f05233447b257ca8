"""Section 5.2's retraining: a fit on other memes routed by given Protomeme centroids (the Confirmed run's)."""
import numpy as np, pandas as pd, pytest

from memeclust.pipeline import FitError, fit, load_run
from memeclust.protomemes import Protomemes, load_protomemes, route


def test_fit_routes_by_given_protomemes(tiny, tmp_path):
    rows = pd.read_csv(tiny, keep_default_na=False)
    first, second = rows[rows.label.isin([f"class-{c}" for c in range(4)])], rows[rows.label.isin([f"class-{c}" for c in range(4, 9)])]
    first.to_csv(tiny.parent / "first.csv", index=False); second.to_csv(tiny.parent / "second.csv", index=False)
    a = load_run(fit(tiny.parent / "first.csv", tmp_path / "a", scale="smoke", clusters=2, log=lambda *_: None))
    b = load_run(fit(tiny.parent / "second.csv", tmp_path / "b", scale="smoke", clusters=5, protomemes=a.folder / "protomemes.npz",
                     log=lambda *_: None))
    assert b.info["clusters"] == 2 and b.info["protomemes_given"] is True            # k comes from the given centroids
    np.testing.assert_array_equal(b.protomemes.centroids, a.protomemes.centroids)
    assert set(b.class_cluster) == set(second.label) and set(b.class_cluster.values()) <= {"1", "2"}
    wrong = Protomemes(2, np.zeros(3, int), np.eye(2, 7, dtype=np.float32), np.array([1, 2]), "exact", np.zeros((0, 4)), np.zeros(3, int))
    with pytest.raises(FitError, match="7 dims"):
        fit(tiny.parent / "second.csv", tmp_path / "c", scale="smoke", protomemes=wrong, log=lambda *_: None)
