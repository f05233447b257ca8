"""`reproduce` skips what is up to date: with nothing changed a second run executes no notebook; an edited module
reruns exactly the notebooks that depend on it (directly or through another module); deleted outputs and `force`
rerun too. Real papermill runs of small notebooks against a copy of the package sources."""
import pandas as pd

from memeclust.runner import reproduce


def _writes(name): return f"from pathlib import Path\nPath(out_dir, 'results', '{name}').write_text('made')"


def test_skips_unchanged_and_reruns_what_depends_on_an_edited_module(tmp_path, edited_code, experiment_notebook):
    exp = tmp_path / "experiments"; exp.mkdir()
    experiment_notebook(exp / "e00_data_only.ipynb", "from memeclust.data import has_text", _writes("a.csv"))        # data -> core
    experiment_notebook(exp / "e01_fusion.ipynb", "from memeclust.dmw import PaperDMW", _writes("b.csv"))            # dmw directly
    experiment_notebook(exp / "e02_method.ipynb", "import memeclust.pipeline", _writes("c.csv"))                     # dmw through pipeline
    out, lines = tmp_path / "out", []
    run = lambda **kw: reproduce("smoke", out=out, experiments_dir=exp, log=lines.append, **kw).set_index("notebook")

    first = run()
    assert first.status.tolist() == ["ok"] * 3 and first.reason.eq("no earlier successful run").all()
    second = run()
    assert second.status.tolist() == ["skipped"] * 3 and second.seconds.eq(0).all()
    assert sum("unchanged since" in l and "skipped" in l for l in lines) == 3

    edited_code("dmw")
    third = run()
    assert third.status.to_dict() == {"e00_data_only": "skipped", "e01_fusion": "ok", "e02_method": "ok"}
    assert third.reason["e01_fusion"] == "code changed: dmw" and "dmw" in third.reason["e02_method"]
    assert run().status.eq("skipped").all()                                      # and now they are up to date again

    (out / "results" / "a.csv").unlink()
    fifth = run()
    assert fifth.status["e00_data_only"] == "ok" and fifth.reason["e00_data_only"] == "outputs missing: results/a.csv"
    assert (out / "results" / "a.csv").exists()
    assert run(force=True).status.eq("ok").all()
    t = pd.read_csv(out / "results" / "timings.csv")                            # skipped runs keep the last real timing
    assert len(t) == 3 and t.status.eq("ok").all() and t.seconds.gt(0).all()


def test_a_changed_parameter_or_notebook_reruns(tmp_path, edited_code, experiment_notebook):
    exp = tmp_path / "experiments"; exp.mkdir()
    experiment_notebook(exp / "e00_one.ipynb", _writes("a.csv"))
    out = tmp_path / "out"
    run = lambda **kw: reproduce("smoke", out=out, experiments_dir=exp, log=lambda s: None, **kw).set_index("notebook")
    assert run().status["e00_one"] == "ok"
    assert run(seed=1).reason["e00_one"] == "params changed: seed"
    experiment_notebook(exp / "e00_one.ipynb", _writes("b.csv"))                 # now writes b.csv instead of a.csv
    assert run(seed=1).reason["e00_one"] == "the notebook changed"
    assert (out / "results" / "b.csv").exists() and not (out / "results" / "a.csv").exists()   # the old output went with the rerun


def test_results_fingerprint_follows_the_tables_not_the_timings(tmp_path):
    "A table's change changes the fingerprint e14 reruns on; timings.csv and a missing out_dir do not count."
    from memeclust.runner import results_fingerprint
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table1.csv").write_text("a\n1\n")
    before = results_fingerprint(tmp_path)
    (tmp_path / "results" / "timings.csv").write_text("notebook\ne00\n")
    assert results_fingerprint(tmp_path) == before
    (tmp_path / "results" / "table1.csv").write_text("a\n2\n")
    assert results_fingerprint(tmp_path) != before
    assert results_fingerprint(None) is None
