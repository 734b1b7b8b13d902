"""Embedding backbones: output shapes, argument checks, rebuilding from a checkpoint."""
import pytest
import torch

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.errors import CheckpointError
from augmenter.nets.backbones import backbone_config, backbone_from_checkpoint, build_backbone


@pytest.mark.parametrize("name, size", [("mobilefacenet", 64), ("iresnet18", 64), ("small_resnet", 48)])
def test_backbones_map_images_to_embeddings(name, size):
    torch.manual_seed(0)
    net = build_backbone(name, embedding_size=24, image_size=size, width=8).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, size, size) * 2 - 1)
    assert out.shape == (2, 24) and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])


def test_inception_resnet_v1_with_a_new_embedding_size_and_local_weights(tmp_path):
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    source = InceptionResnetV1(pretrained=None, classify=False)
    state = {**source.state_dict(), "logits.weight": torch.zeros(3, 512), "logits.bias": torch.zeros(3)}
    torch.save(state, tmp_path / "vggface2.pt")
    net = build_backbone("inception_resnet_v1", embedding_size=128, image_size=160, weights=tmp_path / "vggface2.pt")
    assert torch.equal(net.net.conv2d_1a.conv.weight, source.conv2d_1a.conv.weight)  # loaded, logits ignored
    with torch.no_grad():
        out = net.eval()(torch.zeros(2, 3, 160, 160))
    assert out.shape == (2, 128)


def test_backbone_arguments_are_checked():
    with pytest.raises(ValueError, match="applies to inception_resnet_v1, not mobilefacenet"):
        build_backbone("mobilefacenet", 64, 64, weights="facenet.pt")
    with pytest.raises(ValueError, match="divisible by 16"):
        build_backbone("mobilefacenet", 64, 40)
    with pytest.raises(ValueError, match="unknown backbone 'resnet9000'"):
        build_backbone("resnet9000")


@pytest.mark.parametrize("name, size, width", [("mobilefacenet", 32, 16), ("small_resnet", 48, 8)])
def test_backbone_from_checkpoint_round_trips(tmp_path, name, size, width):
    torch.manual_seed(0)
    net = build_backbone(name, embedding_size=16, image_size=size, width=width)
    with torch.no_grad():  # move the BatchNorm statistics away from their defaults
        for _ in range(3):
            net(torch.rand(4, 3, size, size) * 2 - 1)
    path = save_checkpoint(tmp_path / "v.pt", kind="verifier", model={"backbone": net.state_dict()},
                           config={"backbone": backbone_config(name, 16, size, width)})
    rebuilt, image_size = backbone_from_checkpoint(load_checkpoint(path))
    assert image_size == size and not rebuilt.training
    x = torch.rand(3, 3, size, size) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), net.eval()(x), atol=1e-6)


def test_a_checkpoint_without_a_backbone_is_a_checkpoint_error(tmp_path):
    path = save_checkpoint(tmp_path / "v.pt", kind="verifier", model={"head": {}}, config={})
    with pytest.raises(CheckpointError, match="does not describe a backbone"):
        backbone_from_checkpoint(load_checkpoint(path))
