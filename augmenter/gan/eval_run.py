"""``augment eval-gan``: a generator on held-out identities, every target, against real data.

Feature space for FID / KID: the embedding of the toolkit's attribute classifier trained on real
images (``augment train-attr``), because no Inception weights can be fetched here; the report says so
(``feature_space``). FID / KID compare the outputs with the real held-out images.
"""
from __future__ import annotations

from pathlib import Path

import torch

from augmenter.classify.model import load_attribute_classifier
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.gan.bank import build_bank
from augmenter.gan.evaluate import EvalSet, evaluate_generator
from augmenter.gan.models import load_translator
from augmenter.gan_eval.metrics import frechet_distance, kernel_distance
from augmenter.gan_eval.report import translation_table, write_gan_report
from augmenter.tensors import resize_square, to_model_input, to_uint8_images


@torch.inference_mode()
def run_gan_evaluation(checkpoint: Path | None, specs: list[str], attr_path: Path, out: Path, *,
                       holdout: float = 0.2, q_path: Path | None = None, max_inputs: int = 48,
                       device: str | torch.device = "cpu", workers: int = 2) -> dict:
    """Evaluate and write ``out/gan_eval.json`` and ``out/gan_examples.png``; returns the metrics."""
    translator = load_translator(checkpoint, device)
    records, skips = read_specs(specs)
    train_records, held_records = split_held_out(records, holdout)
    if not held_records:
        raise ValueError(f"no held-out identity at holdout={holdout}: use a larger --holdout or more identities")
    size = translator.image_size
    held = build_bank(held_records, size, translator.lighting, translator.expression, workers=workers)
    train = build_bank(train_records, size, translator.lighting, translator.expression, workers=workers)
    attr = load_attribute_classifier(attr_path, device)
    q_net = None
    if q_path is not None:
        from augmenter.quality.model import load_q

        q_net, _ = load_q(q_path, device)
    eval_set = EvalSet.build(held, train, max_inputs=max_inputs)
    features: list[torch.Tensor] = []
    metrics = evaluate_generator(translator.generator, eval_set, attr, q_net=q_net, output_features=features)

    net = attr[0]
    real = torch.cat([net(resize_square(to_model_input(held.images[i:i + 256], device), net.config.image_size))
                      ["embedding"].cpu() for i in range(0, len(held), 256)]).numpy()
    fake = torch.cat(features).numpy()
    kid_mean, kid_std = kernel_distance(real, fake, subset_size=min(1000, len(real), len(fake)))
    metrics.update(fid=frechet_distance(real, fake), kid=kid_mean, kid_std=kid_std,
                   feature_space=f"attribute-classifier embedding ({real.shape[1]}-d) from {Path(attr_path).name}",
                   generator=str(translator.path), arch=translator.arch, n_inputs=len(eval_set.inputs),
                   n_held_out_images=len(held), skipped=skips.total + held.skips.total)

    rows = eval_set.inputs[:4]
    x = to_model_input(held.images[rows], device)
    columns = [to_uint8_images(x)]
    labels = ["input"]
    for name in translator.lighting:
        columns.append(to_uint8_images(translator.translate(x, lighting=name)))
        labels.append(name)
    for name in translator.expression:
        columns.append(to_uint8_images(translator.translate(x, expression=name)))
        labels.append(name)
    table = [[col[i] for col in columns] for i in range(len(rows))]
    translation_table(table, [held.records[i].identity for i in rows.tolist()], labels, out / "gan_examples.png")
    write_gan_report(out, metrics)
    return metrics
