"""Manifest validation against every kind of bad input: each gets its reason, good rows go on, counts add up."""
import json, os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from memeclust import data
from memeclust.data import load_manifest, MAX_TEXT_CHARS


def png(path, mode="RGB", size=(24, 24), color="red"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


@pytest.fixture
def messy(tmp_path):
    "A manifest folder with one good image of every convertible kind and one bad file of every rejectable kind."
    img = tmp_path / "memes" / "img"
    png(img / "good.png")
    png(img / "gray.png", "L", color=128)
    png(img / "rgba.png", "RGBA", color=(0, 0, 255, 0))
    Image.new("RGB", (24, 24), "green").convert("P").save(img / "palette.png")
    Image.new("CMYK", (24, 24), (0, 255, 0, 0)).save(img / "cmyk.jpg")
    frames = [Image.new("RGB", (24, 24), c) for c in ("red", "blue", "green")]
    frames[0].save(img / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    (img / "zero.png").write_bytes(b"")
    full = (img / "good.png").read_bytes()
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(img / "big.png")  # noisy, so its compressed data is long enough to damage
    (img / "truncated.png").write_bytes((img / "big.png").read_bytes()[:200])
    big = bytearray((img / "big.png").read_bytes())
    big[len(big) // 2: len(big) // 2 + 64] = b"\x00" * 64  # damage the middle of the compressed pixel data
    (img / "corrupt.png").write_bytes(bytes(big))
    (img / "notimage.png").write_text("<html>404 not found</html>")
    # a decompression bomb: a tiny file whose header claims 10,000 x 10,000 pixels
    Image.new("1", (10_000, 10_000)).save(img / "bomb.png", optimize=True)
    (tmp_path / "outside.png").write_bytes(full)
    (tmp_path / "secrets.txt").write_text("not for a meme loader")
    os.symlink(tmp_path / "secrets.txt", img / "link_out.png")            # a link out of the folder to something that is no image
    os.symlink(tmp_path / "blobs" / "never-fetched", img / "annexed.png")  # a git-annex link whose content is not here
    rows = [
        ("ok", "img/good.png", "SUCH MEME", "confirmed"),
        ("gray", "img/gray.png", "a", "confirmed"),
        ("rgba", "img/rgba.png", "b", "confirmed"),
        ("palette", "img/palette.png", "c", "confirmed"),
        ("cmyk", "img/cmyk.jpg", "d", "confirmed"),
        ("anim", "img/anim.gif", "e", "unconfirmed"),
        ("empty_text", "img/good.png", "", "confirmed"),
        ("long_text", "img/good.png", "x" * (MAX_TEXT_CHARS + 500), "confirmed"),
        ("missing_file", "img/gone.png", "f", "confirmed"),
        ("zero", "img/zero.png", "g", "confirmed"),
        ("truncated", "img/truncated.png", "h", "confirmed"),
        ("corrupt", "img/corrupt.png", "i", "confirmed"),
        ("notimage", "img/notimage.png", "j", "confirmed"),
        ("bomb", "img/bomb.png", "k", "confirmed"),
        ("ok", "img/good.png", "dup", "confirmed"),
        ("dotdot", "../outside.png", "l", "confirmed"),
        ("absolute", str(tmp_path / "outside.png"), "m", "confirmed"),
        ("symlink", "img/link_out.png", "n", "confirmed"),
        ("dangling", "img/annexed.png", "p", "confirmed"),
        ("status", "img/good.png", "o", "rejected"),
    ]
    df = pd.DataFrame(rows, columns=["meme_id", "image", "text", "status"]).assign(label="doge", source="kym")
    return tmp_path / "memes", df


EXPECTED_REJECTS = {
    "missing_file": "image file not found",
    "zero": "empty image file (0 bytes)",
    "truncated": "truncated or corrupt image",
    "corrupt": "truncated or corrupt image",
    "notimage": "not an image (unrecognised file format)",
    "bomb": "image too large: 10000x10000 pixels exceeds 50,000,000 (decompression-bomb guard)",
    "ok": "duplicate meme_id (first seen at row 2)",
    "dotdot": "image path escapes the manifest folder (not read)",
    "absolute": "image path escapes the manifest folder (not read)",
    "symlink": "not an image (unrecognised file format)",     # a link is read wherever it leads, and checked like any file
    "dangling": "image is a link to a missing file (",
    "status": "unknown status 'rejected' (expected confirmed or unconfirmed)",
}
EXPECTED_NOTES = {
    "ok": "", "gray": "grayscale converted to RGB", "rgba": "alpha flattened on white",
    "palette": "palette image converted to RGB", "cmyk": "CMYK converted to RGB",
    "anim": "animated (3 frames): first frame used; palette image converted to RGB", "empty_text": "",
    "long_text": f"text truncated from {MAX_TEXT_CHARS + 500} to {MAX_TEXT_CHARS} chars",
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_bad_input_has_its_reason_and_counts_add_up(messy, fmt):
    folder, df = messy
    path = data.write_manifest(df, folder / f"manifest.{fmt}")
    m = load_manifest(path, rejects_csv=folder / "rejects.csv")
    assert m.n_in == len(df) == len(m.rows) + len(m.rejects)
    assert dict(zip(m.rows.meme_id, m.rows.notes)) == EXPECTED_NOTES
    got = {r.meme_id: r.reason for r in m.rejects.itertuples()}
    assert set(got) == set(EXPECTED_REJECTS)
    first_line = 2 if fmt == "csv" else 1  # rows are file lines (a CSV's header is line 1) or Parquet record numbers
    for mid, reason in EXPECTED_REJECTS.items():
        assert got[mid].startswith(reason.replace("row 2", f"row {first_line}")), (mid, got[mid])
    on_disk = pd.read_csv(folder / "rejects.csv", keep_default_na=False)
    assert list(on_disk.columns) == ["row", "meme_id", "image", "reason"] and len(on_disk) == len(EXPECTED_REJECTS)
    assert "12 rejected" in m.summary()


def test_converted_images_load_as_rgb(messy):
    folder, df = messy
    m = load_manifest(data.write_manifest(df, folder / "m.csv"))
    for p in m.images():
        im = data.load_image(p)
        assert im.mode == "RGB" and im.size == (24, 24)
    assert data.load_image(folder / "img" / "anim.gif").getpixel((0, 0)) == (255, 0, 0)  # first frame


def test_text_missing_empty_and_non_utf8(tmp_path):
    png(tmp_path / "a.png")
    raw = ("meme_id,image,text,label,status,source\n"
           "m1,a.png,,x,confirmed,kym\n"
           "m2,a.png,   ,x,confirmed,kym\n").encode() + b"m3,a.png,caf\xe9 \xab ok \xbb,x,confirmed,kym\n"
    (tmp_path / "m.csv").write_bytes(raw)
    m = load_manifest(tmp_path / "m.csv")
    assert list(m.rows.text) == ["", "", "café « ok »"]
    assert m.notes[0] == "file is not UTF-8 (byte 0xe9 at offset 106): decoded as Windows-1252" and len(m.rejects) == 0
    # a manifest without a text column is accepted: texts empty, and the manifest says so
    pd.DataFrame({"meme_id": ["a"], "image": ["a.png"], "label": ["x"]}).to_csv(tmp_path / "n.csv", index=False)
    m = load_manifest(tmp_path / "n.csv")
    assert m.rows.text.tolist() == [""] and m.rows.status.tolist() == ["confirmed"]
    assert any("no 'text' column" in n for n in m.notes)


def test_bad_jsonl_lines_are_rejects_not_crashes(tmp_path):
    png(tmp_path / "a.png")
    good = {"meme_id": "a", "image": "a.png", "text": "t", "label": "x", "status": "confirmed", "source": "kym"}
    lines = [json.dumps(good), "{not json", "", json.dumps(dict(good, meme_id="b")), "[1, 2]"]
    (tmp_path / "m.jsonl").write_text("\n".join(lines))
    m = load_manifest(tmp_path / "m.jsonl")
    assert m.rows.meme_id.tolist() == ["a", "b"] and m.n_in == 4
    assert m.rejects.row.tolist() == [2, 5] and all("is not a JSON object" in r for r in m.rejects.reason)


def test_missing_required_columns_is_a_clear_error(tmp_path):
    pd.DataFrame({"id": ["a"], "path": ["a.png"]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(ValueError, match="lacks required column.*meme_id, image, label"):
        load_manifest(tmp_path / "m.csv")
    with pytest.raises(ValueError, match="unsupported manifest format '.xlsx'"):
        load_manifest(tmp_path / "m.xlsx") if (tmp_path / "m.xlsx").write_text("x") else None


def test_save_writes_clean_manifest_and_rejects_beside_it(messy):
    folder, df = messy
    m = load_manifest(data.write_manifest(df, folder / "m.csv"))
    out = m.save(folder / "clean.csv")
    again = load_manifest(out)
    assert len(again.rows) == len(m.rows) and len(again.rejects) == 0
    assert len(pd.read_csv(folder / "clean.rejects.csv")) == len(m.rejects)


def test_labels_and_ids_that_differ_only_invisibly_are_one(tmp_path):
    "A label typed with a no-break space, a zero-width space, a double space or a decomposed accent is the same class; a reported merge, not a split; such ids are duplicates."
    for i in range(6): png(tmp_path / f"{i}.png")
    df = pd.DataFrame({"meme_id": ["m0", "m1", "m2", "m3", "m4", "m0\u200b"], "image": [f"{i}.png" for i in range(6)],
                       "text": ["a", "b", "c", "d", "e", "f"],
                       "label": ["Drake Hotline Bling", "Drake\u00a0Hotline Bling", "Drake Hotline\u200b Bling", "Drake  Hotline Bling ",
                                 "Cafe\u0301 meme", "Drake Hotline Bling"],
                       "status": ["confirmed"] * 6, "source": ["kym"] * 6})
    df.to_csv(tmp_path / "m.csv", index=False)
    m = load_manifest(tmp_path / "m.csv")
    assert sorted(m.rows.label.unique()) == ["Caf\u00e9 meme", "Drake Hotline Bling"]
    assert (m.rows.label == "Drake Hotline Bling").sum() == 4
    assert any("differ only in spacing, invisible characters or Unicode form: one class 'Drake Hotline Bling'" in n for n in m.notes)
    assert m.rejects.meme_id.tolist() == ["m0"] and m.rejects.reason.str.startswith("duplicate meme_id").all()


def test_text_of_invisible_characters_is_empty_everywhere(tmp_path):
    "Zero-width, BOM and word-joiner-only texts are empty (with a note), so has_text and fusion treat them as no text."
    for i in range(4): png(tmp_path / f"{i}.png")
    texts = ["\u200b\u200c\u200d", "\ufeff", "\u2060 \u00a0", "one does not simply"]
    pd.DataFrame({"meme_id": [f"m{i}" for i in range(4)], "image": [f"{i}.png" for i in range(4)], "text": texts,
                  "label": ["x"] * 4, "status": ["confirmed"] * 4, "source": ["kym"] * 4}).to_csv(tmp_path / "m.csv", index=False)
    m = load_manifest(tmp_path / "m.csv")
    assert m.rows.text.tolist() == ["", "", "", "one does not simply"]
    assert (m.rows.notes[:3] == "text made only of invisible characters: empty").all()
    assert data.has_text(texts).tolist() == [False, False, False, True]
    from memeclust.dmw import dmw_topk
    r = dmw_topk([[0.1, 0.9]] * 4, [[0.5, 0.4]] * 4, None, text_available=data.has_text(texts))
    assert r.w_text.tolist()[:3] == [0.0, 0.0, 0.0] and r.w_text[3] > 0


def _card(size=(160, 64)):
    "An asymmetric picture: a caption bar on top of a gradient, so a rotation changes what a model sees."
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    a[: size[1] // 4] = 255; a[size[1] // 8, 10: size[0] - 10] = 0
    return Image.fromarray(a)


def test_every_image_path_decodes_what_a_viewer_shows(tmp_path):
    "EXIF orientation, 16-bit and 32-bit grayscale, palette transparency, LA and CMYK+ICC: validation notes, load_image pixels and the embedding agree with the upright 8-bit image."
    from PIL import ImageCms
    from memeclust.backbones import build_encoder, embed_manifest
    from memeclust.render import _open_rgb
    up = _card()
    up.save(tmp_path / "upright.jpg", quality=100)
    stored = up.transpose(Image.Transpose.ROTATE_90)                   # saved sideways, as a phone does ...
    exif = stored.getexif(); exif[0x0112] = 6                          # ... with the tag that says "turn me upright"
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=100)
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "g16.png")
    Image.fromarray(np.full((8, 8), 65535 * 3 // 4, np.int32), "I").save(tmp_path / "g32.tif")
    Image.new("LA", (8, 8), (0, 0)).save(tmp_path / "la.png")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", icc_profile=srgb)
    names = ["upright.jpg", "phone.jpg", "g16.png", "g32.tif", "la.png", "cmyk.jpg"]
    pd.DataFrame({"meme_id": [n.split(".")[0] for n in names], "image": names, "text": [""] * 6, "label": ["x"] * 6,
                  "status": ["confirmed"] * 6, "source": ["kym"] * 6}).to_csv(tmp_path / "m.csv", index=False)
    m = load_manifest(tmp_path / "m.csv")
    notes = dict(zip(m.rows.meme_id, m.rows.notes))
    assert notes["phone"] == "EXIF orientation 6 applied" and notes["g16"] == "16-bit grayscale scaled to 8 bits"
    assert notes["g32"] == "32-bit grayscale scaled to 8 bits" and notes["la"] == "alpha flattened on white"
    assert notes["cmyk"] == "CMYK converted to RGB through its ICC profile"
    assert data.load_image(tmp_path / "phone.jpg").size == up.size == _open_rgb(tmp_path / "phone.jpg").size
    assert data.load_image(tmp_path / "g16.png").getpixel((0, 0)) == (128, 128, 128)          # not clamped to white
    assert data.load_image(tmp_path / "g32.tif").getpixel((0, 0)) == (191, 191, 191)
    assert data.load_image(tmp_path / "la.png").getpixel((0, 0)) == (255, 255, 255)
    r, g, b = data.load_image(tmp_path / "cmyk.jpg").getpixel((0, 0))
    assert r > 200 and g < 60 and b < 60                                 # cyan-free, full magenta + yellow: red
    emb = embed_manifest(m, build_encoder("efficientnet_lite0"), progress=False, cache=False)
    v = dict(zip(emb.meme_ids, emb.vectors))
    assert float(v["upright"] @ v["phone"]) > 0.99                       # the same meme, whichever way it was stored



def test_tables_are_read_as_written_or_refused_with_the_reason(tmp_path):
    "Trailing delimiters, a stray quote in a TSV, an unclosed quote in a CSV, a Windows-1252 file, a mixed-encoding file."
    for n in "abcde": png(tmp_path / f"{n}.png")
    head = "meme_id,image,text,label,status,source\n"
    (tmp_path / "trailing.csv").write_text(head + "m1,a.png,hello there,Distracted Boyfriend,confirmed,kym,\n"
                                                  "m2,b.png,general kenobi,Distracted Boyfriend,confirmed,kym,\n")
    m = load_manifest(tmp_path / "trailing.csv")
    assert m.rows[["meme_id", "image", "text", "status"]].values.tolist() == [["m1", "a.png", "hello there", "confirmed"], ["m2", "b.png", "general kenobi", "confirmed"]]
    rows = [("m1", "a.png", '"Y U NO guy'), ("m2", "b.png", "plain caption"), ("m3", "c.png", 'he said "no" twice'), ("m4", "d.png", '"quoted" start'), ("m5", "e.png", "last one")]
    (tmp_path / "stray.tsv").write_text(head.replace(",", "\t") + "".join("\t".join([i, f, t, "Y U NO", "confirmed", "kym"]) + "\n" for i, f, t in rows))
    m = load_manifest(tmp_path / "stray.tsv")
    assert m.rows.meme_id.tolist() == ["m1", "m2", "m3", "m4", "m5"] and m.rows.text.tolist() == [t for _, _, t in rows]
    (tmp_path / "unclosed.csv").write_text(head + 'm1,a.png,"Y U NO guy,Y U NO,confirmed,kym\nm2,b.png,plain,Y U NO,confirmed,kym\n'
                                                  'm3,c.png,third,Y U NO,confirmed,kym\n')
    m = load_manifest(tmp_path / "unclosed.csv")
    assert len(m.rows) == 0 and len(m.rejects) == 1 and "never closed: it swallowed the 2 following line(s)" in m.rejects.reason[0]
    (tmp_path / "cp1252.csv").write_bytes((head + "m1,a.png,caf\u00e9 au lait,Pok\u00e9mon Evolution,confirmed,kym\n").encode("cp1252"))
    m = load_manifest(tmp_path / "cp1252.csv")
    assert (m.rows.label[0], m.rows.text[0]) == ("Pok\u00e9mon Evolution", "caf\u00e9 au lait") and "decoded as Windows-1252" in m.notes[0]
    mixed = (head + "m1,a.png,na\u00efve,Pok\u00e9mon,confirmed,kym\n").encode() + b"m2,b.png,x,Caf\xe9 \x81,confirmed,kym\n"
    (tmp_path / "mixed.csv").write_bytes(mixed)                       # UTF-8 with one Windows-1252 value (and a byte cp1252 lacks)
    m = load_manifest(tmp_path / "mixed.csv")
    assert m.rows.label.tolist()[0] == "Pok\u00e9mon" and m.rows.label[1].startswith("Caf\u00e9") and "nor Windows-1252" in m.notes[0]


def test_odd_image_references_get_a_reason_or_are_read(tmp_path, monkeypatch):
    "An overlong file name is a reject with its reason; a Parquet cell holding the image bytes is decoded; a link into a content store beside the folder is read as it is."
    import io as _io
    folder = tmp_path / "ds"; folder.mkdir()
    png(folder / "ok.png", color="blue")
    buf = _io.BytesIO(); Image.new("RGB", (20, 10), "green").save(buf, format="PNG")
    store = tmp_path / "store" / "blobs"; store.mkdir(parents=True)
    Image.new("RGB", (24, 24), "red").save(store / "abc123", format="PNG")                 # a content store beside it, as git-annex keeps one
    (folder / "linked.png").symlink_to(store / "abc123")
    cell = lambda path, raw=None: {"bytes": raw, "path": path}          # the Hugging Face `Image` feature's layout
    rows = [dict(meme_id="ok", image=cell("ok.png")), dict(meme_id="long", image=cell("when_you_finally_" * 18 + ".jpg")),
            dict(meme_id="hf", image=cell("42953.png", buf.getvalue())), dict(meme_id="linked", image=cell("linked.png")),
            dict(meme_id="up", image=cell("../store/blobs/abc123"))]
    df = pd.DataFrame([{**r, "text": "t", "label": "x", "status": "confirmed", "source": "hf"} for r in rows])
    df.to_parquet(folder / "m.parquet")
    m = load_manifest(folder / "m.parquet")
    reasons = dict(zip(m.rejects.meme_id, m.rejects.reason))
    assert sorted(m.rows.meme_id) == ["hf", "linked", "ok"] and set(reasons) == {"long", "up"}
    assert reasons["long"].startswith("image path unusable: File name too long")
    assert reasons["up"] == "image path escapes the manifest folder (not read)"    # a path written to leave the folder stays refused
    assert data.load_image(folder / "linked.png").getpixel((0, 0)) == (255, 0, 0)
    hf = m.rows.set_index("meme_id").image["hf"]
    assert hf.startswith(".memeclust-images/") and data.load_image(folder / hf).size == (20, 10)
    assert any("held the image bytes themselves" in n for n in m.notes)


def test_filtering_matches_the_confirmed_class_size_distribution():
    "Section 5.2's filter: each size bin keeps as many Unconfirmed classes as Confirmed has there (all, where fewer), chosen at random."
    from memeclust.data import match_class_size_distribution, size_bin

    def corpus(prefix, sizes):
        return pd.DataFrame([{"meme_id": f"{prefix}{c}-{i}", "label": f"{prefix}{c}"} for c, n in enumerate(sizes) for i in range(n)])

    conf = corpus("c", [12, 15, 19, 25, 28, 31, 31, 45])            # bins: 10-19 x3, 20-29 x2, 30-39 x2, 40-49 x1
    unc = corpus("u", [3, 5, 8, 10, 11, 12, 13, 14, 16, 19, 20, 22, 23, 24, 27, 35, 44, 47])
    kept, report = match_class_size_distribution(unc, conf, seed=0)
    bins = lambda df: df.label.value_counts().map(size_bin).value_counts().to_dict()
    assert bins(kept) == {"10-19": 3, "20-29": 2, "30-39": 1, "40-49": 1}   # capped at Confirmed's 3, 2, 1 (30-39 has only 1), 0-9 dropped
    rep = report.set_index("bin")
    assert rep.loc["0-9"].tolist() == [0, 3, 0] and rep.loc["10-19"].tolist() == [3, 7, 3] and rep.loc["40-49"].tolist() == [1, 2, 1]
    enough = ["10-19", "20-29", "40-49"]                                      # bins where Unconfirmed has at least Confirmed's count
    share = lambda d: [d[b] / sum(d[x] for x in enough) for b in enough]
    assert share(bins(kept)) == share(bins(conf)) == [0.5, 2 / 6, 1 / 6]     # there the proportions are exactly Confirmed's
    assert all(len(kept[kept.label == c]) == len(unc[unc.label == c]) for c in kept.label.unique())   # classes are kept whole
    other, _ = match_class_size_distribution(unc, conf, seed=1)
    assert bins(other) == bins(kept) and set(other.label) != set(kept.label)  # another seed: other classes, the same counts
