"""LightCNN-29 v2 architecture and the identity embedders behind load_identity_net."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from augmenter.checkpoint import save_checkpoint, to_plain
from augmenter.errors import CheckpointError
from augmenter.identity import IdentityEmbedder, LightCNNEmbedder, load_identity_net
from augmenter.tensors import resize_square
from augmenter.nets.lightcnn import LightCNN29v2, lightcnn29v2_param_count

CLASSES = 7

# Hand count, per layer: an mfm conv in->out with a k x k kernel holds 2*out*in*k*k + 2*out.
#   conv1 mfm(1, 48, 5)                                    2,496
#   resblocks (two 3x3 mfm c->c: 36c^2 + 4c each)
#     1 x 48: 83,136   2 x 96: 664,320   3 x 192: 3,983,616   4 x 128: 2,361,344
#   groups (1x1 mfm in->in, then 3x3 mfm in->out)
#     48->96: 87,840   96->192: 350,784   192->128: 516,736   128->128: 328,192
#   fc Linear(8192, 256)                                   2,097,408
#   = 10,475,872 up to the 256-d feature;  fc2 Linear(256, 80013, bias=False): 20,483,328
FEATURE_PARAMS = 10_475_872
RELEASED_PARAMS = 30_959_200


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.fixture(scope="module")
def reference_net() -> LightCNN29v2:
    torch.manual_seed(0)
    return LightCNN29v2(num_classes=CLASSES).eval()


@pytest.fixture(scope="module")
def weights_file(reference_net, tmp_path_factory):
    """The released checkpoint's layout: {"state_dict": {"module." + name: tensor}}."""
    path = tmp_path_factory.mktemp("lightcnn") / "LightCNN_29Layers_V2_checkpoint.pth.tar"
    torch.save({"epoch": 10, "state_dict": {"module." + k: v for k, v in reference_net.state_dict().items()}}, path)
    return path


@pytest.fixture(scope="module")
def embedder(weights_file) -> IdentityEmbedder:
    return load_identity_net(weights_file)


def _images(b=2, size=64, seed=1) -> torch.Tensor:
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------------------------------------ #
# LightCNN-29 v2


def test_parameter_count_matches_hand_derivation():
    assert lightcnn29v2_param_count(80013) == RELEASED_PARAMS
    assert lightcnn29v2_param_count(CLASSES) == FEATURE_PARAMS + 256 * CLASSES
    assert _count(LightCNN29v2(num_classes=CLASSES)) == FEATURE_PARAMS + 256 * CLASSES
    assert _count(LightCNN29v2()) == RELEASED_PARAMS  # the released model, 80013 classes


def test_parameter_names_and_shapes_are_the_reference_ones(reference_net):
    shapes = {k: tuple(v.shape) for k, v in LightCNN29v2().state_dict().items()}
    assert len(shapes) == 61  # 29 mfm/linear layers with bias + fc2 without: 2 * 30 + 1
    assert shapes["conv1.filter.weight"] == (96, 1, 5, 5)
    assert shapes["block1.0.conv1.filter.weight"] == (96, 48, 3, 3)
    assert shapes["group1.conv_a.filter.weight"] == (96, 48, 1, 1)
    assert shapes["group2.conv.filter.weight"] == (384, 96, 3, 3)
    assert shapes["block3.2.conv2.filter.bias"] == (384,)
    assert shapes["group3.conv.filter.weight"] == (256, 192, 3, 3)
    assert shapes["block4.3.conv2.filter.weight"] == (256, 128, 3, 3)
    assert shapes["group4.conv.filter.weight"] == (256, 128, 3, 3)
    assert shapes["fc.weight"] == (256, 8 * 8 * 128) and shapes["fc.bias"] == (256,)
    assert shapes["fc2.weight"] == (80013, 256) and "fc2.bias" not in shapes
    assert not any(k.startswith(("block1.1", "block2.2", "block3.3", "block4.4")) for k in shapes)  # [1, 2, 3, 4]


def test_lightcnn_shapes(reference_net):
    x = torch.rand(3, 1, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, feature = reference_net(x)
        assert torch.equal(reference_net.features(x), feature)
    assert logits.shape == (3, CLASSES) and feature.shape == (3, 256)
    assert torch.allclose(logits, feature @ reference_net.fc2.weight.T, atol=1e-5)  # eval: no dropout
    with pytest.raises(ValueError, match=r"\(B, 1, 128, 128\)"):
        reference_net(torch.rand(1, 3, 128, 128))


# ------------------------------------------------------------------------------------------------ #
# the LightCNN embedder


def test_embedder_unit_norm_any_size(embedder):
    assert isinstance(embedder, LightCNNEmbedder) and embedder.dim == 256
    assert "LightCNN-29 v2" in embedder.name
    with torch.no_grad():
        for size in (64, 128, 200):
            e = embedder(_images(2, size))
            assert e.shape == (2, 256)
            assert torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        embedder(torch.rand(2, 1, 64, 64))


def test_gradient_reaches_input_not_weights(embedder):
    x = _images(2, 64).requires_grad_(True)
    assert not any(p.requires_grad for p in embedder.parameters())
    (embedder(x) * torch.randn(2, 256)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in embedder.parameters())


def test_embedder_stays_in_eval_inside_a_training_parent(embedder):
    parent = nn.ModuleDict({"gen": nn.Linear(2, 2), "identity": embedder})
    parent.train()
    assert parent["gen"].training
    assert not embedder.training and not any(m.training for m in embedder.modules())


def test_weights_round_trip_and_preprocessing(embedder, reference_net):
    x = _images(2, 64, seed=3)
    grey = ((x + 1) / 2 * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    with torch.no_grad():
        want = F.normalize(reference_net(resize_square(grey, 128))[1], dim=1)
        assert torch.allclose(embedder(x), want, atol=1e-5)
        # a grey image in [-1, 1] at 128 px reaches the net as the same grey in [0, 1], untouched
        v = torch.rand(1, 1, 128, 128, generator=torch.Generator().manual_seed(4))
        assert torch.allclose(embedder((v * 2 - 1).expand(1, 3, 128, 128)), F.normalize(reference_net(v)[1], dim=1), atol=1e-5)


def test_resize_antialiases_downscale_only():
    noise = torch.rand(1, 1, 128, 128, generator=torch.Generator().manual_seed(0))
    plain = F.interpolate(noise, size=(32, 32), mode="bilinear", align_corners=False)
    smooth = resize_square(noise, 32)  # antialiased: averages 4x4 neighbourhoods, not 2x2 samples
    assert smooth.shape == (1, 1, 32, 32) and smooth.std() < 0.7 * plain.std()
    assert torch.allclose(smooth.mean(), noise.mean(), atol=0.01)
    assert resize_square(noise, 128) is noise
    small = noise[..., :16, :16]
    assert torch.equal(resize_square(small, 64), F.interpolate(small, size=(64, 64), mode="bilinear", align_corners=False))


# ------------------------------------------------------------------------------------------------ #
# load_identity_net errors


def test_none_means_off():
    assert load_identity_net(None) is None


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="never downloaded") as err:
        load_identity_net(tmp_path / "LightCNN_29Layers_V2_checkpoint.pth.tar")
    assert "LightCNN_29Layers_V2_checkpoint.pth.tar" in str(err.value)


def test_wrong_shapes_name_the_parameter(reference_net, tmp_path):
    state = {"module." + k: v for k, v in reference_net.state_dict().items()}
    state["module.conv1.filter.weight"] = torch.zeros(64, 1, 5, 5)
    path = tmp_path / "bad.pth.tar"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"conv1\.filter\.weight: checkpoint \(64, 1, 5, 5\) vs model \(96, 1, 5, 5\)"):
        load_identity_net(path)


def test_lightcnn_v1_weights_are_named(reference_net, tmp_path):
    state = {k: v for k, v in reference_net.state_dict().items() if not k.startswith("fc.")}
    state["fc.filter.weight"], state["fc.filter.bias"] = torch.zeros(512, 8192), torch.zeros(512)
    path = tmp_path / "LightCNN_29Layers_checkpoint.pth.tar"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError, match="LightCNN-29 v2"):
        load_identity_net(path)


def test_other_toolkit_kinds_are_refused(tmp_path):
    q = save_checkpoint(tmp_path / "q.pt", kind="q", model=nn.Linear(2, 1).state_dict(), config={})
    with pytest.raises(CheckpointError, match="'q' checkpoint, not an identity network"):
        load_identity_net(q)
    verifier = save_checkpoint(tmp_path / "v.pt", kind="verifier", model=nn.Linear(2, 1).state_dict(), config={})
    with pytest.raises(CheckpointError, match="does not describe a backbone"):
        load_identity_net(verifier)


def test_verifier_checkpoint_builds_its_backbone(tmp_path):
    from augmenter.nets.backbones import backbone_config, build_backbone

    torch.manual_seed(0)
    net = build_backbone("mobilefacenet", embedding_size=64, image_size=64).eval()
    path = save_checkpoint(tmp_path / "v.pt", kind="verifier", model={"backbone": net.state_dict()},
                           config={"backbone": backbone_config("mobilefacenet", 64, 64)})
    emb = load_identity_net(path)
    x = _images(3, 96, seed=2)
    out = emb(x)
    assert out.shape == (3, 64) and torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(net(torch.nn.functional.interpolate(
            x, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)), dim=1)
    assert torch.allclose(out, expected, atol=1e-5)


def test_attr_checkpoint_builds_attribute_embedder(tmp_path):
    attribute = pytest.importorskip("augmenter.nets.attribute")
    cfg = attribute.AttributeNetConfig()
    torch.manual_seed(0)
    net = attribute.AttributeNet(cfg).eval()
    path = save_checkpoint(tmp_path / "attr.pt", kind="attr", model=net.state_dict(), config={"net": to_plain(cfg)})
    emb = load_identity_net(path)
    assert isinstance(emb, IdentityEmbedder) and "attribute" in emb.name
    x = _images(2, 96, seed=5).requires_grad_(True)
    out = emb(x)
    with torch.no_grad():
        want = F.normalize(net.embed(resize_square(x, cfg.image_size)), dim=1)
    assert out.shape == (2, emb.dim) and torch.allclose(out, want, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and not any(p.requires_grad for p in emb.parameters())
