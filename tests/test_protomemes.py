"""Bad inputs and edge cases of memeclust.protomemes (the notebook shows the method; this checks the messages)."""
import numpy as np
import pytest

from memeclust.protomemes import (Protomemes, assign_classes, exact_ward, fit_protomemes, load_protomemes, route,
                                  soft_membership, sphere_mixture, weighted_ward)


@pytest.fixture(scope="module")
def X():
    return sphere_mixture(300, d=16, seed=0)[0]


@pytest.mark.parametrize("bad, words", [
    (np.zeros((0, 8), np.float32), "empty"),
    (np.ones(8, np.float32), "2-D"),
    (np.array([[1, 2], [np.nan, 1], [1, 1]], np.float32), "NaN or infinite values (first: row 1)"),
    (np.array([[1, 2], [1, np.inf]], np.float32), "NaN or infinite"),
    (np.array([[1, 2], [0, 0], [0, 0]], np.float32), "2 all-zero rows (first: row 1)"),
])
@pytest.mark.parametrize("method", ["exact", "micro"])
def test_bad_features_name_the_problem(bad, words, method):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        fit_protomemes(bad, k=1, method=method)


def test_k_larger_than_n():
    with pytest.raises(ValueError, match=r"k=6 clusters is impossible with 5 memes"):
        fit_protomemes(np.eye(5, 8, dtype=np.float32), k=6)
    with pytest.raises(ValueError, match=r"k=0"):
        fit_protomemes(np.eye(5, 8, dtype=np.float32), k=0)


def test_k_larger_than_the_micro_summary(X):
    with pytest.raises(ValueError, match="non-empty micro-clusters; raise n_micro"):
        fit_protomemes(X, k=12, method="micro", n_micro=10)


def test_unknown_method(X):
    with pytest.raises(ValueError, match="unknown method 'ward'"):
        fit_protomemes(X, method="ward")


def test_single_meme_and_k_equal_n():
    one = fit_protomemes(np.ones((1, 4), np.float32), k=1)
    assert one.labels.tolist() == [0] and one.centroids.shape == (1, 4) and one.linkage.shape == (0, 4)
    five = fit_protomemes(np.eye(5, 8, dtype=np.float32), k=5)
    assert sorted(five.labels.tolist()) == [0, 1, 2, 3, 4]


def test_auto_picks_by_size(X):
    assert fit_protomemes(X, k=3, exact_max=300).method == "exact"
    assert fit_protomemes(X, k=3, exact_max=299, n_micro=50).method == "micro"


def test_cut_and_at_out_of_range(X):
    pm = fit_protomemes(X, k=3, max_k=5)
    with pytest.raises(ValueError, match="k=301 is not possible"):
        pm.cut(301)
    with pytest.raises(ValueError, match="refit with max_k >= 6"):
        pm.at(6)
    assert len(np.unique(pm.cut(40))) == 40


def test_exact_refuses_a_distance_matrix_too_big(X):
    with pytest.raises(ValueError, match="needs .* GB for its distance matrix .* use method='micro'"):
        exact_ward(X, max_gb=1e-6)


def test_weighted_ward_rejects_bad_weights():
    with pytest.raises(ValueError, match="weights must be positive"):
        weighted_ward(np.eye(3), [1, 0, 2])


def test_route_rejects_other_encoders_and_bad_rows(X):
    pm = fit_protomemes(X, k=3)
    with pytest.raises(ValueError, match="16 dimensions but centroids have 8"):
        route(X, pm.centroids[:, :8])
    bad = X[:4].copy(); bad[2, 0] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        route(bad, pm.centroids)
    with pytest.raises(ValueError, match="temperature must be positive"):
        soft_membership(X, pm.centroids, temperature=0)


def test_soft_membership_is_stable_at_low_temperature(X):
    pm = fit_protomemes(X, k=3)
    p = soft_membership(X, pm.centroids, temperature=1e-4)
    assert np.isfinite(p).all() and np.allclose(p.sum(1), 1)


def test_assign_classes_bad_input():
    with pytest.raises(ValueError, match="equally long"):
        assign_classes([0, 1], ["a"])
    with pytest.raises(ValueError, match="empty"):
        assign_classes([], [])


def test_load_rejects_other_files(tmp_path, X):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a memeclust protomemes file"):
        load_protomemes(other)
    np.savez(other, format=np.array(1), k=np.array(3))
    with pytest.raises(ValueError, match="incomplete protomemes file: missing centroids, labels"):
        load_protomemes(other)
    good = fit_protomemes(X, k=3).save(tmp_path / "good.npz")
    with np.load(good) as z: arrays = dict(z)
    arrays["labels"] = np.array([{"x": 1}], dtype=object)  # an object array needs pickle to load: refused
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        Protomemes.load(tmp_path / "pickled.npz")


def test_save_is_atomic_and_reloads(tmp_path, X):
    pm = fit_protomemes(X, k=4, method="micro", n_micro=40)
    path = pm.save(tmp_path / "pm.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["pm.npz"]
    back = Protomemes.load(path)
    assert back.method == "micro" and np.array_equal(back.labels, pm.labels) and np.array_equal(back.cut(7), pm.cut(7))
