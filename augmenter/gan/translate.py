"""Translating image files with a trained generator: one file per (input, target) under ``out``.

Output names mirror the inputs: ``<out>/<relative path without suffix>__<target>.png``, where target
is ``L-<lighting>``, ``E-<expression>`` or ``L-<lighting>_E-<expression>``. The relative path of an
image found under an input folder (or listed by a manifest) is its path within that folder; images
named directly are taken relative to the folder that holds them all (one file: just its name).

No output is ever written twice in a run: sources whose names would clash (``face.jpg`` and
``face.png``, or the same relative path under two input folders; names compared ignoring case, as
some file systems do) keep their suffix (``face.jpg__E-smile.png``), and if they still clash are
named by their path relative to the folder that holds every input. The same file listed twice is
translated once and counted as a skip.

Inputs of any size, grey or colour, are resized to the model's size (the model works on aligned face
crops such as ``augment align`` writes).
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from augmenter.datasets._tree import skip_counts
from augmenter.errors import ImageDecodeError
from augmenter.gan.models import load_translator
from augmenter.io import write_image_atomic
from augmenter.tensors import load_face, to_model_input, to_uint8_images
from augmenter.quality.score import UNREADABLE_IMAGE, Source
from augmenter.skips import SkipReport

LISTED_TWICE = "listed twice"


def targets_for(translator, lighting: str | None, expression: str | None) -> list[tuple[str | None, str | None]]:
    """The requested target, or every single-attribute target of the vocabulary when none is given.

    An unknown name raises :class:`~augmenter.errors.CheckpointError` naming the checkpoint and the
    names it has.
    """
    if lighting is not None or expression is not None:
        translator.index("lighting", lighting)
        translator.index("expression", expression)
        return [(lighting, expression)]
    return [(name, None) for name in translator.lighting] + [(None, name) for name in translator.expression]


def target_tag(lighting: str | None, expression: str | None) -> str:
    parts = ([f"L-{lighting}"] if lighting else []) + ([f"E-{expression}"] if expression else [])
    return "_".join(parts)


def output_stems(sources: Sequence[Source]) -> list[str]:
    """The output name of each source, without the ``__<target>.png`` ending (see the module docstring):
    distinct for distinct source paths, and distinct ignoring case unless the source paths themselves
    differ only in case."""
    paths = [os.path.abspath(s.path) for s in sources]
    named = [p for p, s in zip(paths, sources) if not _within(p, s.base)]
    direct_base = os.path.commonpath([os.path.dirname(p) for p in named]) if named else ""
    everything_base = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    candidates = []
    for path, source in zip(paths, sources):
        relative = PurePosixPath(Path(os.path.relpath(path, _base(path, source.base, direct_base))).as_posix())
        full = PurePosixPath(Path(os.path.relpath(path, everything_base)).as_posix())
        candidates.append((str(relative.with_suffix("")), str(relative), str(full)))
    level = [0] * len(sources)
    while True:
        clashing = _clashing([c[k] for c, k in zip(candidates, level)])
        movable = [i for i in clashing if level[i] < 2]
        if not movable:
            break
        for i in movable:
            level[i] += 1
    return [c[k] for c, k in zip(candidates, level)]


def _within(path: str, base: Path | None) -> bool:
    return base is not None and os.path.commonpath([path, os.path.abspath(base)]) == os.path.abspath(base)


def _base(path: str, base: Path | None, direct_base: str) -> str:
    return os.path.abspath(base) if _within(path, base) else direct_base


def _clashing(names: list[str]) -> list[int]:
    """Indices of the names that another name equals, ignoring case."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        groups[name.casefold()].append(i)
    return [i for group in groups.values() if len(group) > 1 for i in group]


def distinct_sources(sources: Sequence[Source], skips: SkipReport) -> list[Source]:
    """``sources`` without repeats of a path (counted as :data:`LISTED_TWICE`), first listing kept."""
    seen: set[str] = set()
    kept = []
    for source in sources:
        key = os.path.abspath(source.path)
        if key in seen:
            skips.add(LISTED_TWICE, str(source.path))
        else:
            seen.add(key)
            kept.append(source)
    return kept


def translate_sources(sources: Sequence[Source], out: Path, checkpoint: Path | None, *,
                      skips: SkipReport | None = None, lighting: str | None = None, expression: str | None = None,
                      batch_size: int = 32, device: torch.device | str = "cpu") -> str:
    """Translate every readable source image; returns a summary that accounts for every input.

    ``skips`` holds what was skipped while the sources were collected (it is added to); unreadable
    images are counted in it as :data:`~augmenter.quality.score.UNREADABLE_IMAGE`.
    """
    skips = skips if skips is not None else SkipReport()
    n_inputs = len(sources) + skips.total
    translator = load_translator(checkpoint, device)
    targets = targets_for(translator, lighting, expression)
    sources = distinct_sources(sources, skips)
    stems = output_stems(sources)
    size = translator.image_size
    written, translated = 0, 0
    for start in range(0, len(sources), batch_size):
        chunk, images = [], []
        for source, stem in zip(sources[start:start + batch_size], stems[start:start + batch_size]):
            try:
                images.append(load_face(source.path, size))
                chunk.append(stem)
            except ImageDecodeError as err:
                skips.add(UNREADABLE_IMAGE, str(err))
        if not chunk:
            continue
        translated += len(chunk)
        x = to_model_input(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2))
        for tl, te in targets:
            pixels = to_uint8_images(translator.translate(x, tl, te))
            for stem, image in zip(chunk, pixels):
                write_image_atomic(out / f"{stem}__{target_tag(tl, te)}.png", image)
                written += 1
    summary = (f"wrote {written} image(s) for {translated} of {n_inputs} input(s) x {len(targets)} target(s) "
               f"into {out} with {translator.arch} {translator.path.name}")
    if skips.total:
        summary += f"; {skip_counts(skips)}\n{skips.summary()}"
    return summary
