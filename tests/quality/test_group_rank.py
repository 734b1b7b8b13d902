"""The within-photo order term of Q's training: the loss, the grouped epoch order, a resumable run."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from augmenter.io import write_image_atomic
from augmenter.losses import within_group_rank_loss
from augmenter.quality.train import group_ids, grouped_order, train_q
from tests.quality.test_q_pipeline import _config


def test_rank_loss_hand_worked():
    pred = torch.tensor([6.0, 6.5, 3.0, 5.0])
    mean = torch.tensor([7.0, 6.6, 4.0, 5.0])
    group = torch.tensor([0, 0, 0, 1])
    # pairs (higher label first): (0,1) gap 0.4 -> wants 0.2, has -0.5: 0.7; (0,2) gap 3 -> wants 1 (cap), has 3: 0;
    # (1,2) gap 2.6 -> wants 1, has 3.5: 0; group 1 has one row: no pair
    assert within_group_rank_loss(pred, mean, group).item() == pytest.approx(0.7 / 3)
    assert within_group_rank_loss(pred, mean, group, scale=1.0, cap=10.0).item() == pytest.approx((0.9 + 0 + 0) / 3)


def test_rank_loss_is_zero_without_pairs_and_pushes_the_damaged_copy_down():
    assert within_group_rank_loss(torch.tensor([1.0, 9.0]), torch.tensor([7.0, 2.0]), torch.tensor([0, 1])).item() == 0
    assert within_group_rank_loss(torch.tensor([5.0, 5.0]), torch.tensor([7.0, 7.0]), torch.tensor([0, 0])).item() == 0
    pred = torch.tensor([5.0, 5.0], requires_grad=True)
    within_group_rank_loss(pred, torch.tensor([7.0, 2.0]), torch.tensor([0, 0])).backward()
    assert pred.grad[0] < 0 < pred.grad[1]  # descent raises the photo and lowers its damaged copy


def test_group_ids_and_grouped_order():
    table = pd.DataFrame({"group": ["a", "b", "a", None, "c", "b", "a", ""]})
    ids = group_ids(table)
    assert ids[0] == ids[2] == ids[6] and ids[1] == ids[5] and len(set(ids.tolist())) == 5  # None, "" alone
    assert torch.equal(group_ids(pd.DataFrame({"x": [1, 2, 3]})), torch.arange(3))
    numeric = group_ids(pd.DataFrame({"group": [12.0, 7.0, 12.0, float("nan")]}))  # names read as numbers
    assert numeric[0] == numeric[2] and len(set(numeric.tolist())) == 3
    order = grouped_order(ids, torch.Generator().manual_seed(3))
    assert sorted(order.tolist()) == list(range(len(table)))
    seen = ids[order].tolist()
    runs = [g for k, g in enumerate(seen) if k == 0 or seen[k - 1] != g]
    assert len(runs) == len(set(seen))  # each group's rows are adjacent
    members = [i for i in order.tolist() if ids[i] == ids[0]]
    assert members == [0, 2, 6]  # in table order
    again = grouped_order(ids, torch.Generator().manual_seed(3))
    assert torch.equal(order, again)
    orders = {tuple(grouped_order(ids, torch.Generator().manual_seed(s)).tolist()) for s in range(8)}
    assert len(orders) > 1  # the seed moves the groups


def _grouped_fixture(root, n_groups=16, size=32):
    """Each group: a photo (rated 8) and a noisy copy of it (rated 3), as the default Q's pool."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(n_groups):
        clean = np.full((size, size, 3), 40 + 10 * k, np.uint8)
        noisy = np.clip(clean + rng.normal(0, 60, clean.shape), 0, 255).astype(np.uint8)
        for name, image, rating in (("clean", clean, 8.0), ("noisy", noisy, 3.0)):
            write_image_atomic(root / "images" / name / f"{k:02d}.png", image)
            rows.append({"image": f"images/{name}/{k:02d}.png", "mean": rating, "std": 0.5, "source": name,
                         "group": f"g{k}", "split": "val" if k % 4 == 0 else "train"})
    pd.DataFrame(rows).to_csv(root / "ratings.csv", index=False)
    return root


def test_a_pair_weighted_run_trains_and_resumes_exactly(tmp_path):
    root = _grouped_fixture(tmp_path / "data")
    train_q(_config(root, tmp_path / "full", pair_weight=1.0))
    saved = json.loads((tmp_path / "full" / "config.json").read_text())
    assert saved["pair_weight"] == 1.0
    expected = [json.loads(line)["train_loss"] for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    calls = []

    def interrupt(state):
        calls.append(state)
        if len(calls) == 4:  # inside epoch 1 (3 batches an epoch)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_q(_config(root, tmp_path / "cut", pair_weight=1.0), progress=interrupt)
    train_q(_config(root, tmp_path / "cut", pair_weight=1.0))
    resumed = [json.loads(line)["train_loss"] for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert len(expected) == 3 and resumed == pytest.approx(expected, rel=1e-6)
    unpaired = [json.loads(line)["train_loss"] for line in
                (train_q(_config(root, tmp_path / "plain")).out / "log.jsonl").read_text().splitlines()]
    assert unpaired != pytest.approx(expected, rel=1e-6)  # the term changes what is trained
