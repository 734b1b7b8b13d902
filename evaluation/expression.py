"""Evaluate a ``train-expression`` checkpoint on FER-2013, AffectNet or class folders (``eval-expression``).

Every image of the chosen split is classified by the checkpoint's backbone + softmax head (argmax of the
logits over the evaluated classes) and compared with its dataset label. Reported, over the readable
images whose expression is in the model's vocabulary:

- ``accuracy``; ``balanced_accuracy`` (mean per-class recall over the classes present); ``macro_f1``
  (same classes) — all from :func:`recognition.metrics.classification_metrics`;
- ``per_class_recall``, ``per_class_precision`` and ``support`` keyed by class name (recall ``None`` for
  a class with no image, precision ``None`` for a class never predicted: both undefined, 0/0);
- ``confusion``: ``(C, C)`` counts, rows = true class, columns = predicted, in the order of ``classes``;
- ``n_images`` (evaluated), ``unreadable``, ``skipped`` (images left out, by reason) and ``convention``.

Split (``split``): ``None`` = each dataset's validation split (FER-2013 ``validation``, AffectNet
``val``); a dataset without any split (class folders) contributes all its images, a dataset with splits
but no validation split is an error (pick ``test``, ``train`` or ``all``). ``"val"``, ``"test"``,
``"train"`` take that split of every dataset, ``"all"`` everything. Note that class folders have no
split: their "all" includes the images the model was trained on unless you evaluate another folder.

AffectNet conventions (``classes``):

- ``8``: all eight classes (neutral, happy, sad, surprise, fear, disgust, anger, contempt); the model
  must have a contempt output;
- ``7``: the usual 7-class protocol: contempt images are dropped (counted in ``skipped``) and, when the
  model has a contempt output, that logit is left out of the argmax, so a prediction is always one of
  the seven other classes;
- ``None``: the model's own vocabulary, no image or logit removed.

Images whose expression is not in the model's vocabulary (e.g. FER ``fear`` for a model trained without
it) and unlabelled images are counted in ``skipped`` and left out, with a message.

Example:
    >>> result = evaluate_expression("runs/fer/best.pt", ["fer2013:data/fer2013"], split="test")  # doctest: +SKIP
    >>> round(result["balanced_accuracy"], 3), result["per_class_recall"]["happy"]                  # doctest: +SKIP
    (0.612, 0.871)
"""
from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from augmenter.atomic import write_text_atomic
from augmenter.checkpoint import Checkpoint, load_checkpoint, load_weights
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.datasets.spec import read_specs
from augmenter.datasets.splits import canonical_split, is_validation_split
from augmenter.errors import CheckpointError
from augmenter.nets.backbones import backbone_from_checkpoint
from augmenter.device import resolve_device
from evaluation.outputs import fmt, write_result
from evaluation.plots import plot_confusion
from recognition.embedding import embed_batches
from recognition.heads import ClassifierHead
from recognition.metrics import classification_metrics

SPLITS = ("val", "test", "train", "all")
CONTEMPT = "contempt"
CONVENTIONS = {
    None: "model vocabulary: every class of the checkpoint, no image or logit removed",
    7: "AffectNet 7-class: contempt images dropped, contempt logit (if any) excluded from the argmax",
    8: "AffectNet 8-class: all eight classes, contempt included",
}


def per_class_precision(confusion: np.ndarray) -> np.ndarray:
    """``(C,)`` float64 precision of each class from a ``(C, C)`` confusion (rows true, columns predicted):
    ``confusion[c, c] / confusion[:, c].sum()``, NaN for a class never predicted (0/0).

    Example:
        >>> per_class_precision(np.array([[3, 1], [1, 0]])).tolist()
        [0.75, 0.0]
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    predicted = confusion.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(predicted > 0, np.diag(confusion) / np.maximum(predicted, 1), np.nan)


def load_expression_model(checkpoint: str | os.PathLike, device: torch.device | str = "cpu"
                          ) -> tuple[torch.nn.Module, ClassifierHead, int, list[str]]:
    """``(backbone, head, image size, vocabulary)`` of an ``expression`` checkpoint, in eval mode on ``device``
    (a string goes through :func:`resolve_device`).

    Raises:
        DeviceError: a device string that names no device, or a GPU this machine lacks.
        CheckpointError: missing/corrupt file, another kind of checkpoint, or weights that do not fit.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    ckpt: Checkpoint = load_checkpoint(checkpoint, kind="expression", map_location="cpu")
    vocabulary = list((ckpt.vocabularies or {}).get("expression") or [])
    if not vocabulary:
        raise CheckpointError(ckpt.path, "has no 'expression' vocabulary")
    backbone, size = backbone_from_checkpoint(ckpt)
    state = ckpt.model.get("head")
    if not isinstance(state, dict) or "linear.weight" not in state:
        raise CheckpointError(ckpt.path, "has no softmax head ('head' with 'linear.weight')")
    rows, embedding_size = state["linear.weight"].shape
    if rows != len(vocabulary):
        raise CheckpointError(ckpt.path, f"head has {rows} outputs but the vocabulary {len(vocabulary)} classes")
    head = ClassifierHead("softmax", int(embedding_size), len(vocabulary))
    load_weights(head, {k: v.float() for k, v in state.items()}, source=ckpt.path)
    return backbone.to(device).eval(), head.to(device).eval(), size, vocabulary


def select_split(records: Sequence[FaceRecord], split: str | None, spec: str) -> tuple[list[FaceRecord], str]:
    """The records of ``split`` (see the module docstring) and the split actually used (``"all"`` for a
    dataset without splits under the default)."""
    if split is None:
        val = [r for r in records if is_validation_split(r.split)]
        if val:
            return val, "val"
        present = sorted({r.split for r in records} - {UNKNOWN})
        if present:
            raise ValueError(f"{spec} has no validation split (it has {', '.join(present)}); "
                             "pass --split test, train or all")
        return list(records), "all"
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if split == "all":
        return list(records), "all"
    return [r for r in records if canonical_split(r.split) == split], split


def evaluate_expression(checkpoint: str | os.PathLike, data: Sequence[str], *, split: str | None = None,
                        classes: int | None = None, out: str | os.PathLike | None = None, batch_size: int = 128,
                        workers: int = 2, device: str = "auto", log: Callable[[str], None] = print) -> dict:
    """Evaluate ``checkpoint`` on the dataset specs ``data`` (``fer2013:DIR``, ``affectnet:DIR``,
    ``class-folder:DIR``); returns the result dict (module docstring). With ``out``, writes
    ``expression.json``, ``expression.md``, ``expression_confusion.png`` and ``expression_predictions.csv``
    (``path,truth,predicted`` per evaluated image) there.

    Raises:
        CheckpointError: not an ``expression`` checkpoint (one line), or unloadable.
        ValueError: bad ``split`` / ``classes``, ``classes=8`` for a model without contempt, nothing to evaluate.
    """
    if classes not in CONVENTIONS:
        raise ValueError(f"classes must be 7 or 8 (or None for the model's vocabulary), got {classes!r}")
    dev = resolve_device(device)
    backbone, head, size, vocabulary = load_expression_model(checkpoint, dev)
    if classes == 8 and CONTEMPT not in vocabulary:
        raise ValueError(f"--classes 8 needs a model with a contempt output; this one has {', '.join(vocabulary)} "
                         "(use --classes 7)")
    evaluated = [c for c in vocabulary if not (classes == 7 and c == CONTEMPT)]
    index = {c: i for i, c in enumerate(evaluated)}

    chosen, splits_used = _chosen_records(data, split)
    kept, skipped = _labelled_records(chosen, index, classes, vocabulary, log)
    if not kept:
        raise ValueError(f"no image to evaluate in {', '.join(data)} (split {split or 'default'}, "
                         f"vocabulary {', '.join(evaluated)})")

    paths = [str(r.path) for r in kept]
    truth = np.array([index[r.expression] for r in kept], dtype=np.int64)
    # the evaluated classes' logits only (drops contempt under classes=7), in vocabulary order
    columns = [vocabulary.index(c) for c in evaluated]
    ok, predicted = _predict(backbone, head, paths, size, dev, columns, batch_size, workers, log)
    truth = truth[ok]
    result = {
        "kind": "expression",
        "checkpoint": str(checkpoint),
        "data": list(data),
        "split": split or "default",
        "splits_used": splits_used,
        "convention": CONVENTIONS[classes],
        "classes": evaluated,
        "model_classes": vocabulary,
        "n_images": int(ok.sum()),
        "unreadable": int((~ok).sum()),
        "skipped": skipped,
        **_metrics(truth, predicted, evaluated),
    }
    if out is not None:
        write_expression_outputs(out, result, [p for p, k in zip(paths, ok) if k],
                                 [evaluated[i] for i in truth], [evaluated[i] for i in predicted])
    return result


def _chosen_records(data: Sequence[str], split: str | None) -> tuple[list[FaceRecord], dict[str, str]]:
    """The records of ``split`` of every spec of ``data``, and the split used per spec."""
    chosen: list[FaceRecord] = []
    splits_used: dict[str, str] = {}
    for spec in data:
        records, _ = read_specs([spec])
        picked, used = select_split(records, split, spec)
        splits_used[spec] = used
        chosen += picked
    return chosen, splits_used


def _labelled_records(chosen: Sequence[FaceRecord], index: dict[str, int], classes: int | None,
                      vocabulary: list[str], log: Callable[[str], None]) -> tuple[list[FaceRecord], dict]:
    """The records whose expression is one of the evaluated classes (``index``), and the result's
    ``skipped`` counts of the others (each reason logged once)."""
    skipped: dict = {"unlabelled": 0, "contempt_7_class": 0, "not_in_vocabulary": {}}
    outside: Counter = Counter()
    kept: list[FaceRecord] = []
    for r in chosen:
        if r.expression == UNKNOWN:
            skipped["unlabelled"] += 1
        elif classes == 7 and r.expression == CONTEMPT:
            skipped["contempt_7_class"] += 1
        elif r.expression not in index:
            outside[r.expression] += 1
        else:
            kept.append(r)
    skipped["not_in_vocabulary"] = dict(sorted(outside.items()))
    if outside:
        log(f"skipped {sum(outside.values())} image(s) whose expression is not in the model's vocabulary "
            f"({', '.join(vocabulary)}): " + ", ".join(f"{k} {n}" for k, n in sorted(outside.items())))
    if skipped["unlabelled"]:
        log(f"skipped {skipped['unlabelled']} image(s) without an expression label")
    if skipped["contempt_7_class"]:
        log(f"dropped {skipped['contempt_7_class']} contempt image(s) (7-class convention)")
    return kept, skipped


def _predict(backbone: torch.nn.Module, head: ClassifierHead, paths: list[str], size: int, dev: torch.device,
             columns: list[int], batch_size: int, workers: int, log: Callable[[str], None]
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(ok, predicted)``: ``(N,)`` bool, which of the ``N`` images could be read, and for those the
    index into ``columns`` (the head's outputs evaluated) of the largest logit, int64."""
    embeddings, errors = embed_batches(backbone, paths, size, dev, batch_size=batch_size, workers=workers,
                                       normalise=False)
    ok = ~np.isnan(embeddings).any(1) if embeddings.shape[1] else np.zeros(len(paths), dtype=bool)
    for message in errors[:3]:
        log(f"unreadable: {message}")
    if not ok.any():
        raise ValueError(f"none of the {len(paths)} image(s) could be read")
    with torch.inference_mode():
        logits = head(torch.from_numpy(embeddings[ok]).to(dev)).float()
    return ok, logits[:, columns].argmax(1).cpu().numpy()


def _metrics(truth: np.ndarray, predicted: np.ndarray, evaluated: list[str]) -> dict:
    """The result's metric entries (accuracy ... confusion) from the ``(N,)`` true and predicted class
    indices into ``evaluated``."""
    metrics = classification_metrics(truth, predicted, len(evaluated))
    confusion = np.array(metrics["confusion"], dtype=np.int64)
    precision = per_class_precision(confusion)
    return {
        "accuracy": metrics["accuracy"],
        "balanced_accuracy": metrics["balanced_accuracy"],
        "macro_f1": metrics["macro_f1"],
        "per_class_recall": dict(zip(evaluated, metrics["per_class_recall"])),
        "per_class_precision": dict(zip(evaluated, precision.tolist())),
        "support": dict(zip(evaluated, confusion.sum(1).tolist())),
        "confusion": confusion.tolist(),
    }


def write_expression_outputs(out: str | os.PathLike, result: dict, paths: Sequence[str], truth: Sequence[str],
                             predicted: Sequence[str]) -> list[Path]:
    """``expression.json``, ``expression.md``, ``expression_confusion.png``, ``expression_predictions.csv``."""
    out = Path(out)
    written = write_result(out, "expression", result, expression_markdown(result))
    plot_confusion(out / "expression_confusion.png", np.array(result["confusion"]), result["classes"],
                   title=f"expression ({result['n_images']} images)")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "truth", "predicted"])
    writer.writerows(zip(paths, truth, predicted))
    write_text_atomic(out / "expression_predictions.csv", buffer.getvalue())
    return written + [out / "expression_confusion.png", out / "expression_predictions.csv"]


def expression_markdown(result: dict) -> str:
    """A short Markdown summary of an :func:`evaluate_expression` result."""
    lines = [
        "# Expression recognition", "",
        f"- checkpoint: `{result['checkpoint']}`",
        "- data: " + ", ".join(f"`{spec}` ({used})" for spec, used in result["splits_used"].items()),
        f"- convention: {result['convention']}",
        f"- images: {result['n_images']} evaluated, {result['unreadable']} unreadable", "",
        "| metric | value |", "|---|---|",
        f"| accuracy | {fmt(result['accuracy'])} |",
        f"| balanced accuracy | {fmt(result['balanced_accuracy'])} |",
        f"| macro-F1 | {fmt(result['macro_f1'])} |", "",
        "| class | support | recall | precision |", "|---|---|---|---|",
    ]
    for c in result["classes"]:
        lines.append(f"| {c} | {result['support'][c]} | {fmt(result['per_class_recall'][c])} | "
                     f"{fmt(result['per_class_precision'][c])} |")
    lines += ["", "Confusion (rows true, columns predicted):", "",
              "| true \\ predicted | " + " | ".join(result["classes"]) + " |",
              "|---" * (len(result["classes"]) + 1) + "|"]
    for c, row in zip(result["classes"], result["confusion"]):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    skipped = result["skipped"]
    notes = [f"{n} {k}" for k, n in skipped["not_in_vocabulary"].items()]
    if notes:
        lines += ["", "Skipped (expression not in the model's vocabulary): " + ", ".join(notes) + "."]
    if skipped["unlabelled"]:
        lines += ["", f"Skipped {skipped['unlabelled']} unlabelled image(s)."]
    if skipped["contempt_7_class"]:
        lines += ["", f"Dropped {skipped['contempt_7_class']} contempt image(s) (7-class convention)."]
    if "all" in result["splits_used"].values():
        lines += ["", "Note: a dataset without splits was evaluated on all its images; if the model was trained "
                      "on it, these figures include training images."]
    return "\n".join(lines) + "\n"
