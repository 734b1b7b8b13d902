"""eval-expression: a tiny trained checkpoint on a FER-layout set, the AffectNet 7/8-class conventions on a
hand-made checkpoint, class folders, and the CLI."""
import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augmenter.attributes import EMOTIONS
from augmenter.checkpoint import save_checkpoint
from augmenter.errors import CheckpointError, DeviceError
from augmenter.nets.backbones import backbone_config, build_backbone
from evaluation.cli_expression import eval_expression
from evaluation.expression import evaluate_expression, load_expression_model, per_class_precision
from recognition.heads import ClassifierHead
from recognition.metrics import classification_metrics
from recognition.embedding import embed_batches
from recognition.train_expression import ExpressionConfig, train_expression
from tests.datasets.fixtures import affectnet_row, make_affectnet
from tests.recognition.fixtures import EXPRESSION_LOOKS, make_class_folders, pattern, write_png

FER_PREFIX = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}


def make_fer(root, counts):
    """``root/<split>/<emotion>/<Prefix>_<k>.png`` (FER-2013's folder layout) with distinct looks."""
    looks = {**EXPRESSION_LOOKS, "fear": "checker"}
    for s, (split, emotion) in enumerate(counts):
        for k in range(counts[split, emotion]):
            write_png(root / split / emotion / f"{FER_PREFIX[split]}_{k}.png", pattern(looks[emotion], 32, 100 * s + k))
    return root


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    """A FER-layout set (fear only in validation: outside the model's vocabulary) and a checkpoint trained
    on it for five short epochs (3 steps each)."""
    base = tmp_path_factory.mktemp("fer")
    root = make_fer(base / "fer", {("train", "happy"): 6, ("train", "sad"): 6, ("train", "neutral"): 6,
                                   ("validation", "happy"): 3, ("validation", "sad"): 3, ("validation", "neutral"): 2,
                                   ("validation", "fear"): 2, ("test", "happy"): 2})
    out = base / "run"
    config = ExpressionConfig(data=[f"fer2013:{root}"], out=str(out), backbone="small_resnet", width=8,
                              embedding_size=16, image_size=32, epochs=5, batch_size=6, lr=3e-3, shift=0, workers=0,
                              device="cpu")
    train_expression(config, log=lambda m: None)
    return root, out / "best.pt"


def _predictions(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_per_class_precision_by_hand():
    confusion = np.array([[3, 1, 0, 0],
                          [0, 2, 2, 0],
                          [1, 0, 0, 0],
                          [0, 1, 0, 0]])
    # columns: 3/(3+1), 2/(1+2+1), 0/2, never predicted
    got = per_class_precision(confusion)
    assert got[:3].tolist() == [0.75, 0.5, 0.0] and np.isnan(got[3])


def test_fer_validation_split(fer, tmp_path):
    root, checkpoint = fer
    lines = []
    result = evaluate_expression(checkpoint, [f"fer2013:{root}"], out=tmp_path, workers=0, device="cpu",
                                 log=lines.append)
    assert result["splits_used"] == {f"fer2013:{root}": "val"} and result["classes"] == ["neutral", "happy", "sad"]
    assert result["n_images"] == 8 and result["unreadable"] == 0
    assert result["skipped"]["not_in_vocabulary"] == {"fear": 2}
    assert any("not in the model's vocabulary" in line and "fear 2" in line for line in lines)
    assert result["support"] == {"neutral": 2, "happy": 3, "sad": 3}

    rows = _predictions(tmp_path / "expression_predictions.csv")
    assert len(rows) == 8 and all("/validation/" in r["path"] for r in rows)
    index = {c: i for i, c in enumerate(result["classes"])}
    truth = np.array([index[r["truth"]] for r in rows])
    predicted = np.array([index[r["predicted"]] for r in rows])
    assert [r["truth"] for r in rows] == [p.split("/")[-2] for p in (r["path"] for r in rows)]
    expected = classification_metrics(truth, predicted, 3)
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert result[key] == pytest.approx(expected[key])
    assert list(result["per_class_recall"].values()) == pytest.approx(expected["per_class_recall"])
    assert result["confusion"] == expected["confusion"]
    assert list(result["per_class_precision"].values()) == pytest.approx(
        per_class_precision(np.array(expected["confusion"])).tolist(), nan_ok=True)

    # the predictions are the model's: backbone + head rebuilt here, argmax over the logits
    backbone, head, size, vocabulary = load_expression_model(checkpoint)
    embeddings, _ = embed_batches(backbone, [r["path"] for r in rows], size, torch.device("cpu"), normalise=False)
    with torch.inference_mode():
        mine = head(torch.from_numpy(embeddings)).argmax(1).numpy()
    assert [vocabulary[i] for i in mine] == [r["predicted"] for r in rows]

    saved = json.loads((tmp_path / "expression.json").read_text())
    assert saved["confusion"] == result["confusion"] and saved["n_images"] == 8
    assert (tmp_path / "expression_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "| happy | 3 |" in (tmp_path / "expression.md").read_text()


def test_fer_other_splits(fer):
    root, checkpoint = fer
    test = evaluate_expression(checkpoint, [f"fer2013:{root}"], split="test", workers=0, device="cpu", log=lambda m: None)
    assert test["n_images"] == 2 and test["support"]["happy"] == 2 and test["per_class_recall"]["sad"] is not None
    assert np.isnan(test["per_class_recall"]["sad"])  # no sad image: recall undefined
    everything = evaluate_expression(checkpoint, [f"fer2013:{root}"], split="all", workers=0, device="cpu",
                                     log=lambda m: None)
    assert everything["n_images"] == 18 + 8 + 2


def test_a_set_with_splits_but_no_validation_is_refused(fer, tmp_path):
    _, checkpoint = fer
    root = make_fer(tmp_path / "fer", {("train", "happy"): 2, ("test", "sad"): 2})
    with pytest.raises(ValueError, match="no validation split .*train.*pass --split"):
        evaluate_expression(checkpoint, [f"fer2013:{root}"], workers=0, device="cpu")


def test_class_folders_default_to_all_images(fer, tmp_path):
    _, checkpoint = fer
    root = make_class_folders(tmp_path / "faces", {"happy": 2, "sad": 3})
    write_png(root / "cats" / "0.png", pattern("bright", 32, 0))
    result = evaluate_expression(checkpoint, [f"class-folder:{root}"], out=tmp_path / "out", workers=0, device="cpu",
                                 log=lambda m: None)
    assert result["splits_used"] == {f"class-folder:{root}": "all"} and result["n_images"] == 5
    assert result["skipped"]["unlabelled"] == 1 and result["support"] == {"neutral": 0, "happy": 2, "sad": 3}
    assert "training images" in (tmp_path / "out" / "expression.md").read_text()


# --- AffectNet conventions on a hand-made checkpoint ----------------------------------------------

def _biased_checkpoint(path, vocabulary, favourites):
    """An ``expression`` checkpoint whose head ignores the image: logits = bias, highest for
    ``favourites[0]``, then ``favourites[1]``..."""
    backbone = build_backbone("small_resnet", 16, 32, width=8)
    head = ClassifierHead("softmax", 16, len(vocabulary))
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        for rank, name in enumerate(favourites):
            head.linear.bias[vocabulary.index(name)] = 10.0 - rank
    save_checkpoint(path, kind="expression", model={"backbone": backbone.state_dict(), "head": head.state_dict()},
                    config={"backbone": backbone_config("small_resnet", 16, 32, 8), "train": {}},
                    vocabularies={"expression": list(vocabulary)})
    return path


@pytest.fixture
def affectnet(tmp_path):
    """AffectNet in its real layout: validation.csv with 2 contempt, 2 happy, 1 sad, 1 neutral (codes 7 1 2 0)."""
    codes = ["7", "7", "1", "1", "2", "0"]
    val = [affectnet_row(f"{k % 2}/v{k}.jpg", expression=c) for k, c in enumerate(codes)]
    train = [affectnet_row("5/t0.jpg", expression="3")]
    return make_affectnet(tmp_path / "affectnet", train, val)


def test_affectnet_8_and_7_classes(tmp_path, affectnet):
    checkpoint = _biased_checkpoint(tmp_path / "m.pt", list(EMOTIONS), ["contempt", "happy"])
    spec = [f"affectnet:{affectnet}"]
    eight = evaluate_expression(checkpoint, spec, classes=8, workers=0, device="cpu", log=lambda m: None)
    assert eight["classes"] == list(EMOTIONS) and eight["n_images"] == 6
    assert eight["per_class_recall"]["contempt"] == 1.0 and eight["per_class_precision"]["contempt"] == 2 / 6
    assert eight["accuracy"] == pytest.approx(2 / 6) and eight["skipped"]["contempt_7_class"] == 0

    lines = []
    seven = evaluate_expression(checkpoint, spec, classes=7, out=tmp_path / "out", workers=0, device="cpu",
                                log=lines.append)
    assert seven["classes"] == [e for e in EMOTIONS if e != "contempt"] and len(seven["confusion"]) == 7
    # contempt images dropped; the contempt logit (the highest) masked, so every prediction is happy
    assert seven["n_images"] == 4 and seven["skipped"]["contempt_7_class"] == 2
    assert {r["predicted"] for r in _predictions(tmp_path / "out" / "expression_predictions.csv")} == {"happy"}
    assert seven["accuracy"] == 0.5 and seven["per_class_precision"]["happy"] == 0.5
    assert seven["balanced_accuracy"] == pytest.approx(1 / 3)  # recall happy 1, sad 0, neutral 0
    assert "contempt" in seven["convention"] and any("dropped 2 contempt" in line for line in lines)

    # no convention: the model's vocabulary, nothing masked
    plain = evaluate_expression(checkpoint, spec, workers=0, device="cpu", log=lambda m: None)
    assert plain["n_images"] == 6 and plain["accuracy"] == pytest.approx(2 / 6)


def test_8_classes_needs_a_contempt_output(tmp_path, affectnet):
    seven_class = [e for e in EMOTIONS if e != "contempt"]
    checkpoint = _biased_checkpoint(tmp_path / "m.pt", seven_class, ["sad"])
    with pytest.raises(ValueError, match="--classes 8 needs a model with a contempt output"):
        evaluate_expression(checkpoint, [f"affectnet:{affectnet}"], classes=8, workers=0, device="cpu")
    lines = []
    result = evaluate_expression(checkpoint, [f"affectnet:{affectnet}"], workers=0, device="cpu", log=lines.append)
    assert result["skipped"]["not_in_vocabulary"] == {"contempt": 2} and result["n_images"] == 4
    assert result["per_class_recall"]["sad"] == 1.0


# --- CLI ------------------------------------------------------------------------------------------

def test_cli_writes_outputs_and_json(tmp_path, affectnet):
    checkpoint = _biased_checkpoint(tmp_path / "m.pt", list(EMOTIONS), ["contempt", "happy"])
    out = tmp_path / "out"
    result = CliRunner().invoke(eval_expression, ["--checkpoint", str(checkpoint), "--data", f"affectnet:{affectnet}",
                                                  "--classes", "7", "--out", str(out), "--workers", "0",
                                                  "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["n_images"] == 4 and printed == json.loads((out / "expression.json").read_text())
    assert {p.name for p in out.iterdir()} == {"expression.json", "expression.md", "expression_confusion.png",
                                               "expression_predictions.csv"}
    result = CliRunner().invoke(eval_expression, ["--checkpoint", str(checkpoint), "--data", f"affectnet:{affectnet}",
                                                  "--out", str(out), "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0 and result.stdout.startswith("# Expression recognition")


def test_cli_refuses_a_wrong_kind_checkpoint(tmp_path, affectnet):
    wrong = tmp_path / "verifier.pt"
    save_checkpoint(wrong, kind="verifier", model={"backbone": {}, "head": {}}, config={})
    result = CliRunner().invoke(eval_expression, ["--checkpoint", str(wrong), "--data", f"affectnet:{affectnet}",
                                                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {wrong}: is a 'verifier' checkpoint, expected 'expression'"
    with pytest.raises(CheckpointError):
        load_expression_model(wrong)
    assert not (tmp_path / "out").exists()


def test_load_expression_model_resolves_a_device_string(fer, monkeypatch):
    _, checkpoint = fer
    backbone, head, _, _ = load_expression_model(checkpoint, "auto")
    assert next(head.parameters()).device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="^--device cuda: CUDA is not available; use --device cpu or auto"):
        load_expression_model(checkpoint, "cuda")
