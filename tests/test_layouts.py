"""Real dataset layouts in, manifests out (`memeclust import`), each on a small real-format sample made here."""
import io, json, os, subprocess, sys
from pathlib import Path

import pandas as pd, pytest
from PIL import Image

from memeclust.data import load_manifest, load_image
from memeclust.layouts import hf_manifest, image_folder_manifest, kym_manifest

BIN = Path(sys.executable).parent / "memeclust"
REALMEMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "realmemes"


def png(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)


def test_image_folder_per_class_including_a_symlinked_store(tmp_path):
    "torchvision's ImageFolder layout; a class kept as links into a blob store (HF hub cache, git-annex, DVC) is read as it is."
    root = tmp_path / "ds"
    png(root / "doge" / "a.png", "orange"); png(root / "doge" / "deeper" / "b.jpg", "orange")
    png(root / "stray.png", "grey")                                    # no class folder: left out
    blobs = tmp_path / "annex" / "objects"                             # the store lies beside the dataset folder
    png(blobs / "SHA256E-s1--abc.png", "green")
    (root / "drake").mkdir()
    os.symlink(blobs / "SHA256E-s1--abc.png", root / "drake" / "hotline.png")
    os.symlink(blobs / "never-fetched", root / "drake" / "missing.png")   # content not fetched: named in the rejects
    (tmp_path / "annex" / "notes.txt").write_text("not a picture")
    (root / "drake" / "fake.png").symlink_to(tmp_path / "annex" / "notes.txt")   # a link to something that is no image
    lines = []
    out = image_folder_manifest(root, log=lines.append)
    m = load_manifest(out)
    assert sorted(m.rows.meme_id) == ["doge/a.png", "doge/deeper/b.jpg", "drake/hotline.png"]
    assert dict(zip(m.rows.meme_id, m.rows.label))["drake/hotline.png"] == "drake"
    assert load_image(m.image_path(m.rows.set_index("meme_id").image["drake/hotline.png"])).getpixel((0, 0)) == (0, 128, 0)
    reasons = dict(zip(m.rejects.meme_id, m.rejects.reason))
    assert reasons["drake/missing.png"].startswith("image is a link to a missing file")
    assert reasons["drake/fake.png"] == "not an image (unrecognised file format)"
    assert any("1 images directly in" in l for l in lines)


def test_a_path_written_to_leave_the_folder_is_still_refused(tmp_path):
    png(tmp_path / "outside.png", "red")
    (tmp_path / "ds").mkdir()
    pd.DataFrame([dict(meme_id="up", image="../outside.png", text="", label="x", status="confirmed", source="t")]).to_csv(
        tmp_path / "ds" / "m.csv", index=False)
    m = load_manifest(tmp_path / "ds" / "m.csv")
    assert m.rejects.reason.tolist() == ["image path escapes the manifest folder (not read)"]


def _records():
    "IMKG records: the real sample's first five when ../shared is here, else five in its layout."
    if (REALMEMES / "kym_records_sample.json").exists():
        return json.loads((REALMEMES / "kym_records_sample.json").read_text())[:5]
    return [{"title": f"Meme {i}", "url": f"https://knowyourmeme.com/memes/meme-{i}", "details": {"status": "Confirmed"},
             "template_image_url": f"https://i.kym-cdn.com/entries/icons/original/000/000/00{i}/meme-{i}.jpg"} for i in range(5)]


def test_kym_records_with_downloaded_images(tmp_path):
    "IMKG records + images: per-entry folders or template files; status, kym_url kept; a record without image is a reject."
    recs = _records()
    recs[1] = {**recs[1], "details": {**recs[1].get("details", {}), "status": "Submission"}}
    recs.append({"title": "broken record", "category": "Meme"})        # no url: a reject with its reason
    (tmp_path / "records.json").write_text(json.dumps(recs))
    images = tmp_path / "images"
    slug = lambda r: r["url"].rstrip("/").rsplit("/", 1)[-1]
    png(images / slug(recs[0]) / "gallery-1.png", "red"); png(images / slug(recs[0]) / "gallery-2.png", "blue")
    png(images / recs[1]["template_image_url"].rsplit("/", 1)[-1], "white")
    png(images / recs[2]["template_image_url"].rsplit("/", 1)[-1], "black")
    out = kym_manifest(tmp_path / "records.json", images, log=lambda *_: None)
    m = load_manifest(out)
    assert len(m.rows) == 4 and not len(m.rejects)
    rows = m.rows.set_index("meme_id")
    assert set(rows.label) == {slug(r) for r in recs[:3]}
    assert rows.status[rows.label.eq(slug(recs[1]))].tolist() == ["unconfirmed"]
    assert (rows.status[rows.label.eq(slug(recs[0]))] == "confirmed").all()
    assert rows.kym_url[rows.label.eq(slug(recs[0]))].iloc[0] == recs[0]["url"]
    rejects = pd.read_csv(out.with_name("manifest.rejects.csv"), keep_default_na=False)
    assert set(rejects.meme_id) == {slug(recs[3]), slug(recs[4]), ""}
    assert rejects.reason.str.contains("no downloaded image|no entry url").all()


def test_hugging_face_parquet_with_image_bytes_and_class_names(tmp_path):
    import pyarrow as pa, pyarrow.parquet as pq
    def raw(colour):
        b = io.BytesIO(); Image.new("RGB", (16, 16), colour).save(b, format="PNG"); return b.getvalue()
    meta = {"info": {"features": {"image": {"_type": "Image"}, "text": {"dtype": "string", "_type": "Value"},
                                  "label": {"names": ["doge", "drake"], "_type": "ClassLabel"}}}}
    t = pa.table({"image": [{"bytes": raw("red"), "path": "0.png"}, {"bytes": raw("blue"), "path": "1.png"}],
                  "text": ["such wow", None], "label": [0, 1]})
    (tmp_path / "data").mkdir()
    pq.write_table(t.replace_schema_metadata({"huggingface": json.dumps(meta)}), tmp_path / "data" / "train-00000-of-00001.parquet")
    p = subprocess.run([str(BIN), "import", "hf", tmp_path / "data" / "train-00000-of-00001.parquet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    m = load_manifest(tmp_path / "data" / "manifest.parquet")
    assert m.rows.label.tolist() == ["doge", "drake"] and m.rows.text.tolist() == ["such wow", ""]
    assert load_image(m.image_path(m.rows.image[1])).getpixel((0, 0)) == (0, 0, 255)
    assert "2 rows in, 2 kept, 0 rejected" in p.stdout
    bad = subprocess.run([str(BIN), "import", "hf", tmp_path / "data" / "manifest.parquet", "--label-column", "class"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "no column class" in bad.stderr and "Traceback" not in bad.stderr
