"""Reference indexes: a reloaded index answers exactly like brute-force cosine search, and damaged folders fail loudly."""
import numpy as np
import pandas as pd
import pytest

from memeclust.index import ReferenceIndex, build_index, load_index, load_index_set, save_index_set


@pytest.fixture(scope="module")
def refs():
    rng = np.random.default_rng(7)
    V = rng.standard_normal((1000, 64)).astype(np.float32) * rng.uniform(0.5, 3, (1000, 1)).astype(np.float32)
    Q = rng.standard_normal((50, 64)).astype(np.float32)
    ids = [f"meme-{i:04d}" for i in range(1000)]
    labels = [f"class-{i % 37}" for i in range(1000)]
    return V, Q, ids, labels


def brute_force(V, Q, k):
    "Top-k cosine similarities and rows by plain numpy (float64), largest first."
    S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)).astype(np.float64) @ (V / np.linalg.norm(V, axis=1, keepdims=True)).T.astype(np.float64)
    rows = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, rows, axis=1), rows


def test_reloaded_index_matches_brute_force_cosine(refs, tmp_path):
    V, Q, ids, labels = refs
    build_index(V, ids, labels, "image", cluster=2, info={"model": "test"}).save(tmp_path / "idx")
    back = load_index(tmp_path / "idx")
    sims, rows = back.search(Q, 10)
    want_sims, want_rows = brute_force(V, Q, 10)
    assert sims.shape == rows.shape == (50, 10) and rows.dtype == np.int64 and sims.dtype == np.float32
    assert np.abs(sims - want_sims).max() < 1e-5
    # row ids must agree wherever the similarity is not tied (within 1e-5) with the rank before or after it
    gaps = np.diff(want_sims, axis=1)
    untied = np.ones_like(want_sims, bool)
    untied[:, 1:] &= np.abs(gaps) > 1e-5
    untied[:, :-1] &= np.abs(gaps) > 1e-5
    assert untied.mean() > 0.9, "test data should be mostly untied"
    assert (rows[untied] == want_rows[untied]).all()
    assert (back.predict_1nn(Q) == np.array(labels)[want_rows[:, 0]]).all()
    nb = back.neighbours(Q, k=10)
    assert (nb["meme_id"].to_numpy() == np.array(ids)[rows.ravel()]).all() and back.info == {"model": "test"}
    assert (back.cluster, back.modality, back.dim, back.ntotal) == ("2", "image", 64, 1000)


def test_references_with_a_row_removed_fail_naming_the_folder(refs, tmp_path):
    V, _, ids, labels = refs
    folder = build_index(V[:20], ids[:20], labels[:20], "text").save(tmp_path / "text-call")
    df = pd.read_csv(folder / "references.csv", dtype=str)
    df.drop(index=5).to_csv(folder / "references.csv", index=False)
    with pytest.raises(ValueError, match=r"text-call is inconsistent: references.csv has 19 rows, index.faiss 20, index.json says 20"):
        ReferenceIndex.load(folder)


def test_missing_files_and_bad_json_are_named(refs, tmp_path):
    V, _, ids, labels = refs
    folder = build_index(V[:5], ids[:5], labels[:5], "image").save(tmp_path / "idx")
    (folder / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="idx is inconsistent: index.json is not valid JSON"):
        load_index(folder)
    (folder / "index.faiss").unlink()
    with pytest.raises(FileNotFoundError, match="is not a saved reference index: missing index.faiss"):
        load_index(folder)


def test_index_set_round_trip_and_missing_entry(refs, tmp_path):
    V, Q, ids, labels = refs
    indexes = {(c, m): build_index(V[c * 100:(c + 1) * 100], ids[c * 100:(c + 1) * 100], labels[c * 100:(c + 1) * 100], m, cluster=c)
               for c in range(3) for m in ("image", "text")}
    save_index_set(indexes, tmp_path / "set")
    loaded = load_index_set(tmp_path / "set")
    assert len(loaded) == 6
    for key, ref in indexes.items():
        for a, b in zip(loaded[key].search(Q, 5), ref.search(Q, 5)): assert np.array_equal(a, b)
    with pytest.raises(KeyError, match=r"\('all', 'image'\); available: \('0', 'image'\), \('0', 'text'\)"):
        loaded[("all", "image")]


def test_k_is_clipped_and_queries_are_checked(refs):
    V, Q, ids, labels = refs
    ri = build_index(V[:3], ids[:3], labels[:3], "image")
    assert ri.search(Q, 50)[1].shape == (50, 3)
    with pytest.raises(ValueError, match="63 dims.*has 64 dims"):
        ri.search(Q[:, :63], 1)
    with pytest.raises(ValueError, match=r"queries has 1 rows with NaN"):
        ri.search(np.where(np.arange(64) == 0, np.nan, Q[:1]), 1)


def test_extending_with_a_known_meme_id_and_a_gpu_that_is_not_there_fail_clearly(refs):
    "extend_index refuses an id the index holds (and a repeated new one); gpu=True on faiss-cpu names the cause."
    from memeclust.index import extend_index
    import faiss
    V, Q, ids, labels = refs
    ref = build_index(V[:10], ids[:10], labels[:10], "text", cluster=1)
    assert repr(ref) == "ReferenceIndex(text, cluster 1: 10 references x 64 dims, 10 classes)"
    with pytest.raises(ValueError, match=r"1 meme id\(s\) already in the index \(first: 'meme-0003'\)"):
        extend_index(ref, V[10:12], ["meme-0003", "new"], ["a", "b"])
    with pytest.raises(ValueError, match=r"already in the index \(first: 'twice'\)"):
        extend_index(ref, V[10:12], ["twice", "twice"], ["a", "b"])
    assert ref.ntotal == 10                                                   # nothing half-added
    if faiss.get_num_gpus() == 0:
        with pytest.raises(RuntimeError, match="faiss-cpu has no GPU support"):
            build_index(V[:10], ids[:10], labels[:10], "text", gpu=True)
