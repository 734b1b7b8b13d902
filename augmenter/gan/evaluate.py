"""Held-out evaluation of a generator against an attribute classifier and, where it exists, ground truth.

For held-out identities (never trained on), each input is translated to every lighting target (keeping
its expression) and to every expression target (keeping its lighting). Figures:

- ``light_acc`` / ``expr_acc``: share of outputs the real-data attribute classifier assigns to the
  target; ``light_within1``: the target or its nearest flash direction;
- ``light_l1`` / ``expr_l1``: mean absolute error (0-1 scale) to the true image of the same identity
  under the target, where the data has it (the built-in sample has every combination), beside two
  baselines: the unchanged input (``*_l1_input``) and the average training face with the target
  (``*_l1_mean_face``);
- ``id_cos``: cosine between the classifier's embeddings of input and output; ``id_cos_other``: the
  same between inputs of different identities (what "identity lost" looks like); ``id_cos_true``:
  between the input and its true image under another light (what "identity kept" looks like);
- ``q_mean``: mean Q rating / 10 of the outputs, when a Q is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from augmenter.attributes import lighting_neighbours
from augmenter.gan.bank import FaceBank
from augmenter.gan.models import one_hot
from augmenter.tensors import resize_square, to_model_input


@dataclass
class EvalSet:
    """Fixed inputs from held-out identities with their targets, true images and baselines."""

    COLUMNS = ("light_acc", "light_within1", "light_l1", "light_l1_input", "light_l1_mean_face",
               "expr_acc", "expr_l1", "expr_l1_input", "expr_l1_mean_face",
               "id_cos", "id_cos_other", "id_cos_true", "q_mean")

    held: FaceBank
    inputs: torch.Tensor          # (K,) rows of held
    mean_light: torch.Tensor      # (n_l, 3, S, S) float in [-1, 1]: average training face per lighting
    mean_expr: torch.Tensor       # (n_e, 3, S, S)

    @classmethod
    def build(cls, held: FaceBank, train: FaceBank, max_inputs: int = 24, seed: int = 0) -> "EvalSet":
        gen = torch.Generator().manual_seed(seed)
        labelled = torch.nonzero((held.lighting >= 0) | (held.expression >= 0)).flatten()
        inputs = labelled[torch.randperm(len(labelled), generator=gen)[:max_inputs]]

        def means(labels: torch.Tensor, n: int) -> torch.Tensor:
            out = torch.zeros(n, *train.images.shape[1:])
            for i in range(n):
                rows = torch.nonzero(labels == i).flatten()
                if len(rows):
                    out[i] = train.images[rows].float().mean(0) / 127.5 - 1
            return out

        return cls(held, inputs, means(train.lighting, len(train.lighting_names)),
                   means(train.expression, len(train.expression_names)))


def _x(bank: FaceBank, rows: torch.Tensor, device) -> torch.Tensor:
    return to_model_input(bank.images[rows], device)


@torch.inference_mode()
def evaluate_generator(generator, eval_set: EvalSet, attr, q_net=None, batch_size: int = 64,
                       output_features: list | None = None) -> dict:
    """The module's figures for ``generator`` (in eval mode) on ``eval_set``.

    ``attr`` is ``(AttributeNet, vocabularies)`` from ``load_attribute_classifier``. When
    ``output_features`` is a list, the classifier's embeddings of every output are appended to it
    (for FID / KID against real images).
    """
    net, vocab = attr
    device = next(generator.parameters()).device
    held = eval_set.held
    n_l, n_e = len(held.lighting_names), len(held.expression_names)
    attr_size = net.config.image_size
    attr_light = {name: i for i, name in enumerate(vocab.get("lighting", []))}
    attr_expr = {name: i for i, name in enumerate(vocab.get("expression", []))}
    rows = eval_set.inputs
    x_all = _x(held, rows, device)
    results: dict[str, list] = {k: [] for k in ("light_hit", "light_near", "expr_hit", "light_l1", "light_l1_input",
                                                "light_l1_mean", "expr_l1", "expr_l1_input", "expr_l1_mean",
                                                "id_cos", "q")}
    emb_in = F.normalize(net(resize_square(x_all, attr_size))["embedding"], dim=1)

    for kind, n, names, attr_index, means in (("light", n_l, held.lighting_names, attr_light, eval_set.mean_light),
                                              ("expr", n_e, held.expression_names, attr_expr, eval_set.mean_expr)):
        source = held.lighting[rows] if kind == "light" else held.expression[rows]
        usable = source >= 0
        for t in range(n):
            sel = torch.nonzero(usable).flatten()
            if not len(sel):
                continue
            target = torch.full((len(sel),), t)
            keep = torch.full((len(sel),), -1)
            c_l = one_hot(target if kind == "light" else keep, n_l).to(device)
            c_e = one_hot(keep if kind == "light" else target, n_e).to(device)
            x = x_all[sel]
            y = torch.cat([generator(x[i:i + batch_size], c_l[i:i + batch_size], c_e[i:i + batch_size])
                           for i in range(0, len(x), batch_size)])
            out = net(resize_square(y, attr_size))
            if output_features is not None:
                output_features.append(out["embedding"].cpu())
            name = names[t]
            if name in attr_index:
                pred = out["lighting" if kind == "light" else "expression"].argmax(1).cpu()
                hit = pred == attr_index[name]
                results[f"{kind}_hit"] += hit.tolist()
                if kind == "light":
                    near = [attr_index[n] for n in lighting_neighbours(name) if n in attr_index]
                    results["light_near"] += (hit | torch.isin(pred, torch.tensor(near, dtype=pred.dtype))).tolist()
            results["id_cos"] += (F.normalize(out["embedding"], dim=1) * emb_in[sel]).sum(1).cpu().tolist()
            pairs = held.paired_rows(rows[sel], target if kind == "light" else keep, keep if kind == "light" else target)
            has = pairs >= 0
            if has.any():
                truth = _x(held, pairs[has], device)
                l1 = lambda a: ((a - truth).abs().flatten(1).mean(1) / 2).cpu().tolist()  # noqa: E731  (0-1 scale)
                results[f"{kind}_l1"] += l1(y[has.to(device)])
                results[f"{kind}_l1_input"] += l1(x[has.to(device)])
                results[f"{kind}_l1_mean"] += l1(means[t].to(device).expand_as(truth))
            if q_net is not None:
                rating = q_net(resize_square(y, q_net.config.image_size)).clamp(1, 10) / 10
                results["q"] += rating.cpu().tolist()

    mean = lambda v: float(np.mean(v)) if v else math.nan  # noqa: E731
    identities = [held.records[i].identity for i in rows.tolist()]
    other = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows)) if identities[i] != identities[j]]
    id_other = mean([float((emb_in[i] * emb_in[j]).sum()) for i, j in other])
    true_rows = held.paired_rows(rows, (held.lighting[rows] + 1) % max(n_l, 1), torch.full_like(rows, -1))
    has_true = true_rows >= 0
    id_true = math.nan
    if has_true.any():
        emb_true = F.normalize(net(resize_square(_x(held, true_rows[has_true], device), attr_size))["embedding"], dim=1)
        id_true = mean((emb_true * emb_in[has_true.to(device)]).sum(1).cpu().tolist())
    return {
        "light_acc": mean(results["light_hit"]), "light_within1": mean(results["light_near"]),
        "light_l1": mean(results["light_l1"]), "light_l1_input": mean(results["light_l1_input"]),
        "light_l1_mean_face": mean(results["light_l1_mean"]),
        "expr_acc": mean(results["expr_hit"]), "expr_l1": mean(results["expr_l1"]),
        "expr_l1_input": mean(results["expr_l1_input"]), "expr_l1_mean_face": mean(results["expr_l1_mean"]),
        "id_cos": mean(results["id_cos"]), "id_cos_other": id_other, "id_cos_true": id_true,
        "q_mean": mean(results["q"]),
    }
