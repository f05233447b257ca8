"""backbones: what the notebook shows badly: DataLoader workers in a fresh (spawned) process, the exact error texts,
a hub probe that cannot hang, the default cache location, shard merging, interrupted runs."""
import os, socket, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

from memeclust import backbones as bb
from memeclust.data import validate_manifest

ROOT = Path(__file__).resolve().parents[1]


def make_manifest(root: Path, n: int = 8, bad: tuple = ()):
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        im = Image.new("RGB", (200 + 10 * i, 160), (20 * i, 100, 200 - 20 * i))
        ImageDraw.Draw(im).ellipse((10 + 5 * i, 20, 120, 140), fill=(240, 240, 20))
        im.save(root / f"img/{i}.png")
        rows.append({"meme_id": f"m{i}", "image": f"img/{i}.png", "text": f"caption number {i}", "label": f"c{i % 2}"})
    m = validate_manifest(pd.DataFrame(rows), root)
    for i in bad: (root / f"img/{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return m


@pytest.fixture(scope="module")
def lite0():
    return bb.build_encoder("efficientnet_lite0")


SPAWN_SCRIPT = textwrap.dedent("""
    import multiprocessing as mp, sys, json
    from pathlib import Path
    import numpy as np, pandas as pd
    from PIL import Image
    if __name__ == "__main__":
        mp.set_start_method("spawn", force=True)      # workers must get everything by pickling
        from memeclust.backbones import build_encoder, embed_manifest
        from memeclust.data import validate_manifest
        root = Path(sys.argv[1]); (root / "img").mkdir(parents=True)
        rows = []
        for i in range(10):
            Image.new("RGB", (64 + 8 * i, 64), (25 * i, 0, 255 - 25 * i)).save(root / f"img/{i}.png")
            rows.append({"meme_id": f"m{i}", "image": f"img/{i}.png", "label": "x"})
        m = validate_manifest(pd.DataFrame(rows), root)
        (root / "img/3.png").write_bytes(b"junk")
        enc = build_encoder("efficientnet_lite0")
        a = embed_manifest(m, enc, batch_size=3, num_workers=2, cache=False, progress=False)
        b = embed_manifest(m, enc, batch_size=3, num_workers=0, cache=False, progress=False)
        print(json.dumps({"ids": a.meme_ids, "failed": a.failed.meme_id.tolist(), "same": bool(np.allclose(a.vectors, b.vectors, atol=1e-5)),
                          "n": a.n_computed}))
""")


def test_workers_under_spawn_match_single_process(tmp_path):
    script = tmp_path / "run.py"; script.write_text(SPAWN_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "data")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    import json
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["ids"] == [f"m{i}" for i in range(10) if i != 3] and res["failed"] == ["m3"]
    assert res["same"] and res["n"] == 9


def test_workers_with_fork_and_a_bad_image(tmp_path, lite0):
    m = make_manifest(tmp_path, 8, bad=(5,))
    e = bb.embed_manifest(m, lite0, batch_size=2, num_workers=2, cache=tmp_path / "cache", progress=False)
    assert e.meme_ids == [f"m{i}" for i in range(8) if i != 5] and e.vectors.shape == (7, 1280)
    assert e.failed.meme_id.tolist() == ["m5"] and e.failed.reason[0].startswith("unreadable image (")
    again = bb.embed_manifest(m, lite0, batch_size=2, num_workers=2, cache=tmp_path / "cache", progress=False)
    assert (again.n_computed, again.n_cached) == (0, 7) and again.failed.meme_id.tolist() == ["m5"]


def test_error_message_names_model_and_every_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMECLUST_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))          # empty download caches, as on a fresh machine
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(bb.WeightsNotFound) as e:
        bb.build_encoder("vit_b_32", online=False)
    msg = str(e.value)
    assert msg.startswith("no weights for 'vit_b_32' (image, 768-d;")
    for part in ["build_encoder('vit_b_32', weights='/path/to/vit_b_32.pth')", f"$MEMECLUST_WEIGHTS={tmp_path}",
                 "vit_b_32.pth or vit_b_32-d86f8d99.pth", "none carries vit_b_32 weights",
                 "https://download.pytorch.org/models/vit_b_32-d86f8d99.pth", "pretrained=False", "hub not tried: offline"]:
        assert part in msg, part
    with pytest.raises(bb.WeightsNotFound) as e:
        bb.resolve_weights("all-MiniLM-L12-v2", weights_dir=tmp_path / "w", online=False)
    msg = str(e.value)
    for part in ["'all-MiniLM-L12-v2' (text, 4096-d;", "folder named all-MiniLM-L12-v2/", f"weights_dir={tmp_path / 'w'}",
                 "sentence-transformers/all-MiniLM-L12-v2"]:
        assert part in msg, part


def test_hub_probe_never_hangs(monkeypatch):
    def slow(*a, **k): time.sleep(4); raise OSError("timed out")     # a DNS lookup that hangs past the timeout
    monkeypatch.setattr(socket, "create_connection", slow)
    monkeypatch.setattr(bb, "_PROBES", {})
    monkeypatch.delenv("MEMECLUST_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")
    monkeypatch.delenv("MEMECLUST_WEIGHTS", raising=False)
    t = time.time()
    assert bb.hub_reachable("example.invalid", timeout=0.5) is False
    assert time.time() - t < 3
    with pytest.raises(bb.WeightsNotFound):        # online asked for, hub unreachable: still the helpful error
        monkeypatch.setattr(bb, "_PROBES", {})
        bb.resolve_weights("resnet50", online=True)


def test_offline_switch_skips_the_probe(monkeypatch):
    monkeypatch.setenv("MEMECLUST_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed while offline"))
    monkeypatch.setattr(bb, "_PROBES", {})
    assert bb.hub_reachable("download.pytorch.org") is False


def test_folder_weights_show_in_list_and_bad_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MEMECLUST_WEIGHTS", raising=False)
    (tmp_path / "vit_b_32-d86f8d99.pth").write_bytes(b"this is not a torch file")
    table = bb.list_weights(weights_dir=tmp_path).set_index("name")
    assert table.loc["vit_b_32", "available"] and table.loc["vit_b_32", "source"].startswith("folder:")
    assert not table.loc["vgg19", "available"] and "vgg19.pth" in table.loc["vgg19", "source"]
    assert bb.default_backbone("image", weights_dir=tmp_path) == "vit_b_32"
    with pytest.raises(ValueError, match="vit_b_32-d86f8d99.pth"):
        bb.build_encoder("vit_b_32", weights_dir=tmp_path)


def test_torchvision_state_dict_loads_with_or_without_head(tmp_path):
    import torchvision.models as tvm
    torch.manual_seed(3); full = tvm.resnet50(weights=None).eval()
    torch.save(full.state_dict(), tmp_path / "resnet50.pth")
    enc = bb.build_encoder("resnet50", weights_dir=tmp_path)
    x = torch.randn(2, 3, 224, 224)
    full.fc = torch.nn.Identity()
    with torch.inference_mode(): assert torch.allclose(enc(x), full(x), atol=1e-5)
    torch.save({"state_dict": full.state_dict()}, tmp_path / "headless.pth")     # wrapped, no fc
    enc2 = bb.build_encoder("resnet50", weights=tmp_path / "headless.pth")
    assert enc2.weights_source.startswith("path:") and enc2.weights_identity != enc.weights_identity
    with torch.inference_mode(): assert torch.allclose(enc2(x), full(x), atol=1e-5)


def test_default_cache_lives_under_runs(tmp_path, lite0):
    m = make_manifest(tmp_path / "data", 3)
    e = bb.embed_manifest(m, lite0, num_workers=0, progress=False)
    runs = Path(os.environ["MEMECLUST_RUNS"])
    assert e.cache_dir == runs / "cache" / "embeddings" / lite0.cache_key and list(e.cache_dir.glob("shard-*.npz"))
    assert bb.embed_manifest(m, lite0, num_workers=0, progress=False).n_cached == 3


def test_shards_merge_and_interrupted_runs_keep_their_work(tmp_path, lite0):
    c = bb.VectorCache(tmp_path / "c", max_shards=2)
    for i in range(3): c.put([f"k{i}"], np.full((1, 4), i, np.float32))
    assert len(c.shards()) == 1 and set(c.get({"k0", "k1", "k2", "zz"})) == {"k0", "k1", "k2"}

    m = make_manifest(tmp_path / "data", 6)
    calls = {"n": 0}
    real_forward = lite0.forward
    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3: raise KeyboardInterrupt
        return real_forward(x)
    lite0.forward = flaky
    try:
        with pytest.raises(KeyboardInterrupt):
            bb.embed_manifest(m, lite0, batch_size=2, num_workers=0, cache=tmp_path / "cache", progress=False, flush_every=2)
    finally:
        del lite0.forward
    e = bb.embed_manifest(m, lite0, batch_size=2, num_workers=0, cache=tmp_path / "cache", progress=False)
    assert (e.n_computed, e.n_cached) == (2, 4)


def test_text_max_length_and_empty_text():
    enc = bb.build_encoder("all-MiniLM-L6-v2")
    feats = enc.collate(["word " * 2000, ""])
    assert feats["input_ids"].shape == (2, 256)
    v = enc.embed(["", "hello"])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    small = bb.build_encoder("all-MiniLM-L6-v2", dense_dim=128)
    assert small.dim == 128 and small.fresh_layers == ("dense 384->128 (seed 0)",) and small.embed(["x"]).shape == (1, 128)


def test_unknown_name_and_missing_path():
    with pytest.raises(KeyError, match="known are"):
        bb.build_encoder("clip")
    with pytest.raises(bb.WeightsNotFound, match="not found"):
        bb.build_encoder("vgg19", weights="/nonexistent/vgg19.pth")


def test_deepranking_takes_a_vgg16_trunk_and_lists_its_fresh_layers(tmp_path, monkeypatch):
    import torchvision.models as tvm
    torch.manual_seed(5); vgg = tvm.vgg16(weights=None).eval()
    (tmp_path / "vgg16-397923af.pth").write_bytes(b"placeholder")       # 528 MB not written: the reader is stubbed
    monkeypatch.setattr(bb, "_read_state_dict", lambda p: vgg.state_dict())
    enc = bb.build_encoder("deepranking", weights_dir=tmp_path)
    assert enc.fresh_layers == ("shallow4", "shallow8", "embed") and not enc.is_random_init and enc.dim == 4096
    x = torch.randn(1, 3, 224, 224)
    vgg.classifier = vgg.classifier[:-1]
    with torch.inference_mode():
        assert torch.allclose(enc.net.trunk(x), vgg(x), atol=1e-4)
        assert enc(x).shape == (1, 4096)


def test_a_state_dict_of_another_architecture_is_refused_naming_the_file():
    "A tensor of the wrong shape, or keys the model lacks: ValueError naming the file; keys under an optional head may go."
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    good = {k: v.clone() for k, v in net.state_dict().items()}
    wrong_shape = dict(good, **{"0.weight": torch.zeros(5, 4)})
    with pytest.raises(ValueError, match=r"^weights file w.pt does not fit this architecture: Error\(s\) in loading state_dict for Sequential: size mismatch for 0.weight") as e:
        bb._load_into(net, wrong_shape, "w.pt")
    assert "\n" not in str(e.value)                                           # one line, though torch's spans several
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['2.weight'\]"):
        bb._load_into(net, dict(good, **{"2.weight": torch.zeros(1)}), "w.pt")
    bb._load_into(net, {k: v for k, v in good.items() if not k.startswith("1.")}, "w.pt", ("1.",))   # the head may be absent
