"""Training the attribute classifier on real images: ``augment train-attr``.

The classifier (:class:`~augmenter.nets.attribute.AttributeNet`) is the independent judge of GAN
outputs, so it never sees a synthetic image: it learns lighting and expression from the datasets'
labels and an identity embedding from their identities.

* Data: the union of the dataset specs (``NAME:ROOT``, see :mod:`augmenter.datasets.spec`), split by
  identity with :func:`~augmenter.datasets.spec.split_held_out` (``holdout``, ``seed``), so validation
  faces are of people never trained on, and the split agrees with GAN training and evaluation.
* Vocabularies: by default the values that occur in the data, in :mod:`augmenter.attributes` order
  (:data:`~augmenter.attributes.LIGHTING`; expressions in :data:`~augmenter.attributes.EXPRESSIONS`
  order, i.e. Multi-PIE's six then the other emotions). So FER-2013 gets emotion classes and the
  rendered sample Multi-PIE expressions. Identities: the training identities that are known, named
  ``"<dataset>/<identity>"``.
* Loss: ``CE(lighting) + CE(expression) + identity_weight * CE(identity)``, each over the images the
  dataset labels (label -1 is masked out; a batch with no label for a head adds exactly 0 for it).
* Augmentation: a random translation of up to ``image_size * shift_fraction`` pixels (edges
  replicated). No horizontal flip: flipping a face swaps its left and right lighting (flash05 <->
  flash09), which would teach the classifier wrong labels.
* Optimiser: Adam, learning rate on a cosine from ``lr`` down to 5% of it over ``epochs`` (set every
  step from the position in the run, so it has no state to resume).
* Validation after every epoch, on the held-out identities: lighting accuracy, lighting within-one
  accuracy (the prediction is the target or its nearest flash direction), expression accuracy, and
  identity verification with the embedding (mean cosine of same- vs. different-identity pairs, ROC AUC
  over at most 20k pairs).

Outputs under ``config.out``: ``config.json``; ``last.pt`` (weights, optimizer, progress, saved after
every epoch); ``best.pt`` / ``best.json`` (best held-out lighting + expression accuracy); ``log.jsonl``
(one line per epoch). Checkpoints are ``kind="attr"`` with config ``{"net": ..., "train": ...}`` and
vocabularies ``{"lighting", "expression", "identity"}``; load them with
:func:`augmenter.classify.model.load_attribute_classifier`.

Resuming: rerunning the same command continues after the last finished epoch (an interrupted epoch is
redone). Each epoch's order and shifts come from generators seeded by ``(seed, epoch)``. Only
``epochs``, ``workers`` and ``device`` may change between runs; a rerun with more epochs continues
training (the learning-rate cosine is then stretched to the new length).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from augmenter.attributes import EXPRESSIONS, LIGHTING, require_names
from augmenter.checkpoint import Checkpoint, to_plain
from augmenter.classify.model import KIND, attr_checkpoint_config, verification_metrics
from augmenter.gan_eval.metrics import within_one_accuracy
from augmenter.datasets.labelled import LabelledFaces, collate_labelled
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.errors import CheckpointError
from augmenter.losses import masked_cross_entropy
from augmenter.nets.attribute import AttributeNet, AttributeNetConfig
from augmenter.device import resolve_device
from augmenter.skips import SkipReport
from augmenter.tensors import to_model_input
from augmenter.training_run import TrainingRun

_RESUMABLE_CHANGES = {"epochs", "workers", "device"}
_LR_FLOOR = 0.05


@dataclass
class AttrTrainConfig:
    """Everything an attribute-classifier run depends on (saved as ``config.json`` and in checkpoints).

    ``lighting`` / ``expression``: the class vocabularies; ``None`` = the values found in the data.
    """

    data: list[str]
    out: str
    image_size: int = 64
    holdout: float = 0.2
    seed: int = 0
    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    workers: int = 2
    device: str = "auto"
    lighting: list[str] | None = None
    expression: list[str] | None = None
    width: int = 32
    embedding: int = 128
    weight_decay: float = 1e-4
    identity_weight: float = 0.5
    shift_fraction: float = 1 / 16


@dataclass
class AttrTrainResult:
    best_metrics: dict
    best_epoch: int
    epochs_run: int
    wall_s: float
    out: Path
    skips: SkipReport
    vocabularies: dict = field(default_factory=dict)

    def describe(self) -> str:
        m = self.best_metrics
        lines = [
            f"best epoch {self.best_epoch} on {m.get('n_val', 0)} held-out image(s) of "
            f"{m.get('val_identities', 0)} identit(ies): lighting accuracy {_fmt(m.get('lighting_acc'))} "
            f"(within one {_fmt(m.get('lighting_within_one'))}), expression accuracy {_fmt(m.get('expression_acc'))}; "
            f"identity cosine same {_fmt(m.get('cos_same'))} vs different {_fmt(m.get('cos_diff'))}, "
            f"AUC {_fmt(m.get('auc'))}",
            f"{self.epochs_run} epoch(s) run in {self.wall_s:.0f} s; classes: "
            f"{len(self.vocabularies.get('lighting', []))} lighting, {len(self.vocabularies.get('expression', []))} "
            f"expression, {len(self.vocabularies.get('identity', []))} training identities; "
            f"checkpoint {self.out / 'best.pt'}",
        ]
        if self.skips.total:
            lines.append(self.skips.summary())
        return "\n".join(lines)


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


# --------------------------------------------------------------------------------------------- #
# losses


def attribute_loss(
    outputs: dict[str, torch.Tensor],
    lighting: torch.Tensor,
    expression: torch.Tensor,
    identity: torch.Tensor,
    identity_weight: float = 0.5,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``CE(lighting) + CE(expression) + identity_weight * CE(identity)``, each masked where the label is -1.

    Heads missing from ``outputs`` (0 classes) add nothing. Returns ``(total, {head: its CE})``.
    """
    parts: dict[str, torch.Tensor] = {}
    for head, target in (("lighting", lighting), ("expression", expression), ("identity", identity)):
        if head in outputs:
            parts[head] = masked_cross_entropy(outputs[head], target.to(outputs[head].device))
    total = outputs["embedding"].sum() * 0.0
    for head, value in parts.items():
        total = total + (identity_weight if head == "identity" else 1.0) * value
    return total, parts


# --------------------------------------------------------------------------------------------- #
# data


def default_vocabularies(records: list[FaceRecord]) -> tuple[list[str], list[str]]:
    """The lighting and expression values that occur in ``records``, in LIGHTING / EXPRESSIONS order."""
    lighting = {r.lighting for r in records}
    expression = {r.expression for r in records}
    return [n for n in LIGHTING if n in lighting], [n for n in EXPRESSIONS if n in expression]


def _vocabularies(records: list[FaceRecord], config: AttrTrainConfig) -> tuple[list[str], list[str]]:
    found_lighting, found_expression = default_vocabularies(records)
    chosen = []
    for name, given, found, allowed in (("lighting", config.lighting, found_lighting, LIGHTING),
                                        ("expression", config.expression, found_expression, EXPRESSIONS)):
        if given is None:
            chosen.append(found)
            continue
        require_names(given, allowed, f"{name} name(s)")
        chosen.append(list(dict.fromkeys(given)))
    if not chosen[0] and not chosen[1]:
        raise ValueError(f"the data ({', '.join(config.data)}) labels neither lighting nor expression; "
                         "nothing to train the attribute classifier on")
    return chosen[0], chosen[1]


def identity_key(record: FaceRecord) -> str | None:
    """``"<dataset>/<identity>"``, or ``None`` when the dataset does not give an identity."""
    return None if record.identity == UNKNOWN else f"{record.dataset}/{record.identity}"


def random_translate(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Move each image's content down by ``dy`` and right by ``dx`` pixels (``shifts[b] = (dy, dx)``),
    replicating the edges (no wrap-around, which would move a bright side onto the dark one)."""
    s = int(shifts.abs().max()) if len(shifts) else 0
    if s == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (s, s, s, s), mode="replicate")
    return torch.stack([padded[b, :, s - dy:s - dy + h, s - dx:s - dx + w]
                        for b, (dy, dx) in enumerate(shifts.tolist())])


def _lr_at(config: AttrTrainConfig, progress: float) -> float:
    """Cosine from ``lr`` to ``_LR_FLOOR * lr``; ``progress`` in [0, 1] is the position in the run."""
    return config.lr * (_LR_FLOOR + (1 - _LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


# --------------------------------------------------------------------------------------------- #
# validation


@torch.inference_mode()
def evaluate_held_out(net: AttributeNet, dataset: LabelledFaces, identities: list[str | None],
                      lighting_vocab: list[str], *, batch_size: int = 128, workers: int = 0, seed: int = 0,
                      note_failure: Callable[[str], None] | None = None) -> dict:
    """Accuracy and verification metrics of ``net`` on ``dataset`` (see the module docstring).

    ``identities[i]`` is the identity key of ``dataset.records[i]`` (``None`` = unknown, left out of
    verification). Metrics with nothing to measure are ``None``.
    """
    device = next(net.parameters()).device
    net.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_labelled,
                        num_workers=workers if len(dataset) > batch_size else 0)
    idx_parts, l_pred, l_true, e_pred, e_true, embeddings = [], [], [], [], [], []
    for indices, images, lighting, expression, _, errors in loader:
        for message in errors:
            if note_failure:
                note_failure(message)
        if not len(indices):
            continue
        out = net(to_model_input(images, device))
        idx_parts.append(indices)
        embeddings.append(F.normalize(out["embedding"].float(), dim=1).cpu())
        if "lighting" in out:
            l_pred.append(out["lighting"].argmax(1).cpu())
            l_true.append(lighting)
        if "expression" in out:
            e_pred.append(out["expression"].argmax(1).cpu())
            e_true.append(expression)
    metrics: dict = {"n_val": int(sum(len(i) for i in idx_parts))}
    for head, preds, trues in (("lighting", l_pred, l_true), ("expression", e_pred, e_true)):
        pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)
        true = torch.cat(trues) if trues else torch.empty(0, dtype=torch.long)
        labelled = true >= 0
        metrics[f"n_{head}"] = int(labelled.sum())
        metrics[f"{head}_acc"] = (int((pred[labelled] == true[labelled]).sum()) / int(labelled.sum())) if labelled.any() else None
        if head == "lighting":
            metrics["lighting_within_one"] = within_one_accuracy(
                [lighting_vocab[i] for i in pred[labelled].tolist()], [lighting_vocab[i] for i in true[labelled].tolist()])
    if idx_parts:
        order = torch.cat(idx_parts).tolist()
        keys = [identities[i] for i in order]
        known = [k is not None for k in keys]
        emb = torch.cat(embeddings)[torch.tensor(known, dtype=torch.bool)]
        ids = [k for k in keys if k is not None]
    else:
        emb, ids = torch.empty(0, net.config.embedding), []
    metrics["val_identities"] = len(set(ids))
    metrics.update(verification_metrics(emb, ids, seed=seed) if len(ids) > 1 else
                   {"cos_same": None, "cos_diff": None, "auc": None, "pairs_same": 0, "pairs_diff": 0})
    return metrics


def _selection_score(metrics: dict) -> float:
    """Best-checkpoint criterion: held-out lighting accuracy + expression accuracy (missing = 0)."""
    return (metrics.get("lighting_acc") or 0.0) + (metrics.get("expression_acc") or 0.0)


# --------------------------------------------------------------------------------------------- #
# training


def _read_data(config: AttrTrainConfig) -> tuple[list[FaceRecord], list[FaceRecord], dict[str, list[str]], SkipReport]:
    """The training and held-out records, the vocabularies and what was skipped reading them."""
    if not config.data:
        raise ValueError("no dataset spec given (--data NAME:ROOT)")
    if not 0 < config.holdout < 1:
        raise ValueError(f"holdout must be in (0, 1): validation needs held-out identities, got {config.holdout}")
    records, skips = read_specs(list(config.data))
    if not records:
        raise ValueError(f"no images found in {', '.join(config.data)}")
    lighting_vocab, expression_vocab = _vocabularies(records, config)
    train, held = split_held_out(records, config.holdout, config.seed)
    if len(train) < 2 or not held:
        raise ValueError(f"the identity split (holdout {config.holdout}, seed {config.seed}) leaves {len(train)} "
                         f"training and {len(held)} held-out image(s); change --holdout or --seed")
    identity_vocab = sorted({k for k in map(identity_key, train) if k is not None})
    return train, held, {"lighting": lighting_vocab, "expression": expression_vocab, "identity": identity_vocab}, skips


def _same_vocabularies(vocabularies: dict[str, list[str]]) -> Callable[[Checkpoint], None]:
    """A resume check refusing a run trained on data with other classes."""
    def check(ckpt: Checkpoint) -> None:
        if ckpt.vocabularies != vocabularies:
            changed = [k for k in vocabularies if (ckpt.vocabularies or {}).get(k) != vocabularies[k]]
            raise CheckpointError(ckpt.path, f"was trained on data with other {', '.join(changed)} classes; "
                                             "the data changed: use another --out")
    return check


def _train_epoch(net: AttributeNet, optimizer: torch.optim.Optimizer, train_set: LabelledFaces, epoch: int,
                 config: AttrTrainConfig, run: TrainingRun, device: torch.device,
                 progress: Callable[[dict], None] | None) -> dict[str, float | None]:
    """One epoch (order and shifts seeded by ``(seed, epoch)``); returns the mean training losses."""
    n = len(train_set)
    max_shift = int(round(config.image_size * config.shift_fraction))
    steps_per_epoch = math.ceil(n / config.batch_size)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2),
                           generator=torch.Generator().manual_seed(config.seed * 100_019 + epoch))
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=order.tolist(),
                        num_workers=config.workers if n > config.batch_size else 0,
                        collate_fn=collate_labelled, pin_memory=device.type == "cuda")
    net.train()
    sums = {"loss": 0.0, "lighting": 0.0, "expression": 0.0, "identity": 0.0}
    batches = 0
    for b, (indices, images, lighting, expression, identity, errors) in enumerate(loader):
        for message in errors:
            run.note_failure(message)
        if len(indices) < 2:  # BatchNorm1d of the embedding needs 2+ images (a lone last image waits an epoch)
            continue
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(config, (epoch + b / steps_per_epoch) / config.epochs)
        x = random_translate(to_model_input(images, device), shifts[indices])
        loss, parts = attribute_loss(net(x), lighting.to(device), expression.to(device), identity.to(device),
                                     config.identity_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        batches += 1
        run.step += 1
        sums["loss"] += loss.item()
        for head, value in parts.items():
            sums[head] += value.item()
        if progress:
            progress({"epoch": epoch, "step": run.step, "steps_per_epoch": steps_per_epoch, "loss": loss.item()})
    return {f"train_{k}": (v / batches if batches else None) for k, v in sums.items()}


def train_attribute_classifier(config: AttrTrainConfig, progress: Callable[[dict], None] | None = None) -> AttrTrainResult:
    """Train (or resume training) the attribute classifier; ``progress`` gets a dict after every step
    (``epoch``, ``step``, ``steps_per_epoch``, ``loss``).

    Raises ``ValueError`` for data it cannot train on (no labels, an empty train or held-out side) and
    :class:`~augmenter.errors.CheckpointError` when ``out`` holds a run of other settings or data.
    Unreadable images are counted in the result's ``skips``, never raised. A Ctrl-C saves nothing: the
    rerun redoes the interrupted epoch from the last finished one.
    """
    start = time.perf_counter()
    train, held, vocabularies, skips = _read_data(config)
    lighting_vocab = vocabularies["lighting"]
    net_config = AttributeNetConfig(image_size=config.image_size, width=config.width, embedding=config.embedding,
                                    n_lighting=len(lighting_vocab), n_expression=len(vocabularies["expression"]),
                                    n_identity=len(vocabularies["identity"]))
    state = {"epoch": 0, "step": 0, "best_score": -1.0, "best_epoch": -1, "best_metrics": {}}
    run = TrainingRun(config.out, kind=KIND, train_config=to_plain(config), resumable=_RESUMABLE_CHANGES,
                      checkpoint_config=attr_checkpoint_config(net_config, to_plain(config)),
                      vocabularies=vocabularies, progress=state, skips=skips, started=start)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    net = AttributeNet(net_config).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    run.register(model=net, optimizer=optimizer)
    run.resume(device, check=_same_vocabularies(vocabularies))
    run.write_config()

    train_set = LabelledFaces(train, config.image_size, lighting_vocab, vocabularies["expression"],
                              vocabularies["identity"])
    val_set = LabelledFaces(held, config.image_size, lighting_vocab, vocabularies["expression"], None)
    held_identities = [identity_key(r) for r in held]
    epochs_run = 0
    while state["epoch"] < config.epochs:
        epoch = state["epoch"]
        losses = _train_epoch(net, optimizer, train_set, epoch, config, run, device, progress)
        metrics = evaluate_held_out(net, val_set, held_identities, lighting_vocab, batch_size=config.batch_size * 2,
                                    workers=config.workers, seed=config.seed, note_failure=run.note_failure)
        state["epoch"] = epoch + 1
        score = _selection_score(metrics)
        if score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch, best_metrics=metrics)
            run.save_best({"epoch": epoch, **metrics})
        run.save_last()
        epochs_run += 1
        run.log({"epoch": epoch, "lr": _lr_at(config, epoch / config.epochs), **losses,
                 "wall_s": round(time.perf_counter() - start, 2), **metrics})
    return AttrTrainResult(state["best_metrics"], state["best_epoch"], epochs_run, time.perf_counter() - start, run.out,
                           skips, vocabularies)
