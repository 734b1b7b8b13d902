"""LEGAN/StarGAN models and the trainer: identity start, overfitting, partial labels, resume, translate."""
import csv

import pytest
import torch

from augmenter.checkpoint import load_checkpoint
from augmenter.errors import CheckpointError
from augmenter.gan.models import load_translator, one_hot
from augmenter.gan.train import GanTrainConfig, LossWeights, sample_targets, train_gan
from augmenter.nets.legan import LeganConfig, LeganGenerator
from augmenter.nets.stargan import Discriminator, DiscriminatorConfig, StarGanConfig, StarGanGenerator
from augmenter.sample.tree import SampleConfig, render_sample
from tests.datasets.fixtures import make_fer_folders, make_yaleb


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    render_sample(root, SampleConfig(identities=3, size=64, expressions=("neutral", "smile"),
                                     lighting=("ambient", "flash01", "flash13")))
    return root


def _config(sample, out, **changes):
    settings = dict(steps=4, batch_size=4, g_width=8, d_width=8, image_size=32, holdout=0.0, log_every=1, grid_every=2,
                    eval_every=1000, checkpoint_every=2, workers=0, device="cpu",
                    weights=LossWeights(paired=10.0))
    return GanTrainConfig(data=[f"sample:{sample}"], out=str(out), **{**settings, **changes})


def test_untrained_legan_is_close_to_the_identity_map():
    torch.manual_seed(0)
    g = LeganGenerator(LeganConfig(n_lighting=3, n_expression=2, width=8, depth=2))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = g(x, one_hot(torch.tensor([0, 2]), 3), one_hot(torch.tensor([1, -1]), 2))
    assert y.shape == x.shape and (y - x).abs().max() < 0.02


def test_generators_and_discriminator_shapes_at_64_and_128():
    for size in (64, 128):
        x = torch.zeros(2, 3, size, size)
        c_l, c_e = torch.zeros(2, 19), torch.zeros(2, 6)
        assert LeganGenerator(LeganConfig(width=8))(x, c_l, c_e).shape == x.shape
        assert StarGanGenerator(StarGanConfig(width=8, res_blocks=1))(x, c_l, c_e).shape == x.shape
        realness, light, expr = Discriminator(DiscriminatorConfig(size, 19, 6, 8))(x)
        assert realness.shape == (2, 1, 2, 2) and light.shape == (2, 19) and expr.shape == (2, 6)


def test_a_tiny_legan_overfits_a_batch():
    torch.manual_seed(0)
    g = LeganGenerator(LeganConfig(n_lighting=2, n_expression=1, width=8, depth=2))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    target = torch.cat([x[:2].flip(-1), -x[2:]])  # a change the composition has to learn
    c_l, c_e = one_hot(torch.tensor([0, 0, 1, 1]), 2), torch.zeros(4, 1)
    opt = torch.optim.Adam(g.parameters(), 5e-3)
    first = None
    for _ in range(200):
        loss = (g(x, c_l, c_e) - target).abs().mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.35 * first


def test_unlabelled_attributes_are_kept_not_targeted():
    gen = torch.Generator().manual_seed(0)
    source = torch.tensor([2, -1, 0, -1])
    target, condition = sample_targets(source, 5, 0.0, gen, blank_keep=1.0)
    assert target[1] == -1 and target[3] == -1 and (target[[0, 2]] >= 0).all()
    assert torch.equal(condition, target)  # nothing kept, so nothing blanked
    kept, shown = sample_targets(source, 5, 1.0, gen, blank_keep=0.0)
    assert torch.equal(kept, source) and torch.equal(shown, source)  # keep probability 1: no change


def test_kept_labelled_attributes_are_shown_as_keep_vector():
    gen = torch.Generator().manual_seed(0)
    source = torch.arange(4).repeat(500)
    target, condition = sample_targets(source, 4, 1.0, gen, blank_keep=0.5)
    assert torch.equal(target, source)  # the losses still ask for the source class
    blank = condition == -1
    assert 0.4 < blank.float().mean() < 0.6 and torch.equal(condition[~blank], source[~blank])
    assert one_hot(torch.tensor([-1]), 3).abs().sum() == 0  # "keep" is the all-zero vector


def test_trains_on_datasets_that_label_one_attribute_each(tmp_path):
    yale = make_yaleb(tmp_path / "yale", subjects=("yaleB01", "yaleB02", "yaleB03"))
    fer = make_fer_folders(tmp_path / "fer")
    config = GanTrainConfig(data=[f"yaleb:{yale}", f"fer2013:{fer}"], out=str(tmp_path / "run"), steps=3,
                            batch_size=4, g_width=8, d_width=8, image_size=32, holdout=0.0, log_every=1,
                            grid_every=3, checkpoint_every=3, workers=0, device="cpu")
    lines = []
    train_gan(config, log=lines.append)
    # FER's validation and test images are never trained on, even with no identities held out
    assert any(line.startswith("data: ") and " and 2 held-out images" in line for line in lines), lines
    rows = list(csv.DictReader(open(tmp_path / "run" / "losses.csv")))
    assert len(rows) == 3 and all(float(r["d_cls"]) == float(r["d_cls"]) for r in rows)  # finite, not NaN
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt", kind="legan")
    assert set(ckpt.vocabularies["expression"]) <= {"neutral", "happy", "sad", "surprise", "fear", "disgust", "anger"}
    assert all(name == "ambient" or name.startswith("flash") for name in ckpt.vocabularies["lighting"])


def test_resumed_run_matches_an_uninterrupted_one(sample, tmp_path):
    train_gan(_config(sample, tmp_path / "full"), log=lambda m: None)
    calls = []

    def interrupt(state):
        calls.append(state)
        if len(calls) == 3:  # after step 3 (the periodic checkpoint is at step 2): saved at step 3
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_gan(_config(sample, tmp_path / "cut"), progress=interrupt, log=lambda m: None)
    with open(tmp_path / "cut" / "losses.csv", "a") as f:  # as if killed after logging an unsaved step
        f.write("99" + "," * 11 + "\n")
    train_gan(_config(sample, tmp_path / "cut"), log=lambda m: None)

    def losses(run):
        rows = {r["step"]: r for r in csv.DictReader(open(tmp_path / run / "losses.csv"))}
        return [{k: v for k, v in rows[s].items() if k not in ("minutes",)} for s in sorted(rows, key=int)]

    assert losses("full") == losses("cut")
    a = load_checkpoint(tmp_path / "full" / "last.pt").model["generator"]
    b = load_checkpoint(tmp_path / "cut" / "last.pt").model["generator"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    assert (tmp_path / "full" / "samples" / "step_000004.png").is_file()


def _tensors(obj, where=""):
    """Every tensor in a nested checkpoint entry, by its key path."""
    if isinstance(obj, torch.Tensor):
        return {where: obj}
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _tensors(value, f"{where}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, value in enumerate(obj) for k, v in _tensors(value, f"{where}/{i}").items()}
    return {}


def test_same_seed_gives_the_same_weights(sample, tmp_path):
    settings = dict(steps=3, grid_every=100, checkpoint_every=100)
    torch.manual_seed(1)
    train_gan(_config(sample, tmp_path / "one", **settings), log=lambda m: None)
    torch.manual_seed(2)  # unrelated global RNG state before the second run
    train_gan(_config(sample, tmp_path / "two", **settings), log=lambda m: None)
    a, b = (load_checkpoint(tmp_path / run / "last.pt", kind="legan") for run in ("one", "two"))
    assert a.step == b.step == 3
    assert a.scheduler == b.scheduler
    for part in ("model", "ema", "optimizer"):
        ta, tb = _tensors(getattr(a, part)), _tensors(getattr(b, part))
        assert ta.keys() == tb.keys() and ta, part
        for key in ta:
            assert torch.equal(ta[key], tb[key]), f"{part}{key}"


def test_translating_to_the_source_nearly_returns_the_input(sample, tmp_path):
    train_gan(_config(sample, tmp_path / "run", steps=6, grid_every=100), log=lambda m: None)
    translator = load_translator(tmp_path / "run" / "last.pt")
    from augmenter.tensors import load_face

    path = next(sample.rglob("*_051_01.png"))  # flash01, neutral (session 01 recording 01)
    x = torch.from_numpy(load_face(path, 64)).permute(2, 0, 1)[None].float() / 127.5 - 1
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="area")
    y = translator.translate(x, lighting="flash01", expression="neutral")
    assert (y - x).abs().mean() < 0.05
    with pytest.raises(CheckpointError, match="flash13"):  # the names it has, in one line naming the file
        translator.translate(x, lighting="flash07")


def test_eval_gan_and_translate_commands_end_to_end(sample, tmp_path):
    import json

    from click.testing import CliRunner

    from augmenter.classify.train_attr import AttrTrainConfig, train_attribute_classifier
    from augmenter.cli import main

    spec = f"sample:{sample}"
    holdout = 0.34  # holds out identity 001 of the 3 (see tests/classify/test_attr.py)
    train_attribute_classifier(AttrTrainConfig(data=[spec], out=str(tmp_path / "attr"), image_size=32, epochs=1,
                                               holdout=holdout, workers=0, device="cpu", width=8))
    train_gan(_config(sample, tmp_path / "gan", holdout=holdout, attr=str(tmp_path / "attr" / "best.pt"),
                      eval_every=2), log=lambda m: None)
    evals = list(csv.DictReader(open(tmp_path / "gan" / "evals.csv")))
    assert [r["step"] for r in evals] == ["2", "4"] and 0 <= float(evals[-1]["light_acc"]) <= 1

    runner = CliRunner()
    result = runner.invoke(main, ["eval-gan", "--legan", str(tmp_path / "gan" / "last.pt"), "--data", spec,
                                  "--attr", str(tmp_path / "attr" / "best.pt"), "--holdout", str(holdout),
                                  "--out", str(tmp_path / "eval"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "gan_eval.json").read_text())
    assert report["arch"] == "legan" and report["light_l1_input"] > 0 and "attribute-classifier" in report["feature_space"]
    assert (tmp_path / "eval" / "gan_examples.png").is_file()

    face = next(sample.rglob("*_051_00.png"))
    result = runner.invoke(main, ["translate", "--legan", str(tmp_path / "gan" / "last.pt"), str(face),
                                  "--out", str(tmp_path / "translated"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "translated").iterdir())
    assert len(written) == 3 + 2 and any("__L-flash13" in n for n in written) and any("__E-smile" in n for n in written)


def test_each_dataset_is_drawn_equally_often():
    from augmenter.datasets.record import FaceRecord
    from augmenter.gan.bank import FaceBank

    records = [FaceRecord(path=f"/y/{i}.pgm", dataset="yaleb", identity="a") for i in range(10)] + \
              [FaceRecord(path=f"/f/{i}.jpg", dataset="fer2013") for i in range(90)]
    n = len(records)
    bank = FaceBank(torch.zeros(n, 3, 8, 8, dtype=torch.uint8), torch.full((n,), -1), torch.full((n,), -1), records,
                    ["flash01"], ["happy"])
    rows = bank.draw(4000, torch.Generator().manual_seed(0))
    share = (rows < 10).float().mean().item()
    assert 0.45 < share < 0.55  # 10% of the rows, half of the draws
    assert len(set(rows[rows < 10].tolist())) == 10  # every small-set row is used
    assert torch.equal(rows, bank.draw(4000, torch.Generator().manual_seed(0)))
    single = FaceBank(torch.zeros(5, 3, 8, 8, dtype=torch.uint8), torch.full((5,), -1), torch.full((5,), -1),
                      records[:5], ["flash01"], ["happy"])
    assert torch.equal(single.draw(7, torch.Generator().manual_seed(3)),
                       torch.randint(5, (7,), generator=torch.Generator().manual_seed(3)))  # one dataset: as before


def test_the_tear_check_joins_the_quality_loss_only_when_asked(sample, tmp_path):
    seen = {}
    for name, check in (("with", "default"), ("without", None)):
        rows = []
        train_gan(_config(sample, tmp_path / name, steps=2, grid_every=100, q="demo", tear_check=check),
                  progress=rows.append, log=lambda m: None)
        seen[name] = rows
    assert all(r["g_tear"] >= 0 and r["g_quality"] >= r["g_tear"] for r in seen["with"])
    assert all("g_tear" not in r and "g_quality" in r for r in seen["without"])


def test_the_checks_rules_judge_but_charge_in_the_loss_only_when_asked(sample, tmp_path):
    import cv2

    from augmenter.gan.train import _tear_loss
    from augmenter.nets.tear_check import TearCheck, TearCheckConfig
    from augmenter.quality.source_rules import DEFAULT_RULES
    from augmenter.tensors import faces_to_input

    net = TearCheck(TearCheckConfig(image_size=32, width=4))
    with torch.no_grad():  # a network that finds nothing torn: only the rules could charge
        net.head[-1].bias.fill_(-20.0)
    net.rules = DEFAULT_RULES
    face = (torch.rand(64, 64, generator=torch.Generator().manual_seed(0)) * 200 + 20).to(torch.uint8).numpy()
    face = cv2.cvtColor(cv2.GaussianBlur(face, (0, 0), 0.7), cv2.COLOR_GRAY2RGB)
    x, soft = faces_to_input(face[None]), faces_to_input(cv2.GaussianBlur(face, (0, 0), 2.0)[None])
    assert _tear_loss(net, x, soft, rules=True).item() > 0.1  # softer than its photo: the rule's charge
    assert _tear_loss(net, x, soft, rules=False).item() == pytest.approx(0.0, abs=1e-6)
    assert GanTrainConfig(data=[], out="x").rules_in_loss is False
    seen = {}
    for rules in (False, True):
        rows = []
        train_gan(_config(sample, tmp_path / str(rules), steps=1, grid_every=100, q="demo", tear_check="default",
                          rules_in_loss=rules), progress=rows.append, log=lambda m: None)
        seen[rules] = rows[0]["g_tear"]
    assert seen[True] >= seen[False] >= 0  # the same first step: the rules only add charges


def test_a_bounded_check_caps_what_an_output_earns_at_its_sources_rating_plus_the_margin():
    from augmenter.gan.train import _rating_ceiling
    from augmenter.nets.quality import QNet, QNetConfig
    from augmenter.quality.source_rules import SourceRules
    from augmenter.tensors import resize_square

    q_net = QNet(QNetConfig(image_size=16, base_width=4)).eval()
    sources = torch.rand(3, 3, 32, 32) * 2 - 1
    check = type("Check", (), {"rules": SourceRules(source_margin=0.05)})()
    ceiling = _rating_ceiling(q_net, check, sources)
    with torch.no_grad():
        expected = q_net(resize_square(sources, 16)) + 0.5
    assert ceiling.shape == (3,) and torch.allclose(ceiling, expected, atol=1e-5) and not ceiling.requires_grad
    assert _rating_ceiling(q_net, None, sources) is None
    assert _rating_ceiling(q_net, type("Check", (), {"rules": None})(), sources) is None
