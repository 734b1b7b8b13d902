"""The shared image Dataset and collate (:mod:`augmenter.image_dataset`) and the datasets built on it."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from augmenter.datasets.labelled import LabelledFaces, collate_labelled
from augmenter.datasets.record import FaceRecord
from augmenter.expand.sources import ChunkImages
from augmenter.image_dataset import (ImageDataset, ImageRejected, collate_faces, image_item, partition_failures,
                                     stack_images)
from augmenter.quality.images import FaceImages
from augmenter.tensors import load_face
from recognition.data import FaceSamples, Sample, collate_samples


def _files(tmp_path):
    rng = np.random.default_rng(3)
    big = tmp_path / "big.png"
    Image.fromarray(rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)).save(big)
    grey = tmp_path / "grey.png"
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(grey)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    return big, grey, bad, tmp_path / "missing.png"


def test_items_decode_resize_and_report_failures(tmp_path):
    big, grey, bad, missing = _files(tmp_path)
    data = ImageDataset([big, grey, bad, missing], 32)
    assert len(data) == 4
    for i, path in enumerate((big, grey)):
        index, image, error = data[i]
        assert (index, error) == (i, "") and image.dtype == torch.uint8 and image.shape == (3, 32, 32)
        assert np.array_equal(image.permute(1, 2, 0).numpy(), load_face(path, 32))  # the one resize
    index, image, error = data[2]
    assert index == 2 and image.numel() == 0 and error.startswith(f"{bad}: ")
    assert data[3][2] == f"{missing}: no such file"


def test_a_prepare_hook_may_refuse_or_change_the_crop(tmp_path):
    big, grey, _, _ = _files(tmp_path)

    class Flipped(ImageDataset):
        def prepare(self, index, image):
            if image.shape[0] < 30:
                raise ImageRejected(self.paths[index], "too small")
            return super().prepare(index, image)[:, ::-1]         # a negative stride is fine

    data = Flipped([big, grey], 16)
    assert np.array_equal(data[0][1].permute(1, 2, 0).numpy(), load_face(big, 16)[:, ::-1])
    assert data[1][2] == f"{grey}: too small" and data[1][1].numel() == 0
    assert image_item(7, big, lambda image: image[:8, :8])[1].shape == (3, 8, 8)


def test_collate_drops_failures_and_keeps_their_messages(tmp_path):
    big, grey, bad, missing = _files(tmp_path)
    data = ImageDataset([big, bad, grey, missing], 24)
    indices, images, failures = collate_faces([data[i] for i in range(4)])
    assert indices.dtype == torch.long and indices.tolist() == [0, 2] and images.shape == (2, 3, 24, 24)
    assert torch.equal(images[1], data[2][1])
    assert [i for i, _ in failures] == [1, 3] and failures[1][1] == f"{missing}: no such file"
    indices, images, failures = collate_faces([data[1]])
    assert indices.shape == (0,) and images.shape == (0, 3, 0, 0) and images.dtype == torch.uint8 and len(failures) == 1
    good, failures = partition_failures([(0, "img", 5, ""), (1, "", 6, "x: y")], error_at=3)
    assert good == [(0, "img", 5, "")] and failures == [(1, "x: y")]
    assert stack_images([])[0].dtype == torch.long


def test_the_datasets_share_pixels_and_failure_messages(tmp_path):
    big, grey, bad, _ = _files(tmp_path)
    paths = [big, grey, bad]
    core = [ImageDataset(paths, 20)[i] for i in range(3)]
    faces = [FaceImages(paths, 20)[i] for i in range(3)]
    records = [FaceRecord(path=p, dataset="x", expression="happy") for p in paths]
    labelled = [LabelledFaces(records, 20, ["ambient"], ["sad", "happy"])[i] for i in range(3)]
    samples = [FaceSamples([Sample(str(p), 4) for p in paths], 20)[i] for i in range(3)]
    for c, f, lab, s in zip(core, faces, labelled, samples):
        assert torch.equal(c[1], f[1]) and torch.equal(c[1], lab[1]) and torch.equal(c[1], s[1])
        assert c[2] == f[2] == lab[5] == s[3]
        assert lab[2:5] == (-1, 1, -1) and s[2] == 4
    assert collate_labelled(labelled)[3].tolist() == [1, 1] and collate_samples(samples)[2].tolist() == [4, 4]
    number, good, batch, failures = ChunkImages(records, [(5, range(3))], 20, min_size=21)[0]
    assert number == 5 and good == [0] and torch.equal(batch[0], core[0][1])
    assert failures == [(1, "face too small", f"{grey}: 24x20 px, under --min-size 21"),
                        (2, "unreadable image", core[2][2])]
