"""The true answer of any translation of a sample face: the same person rendered with the target attributes.

A record of the built-in sample (``read_dataset("sample", root)``) names its subject (``"001"`` is
``make_identity(seed, 0)``), lighting and expression; ``sample.json`` holds the seed and image size.
:class:`GroundTruth` re-renders that subject with any lighting and expression, so a translator's
output can be compared with what the image should be. For the record's own attributes the pixels are
exactly those of the file in the sample tree.

Example:
    >>> gt = GroundTruth("build/sample")                                   # doctest: +SKIP
    >>> record = read_dataset("sample", "build/sample").records[0]         # doctest: +SKIP
    >>> gt.render(record, "flash07", None).shape                           # doctest: +SKIP
    (64, 64, 3)
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from augmenter.attributes import LIGHTING, MULTIPIE_EXPRESSIONS
from augmenter.datasets.record import FaceRecord
from augmenter.errors import DatasetFormatError
from augmenter.sample.identity import Identity, make_identity
from augmenter.sample.render import FaceRenderer
from augmenter.sample.tree import CONFIG_NAME, MAX_IDENTITIES

__all__ = ["GroundTruth", "mean_image_per_target"]

DEFAULT_CACHE_SIZE = 12
"""(identity, expression) renders kept by :class:`GroundTruth`: two identities' six expressions."""


class GroundTruth:
    """Renders a sample subject with any lighting and expression, exactly as the sample tree does.

    Args:
        sample_root: a folder written by :func:`augmenter.sample.tree.render_sample`.
        cache_size: how many (identity, expression) groups of images to keep (least recently used
            go first); each holds every lighting of the group.

    Rendering is grouped: the first request for an (identity, expression) renders it under all the
    sample's lightings at once (one ``render_lights`` call, the geometry built once), plus the
    requested lighting when the sample does not have it; later requests for that group are served
    from the cache. Evaluating K lightings x E expressions of one record therefore renders each of its
    E (identity, expression) groups once. :attr:`render_calls` counts the renderer calls.

    Attributes:
        root: the sample folder.
        seed, size: from ``sample.json``.
        identities: the number of subjects of the sample.
        lighting, expressions: the sample's lighting and expression names (vocabulary order).

    Raises:
        DatasetFormatError: no ``sample.json`` under ``sample_root`` (not a sample tree), or an
            unreadable one.
    """

    def __init__(self, sample_root: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE_SIZE):
        self.root = Path(sample_root)
        meta_path = self.root / CONFIG_NAME
        if not meta_path.is_file():
            raise DatasetFormatError(self.root, f"holds no {CONFIG_NAME}: not a sample tree written by "
                                                 "`augment sample`, so its ground truth is unknown")
        try:
            config = json.loads(meta_path.read_text(encoding="utf-8"))["config"]
            self.seed = int(config["seed"])
            self.size = int(config["size"])
            self.identities = int(config.get("identities", MAX_IDENTITIES))
            self.lighting = tuple(n for n in LIGHTING if n in config.get("lighting", LIGHTING))
            self.expressions = tuple(e for e in MULTIPIE_EXPRESSIONS if e in config.get("expressions", ()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatasetFormatError(meta_path, f"unreadable sample config ({exc})") from None
        if int(cache_size) < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size}")
        self.cache_size = int(cache_size)
        self.render_calls = 0
        self._renderer: FaceRenderer | None = None
        self._identities: dict[int, Identity] = {}
        self._cache: OrderedDict[tuple[int, str], dict[str, np.ndarray]] = OrderedDict()

    def identity_index(self, record: FaceRecord) -> int:
        """The identity index of ``record``'s subject: ``"001"`` -> 0 (``ValueError`` if not a sample subject)."""
        subject = str(record.identity)
        if not subject.isdigit() or not 1 <= int(subject) <= self.identities:
            raise ValueError(f"{record.path}: subject {subject!r} is not one of this sample's "
                             f"{self.identities} subject(s) 001..{self.identities:03d}")
        return int(subject) - 1

    def render(self, record: FaceRecord, lighting: str | None, expression: str | None) -> np.ndarray:
        """``(size, size, 3)`` uint8: ``record``'s subject under ``lighting`` and ``expression``.

        Args:
            record: a record of this sample (its ``identity``, and its ``lighting`` / ``expression``
                where the target keeps them).
            lighting: a name from :data:`~augmenter.attributes.LIGHTING`, or ``None`` for the record's own.
            expression: a name from :data:`~augmenter.attributes.MULTIPIE_EXPRESSIONS`, or ``None``
                for the record's own.

        Returns:
            A new array (the cache keeps its own copy).

        Raises:
            ValueError: an unknown lighting or expression name (the record's own included), or a
                subject the sample does not have.
        """
        lighting = record.lighting if lighting is None else lighting
        expression = record.expression if expression is None else expression
        if lighting not in LIGHTING:
            raise ValueError(f"unknown lighting {lighting!r}; expected one of {', '.join(LIGHTING)}")
        if expression not in MULTIPIE_EXPRESSIONS:
            raise ValueError(f"unknown expression {expression!r}; expected one of {', '.join(MULTIPIE_EXPRESSIONS)}")
        index = self.identity_index(record)
        group = self._group(index, expression)
        if lighting not in group:
            group[lighting] = self._render(index, expression, [lighting])[0]
        return group[lighting].copy()

    def _group(self, index: int, expression: str) -> dict[str, np.ndarray]:
        key = (index, expression)
        group = self._cache.get(key)
        if group is not None:
            self._cache.move_to_end(key)
            return group
        lights = list(self.lighting)
        group = dict(zip(lights, self._render(index, expression, lights)))
        self._cache[key] = group
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return group

    def _render(self, index: int, expression: str, lights: Sequence[str]) -> list[np.ndarray]:
        if not lights:
            return []
        if self._renderer is None:
            self._renderer = FaceRenderer(size=self.size)
        identity = self._identities.get(index)
        if identity is None:
            identity = self._identities[index] = make_identity(self.seed, index)
        self.render_calls += 1
        images = self._renderer.render_lights(identity, expression, list(lights))
        if len(images) != len(lights):
            raise RuntimeError(f"renderer returned {len(images)} images for {len(lights)} lights")
        return images


def mean_image_per_target(images, targets: Sequence[str]) -> dict[str, np.ndarray]:
    """The mean uint8 image of each target: the "average training face for the target" baseline.

    Args:
        images: ``(N, H, W, 3)`` (or ``(N, H, W)``) uint8.
        targets: ``N`` names, the target (e.g. lighting) of each image.

    Returns:
        ``{target: mean image}``, keys in order of first appearance; each mean is computed in float64
        and rounded half to even to uint8.

    Example:
        >>> imgs = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 10, np.uint8)])
        >>> int(mean_image_per_target(imgs, ["a", "a"])["a"][0, 0, 0])
        5
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, not {images.dtype}")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be (N, H, W, 3) or (N, H, W), not {images.shape}")
    names = [str(t) for t in targets]
    if len(names) != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {len(names)} targets")
    labels = np.array(names, dtype=object)
    means: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(names):
        stack = images[labels == name]
        means[name] = np.rint(stack.mean(axis=0, dtype=np.float64)).astype(np.uint8)
    return means
