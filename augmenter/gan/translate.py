"""Translating image files with a trained generator: one file per (input, target) under ``out``.

Output names: ``<out>/<input stem>__<target>.png`` where target is ``L-<lighting>``, ``E-<expression>``
or ``L-<lighting>_E-<expression>``. Inputs of any size, grey or colour, are resized to the model's size
(the model works on aligned face crops such as ``augment align`` writes).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from augmenter.errors import ImageDecodeError
from augmenter.gan.models import load_translator
from augmenter.io import write_image_atomic
from augmenter.quality.images import load_face, to_uint8_images


def targets_for(translator, lighting: str | None, expression: str | None) -> list[tuple[str | None, str | None]]:
    """The requested target, or every single-attribute target of the vocabulary when none is given."""
    if lighting is not None or expression is not None:
        translator.index("lighting", lighting)
        translator.index("expression", expression)
        return [(lighting, expression)]
    return [(name, None) for name in translator.lighting] + [(None, name) for name in translator.expression]


def target_tag(lighting: str | None, expression: str | None) -> str:
    parts = ([f"L-{lighting}"] if lighting else []) + ([f"E-{expression}"] if expression else [])
    return "_".join(parts)


def translate_paths(paths: Sequence[Path], out: Path, checkpoint: Path | None, *, lighting: str | None = None,
                    expression: str | None = None, batch_size: int = 32, device: torch.device | str = "cpu") -> str:
    """Translate every readable image; returns a one-paragraph summary (written, unreadable)."""
    translator = load_translator(checkpoint, device)
    targets = targets_for(translator, lighting, expression)
    size = translator.image_size
    written, failed = 0, []
    for start in range(0, len(paths), batch_size):
        chunk, images = [], []
        for path in paths[start:start + batch_size]:
            try:
                images.append(load_face(path, size))
                chunk.append(Path(path))
            except ImageDecodeError as err:
                failed.append(str(err))
        if not chunk:
            continue
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
        for tl, te in targets:
            y = translator.translate(x, tl, te)
            pixels = to_uint8_images(y)
            for path, image in zip(chunk, pixels):
                write_image_atomic(out / f"{path.stem}__{target_tag(tl, te)}.png", image)
                written += 1
    summary = (f"wrote {written} image(s) for {len(paths) - len(failed)} input(s) x {len(targets)} target(s) "
               f"into {out} with {translator.arch} {translator.path.name}")
    if failed:
        summary += f"\n{len(failed)} unreadable input(s), e.g. {failed[0]}"
    return summary
