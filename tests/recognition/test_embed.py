"""``augment embed``: an .npz of paths and unit embeddings (NaN rows for unreadable images), flips, errors."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augmenter.checkpoint import save_checkpoint
from augmenter.cli import main
from augmenter.errors import DatasetFormatError
from augmenter.nets.backbones import backbone_config, build_backbone
from recognition.embed import embed_inputs, read_inputs
from tests.recognition.fixtures import pattern, write_png


@pytest.fixture(scope="module")
def verifier(tmp_path_factory):
    torch.manual_seed(0)
    net = build_backbone("mobilefacenet", embedding_size=16, image_size=32)
    path = tmp_path_factory.mktemp("verifier") / "best.pt"
    save_checkpoint(path, kind="verifier", model={"backbone": net.state_dict(), "head": {}},
                    config={"backbone": backbone_config("mobilefacenet", 16, 32)}, vocabularies={"identity": ["a", "b"]})
    return path


def _gradient(size=32):
    ramp = np.linspace(0, 255, size).astype(np.uint8)
    image = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[::-1], (size, 1)).T, np.full((size, size), 90, np.uint8)], 2)
    image[4:12, 2:8] = 255  # a mark on the left: the image is not its own mirror
    return image


def test_augment_embed_writes_paths_unit_embeddings_and_flips(tmp_path, verifier):
    folder = tmp_path / "faces"
    write_png(folder / "a.png", _gradient())
    write_png(folder / "a_mirror.png", _gradient()[:, ::-1].copy())
    write_png(folder / "sub" / "b.png", pattern("checker", 40, 3))  # another size: resized to 32
    (folder / "bad.png").write_text("not an image")
    out = tmp_path / "emb.npz"
    result = CliRunner().invoke(main, ["embed", str(folder), "--model", str(verifier), "--out", str(out), "--flip",
                                       "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "4 embedding(s) of size 16" in result.output
    assert "1 unreadable image(s)" in result.output and "bad.png" in result.output
    data = np.load(out)
    assert set(data.files) == {"paths", "embeddings", "flip_embeddings"}
    names = [p.replace("\\", "/").split("faces/")[1] for p in data["paths"].tolist()]
    assert names == ["a.png", "a_mirror.png", "bad.png", "sub/b.png"]
    emb, flip = data["embeddings"], data["flip_embeddings"]
    assert emb.shape == flip.shape == (4, 16) and emb.dtype == np.float32
    good = [0, 1, 3]
    assert np.isnan(emb[2]).all() and np.isnan(flip[2]).all()
    assert np.allclose(np.linalg.norm(emb[good], axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(flip[good], axis=1), 1.0, atol=1e-5)
    # the flipped embedding of an image is the embedding of its mirror image
    assert np.allclose(flip[0], emb[1], atol=1e-5) and np.allclose(flip[1], emb[0], atol=1e-5)
    assert not np.allclose(emb[0], emb[1], atol=1e-3)


def test_embed_inputs_without_flip_and_from_a_list(tmp_path, verifier):
    write_png(tmp_path / "imgs" / "x.png", pattern("red", 32, 1))
    write_png(tmp_path / "imgs" / "y.png", pattern("blue", 32, 2))
    listing = tmp_path / "imgs" / "list.txt"
    listing.write_text(f"x.png\n\n{tmp_path / 'imgs' / 'y.png'}\n")
    assert read_inputs([listing]) == [tmp_path / "imgs" / "x.png", tmp_path / "imgs" / "y.png"]
    result = embed_inputs([listing], verifier, tmp_path / "e.npz", workers=0, device="cpu")
    assert (result.count, result.dim, result.unreadable) == (2, 16, [])
    assert "unreadable" not in result.describe()
    data = np.load(tmp_path / "e.npz")
    assert set(data.files) == {"paths", "embeddings"} and np.isfinite(data["embeddings"]).all()
    with pytest.raises(DatasetFormatError, match="list file not found"):
        read_inputs([tmp_path / "missing.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="no images to embed"):
        read_inputs([tmp_path / "empty"])


def test_a_non_verifier_checkpoint_is_a_one_line_error(tmp_path):
    write_png(tmp_path / "faces" / "a.png", pattern("red", 32, 1))
    q = save_checkpoint(tmp_path / "q.pt", kind="q", model={"w": torch.zeros(2)}, config={})
    out = tmp_path / "e.npz"
    result = CliRunner().invoke(main, ["embed", str(tmp_path / "faces"), "--model", str(q), "--out", str(out),
                                       "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert "'q' checkpoint" in result.output and "q.pt" in result.output
    assert not out.exists()
