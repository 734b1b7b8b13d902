"""Dataset readers by name, and :func:`read_dataset`, the one entry point callers use.

=================  ================================================  ==================================
name               reader                                            layout
=================  ================================================  ==================================
``casia``          :func:`~augmenter.datasets.casia.read_casia`      ``root/<identity>/<nnn>.jpg``
``affectnet``      :func:`~augmenter.datasets.affectnet.read_affectnet`  file-list CSVs + image folder
``multipie``       :func:`~augmenter.datasets.multipie.read_multipie`    ``root/sessionNN/multiview/...``
``yaleb``          :func:`~augmenter.datasets.yaleb.read_yaleb`      ``root/yaleBNN/yaleBNN_P00A+035E+20.pgm``
``fer2013``        :func:`~augmenter.datasets.fer2013.read_fer2013`  ``root/<split>/<emotion>/*`` or fer2013.csv
``folder``         :func:`~augmenter.datasets.folders.read_identity_folders`  ``root/<identity>/<image>``
``class-folder``   :func:`~augmenter.datasets.folders.read_class_folders`     ``root/<class>/<image>``
``manifest``       :func:`read_manifest_listing`                     the toolkit's manifest (Parquet/CSV)
``sample``         :func:`read_sample`                               the built-in rendered data
=================  ================================================  ==================================

``sample`` is the toolkit's rendered demo data, written in the Multi-PIE layout, so it is the
Multi-PIE reader with ``dataset="sample"`` (same options, e.g. ``cameras=``).

Example:
    >>> listing = read_dataset("yaleb", "/data/CroppedYale", lighting_mapping="binned")  # doctest: +SKIP
    >>> sorted(DATASETS)[:3]
    ['affectnet', 'casia', 'class-folder']
"""
from __future__ import annotations

import os
from typing import Callable

from augmenter.datasets._tree import absolute
from augmenter.datasets.affectnet import read_affectnet
from augmenter.datasets.casia import read_casia
from augmenter.datasets.fer2013 import read_fer2013
from augmenter.datasets.folders import read_class_folders, read_identity_folders
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.multipie import read_multipie
from augmenter.skips import SkipReport
from augmenter.datasets.yaleb import read_yaleb
from augmenter.errors import DatasetFormatError

Reader = Callable[..., DatasetListing]


def read_sample(root: str | os.PathLike, **options) -> DatasetListing:
    """The built-in rendered sample data: Multi-PIE layout, records with ``dataset="sample"``.

    Its ``labels.csv`` and ``sample.json`` (written by ``augmenter.sample.tree``) are not images.
    """
    return read_multipie(root, dataset="sample", ignore=("labels.csv", "sample.json"), **options)


def read_manifest_listing(root: str | os.PathLike, **options) -> DatasetListing:
    """A toolkit manifest (``.parquet`` or ``.csv``) as a listing, in the manifest's own row order.

    Options go to :func:`augmenter.datasets.manifest.manifest_records` (e.g. ``kept_only=False``).
    Like an empty folder, a manifest without a usable image (header only, no row kept, every image
    missing) is a :class:`DatasetFormatError` naming the manifest file.
    """
    from augmenter.datasets.manifest import manifest_file, manifest_records  # lazy: optional at import time

    records, skips = manifest_records(root, **options)
    skips = skips if skips is not None else SkipReport()
    if not records:
        if skips.total:
            detail = f"{skips.total} skipped: {', '.join(sorted(skips.counts))}"
        else:
            detail = "no row" + (" with kept=True" if options.get("kept_only", True) else "")
        raise DatasetFormatError(manifest_file(absolute(root)), f"no usable images for manifest ({detail})")
    return DatasetListing(records, skips, "manifest", absolute(root))


DATASETS: dict[str, Reader] = {
    "casia": read_casia,
    "affectnet": read_affectnet,
    "multipie": read_multipie,
    "yaleb": read_yaleb,
    "fer2013": read_fer2013,
    "folder": read_identity_folders,
    "class-folder": read_class_folders,
    "manifest": read_manifest_listing,
    "sample": read_sample,
}
"""Reader name -> reader; each takes ``(root, **options)`` and returns a :class:`DatasetListing`."""


def read_dataset(name: str, root: str | os.PathLike, **options) -> DatasetListing:
    """Read dataset ``name`` at ``root`` with that reader's ``options``.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones).
        TypeError: an option the reader does not take.
        augmenter.errors.DatasetFormatError: missing root, bad header, no usable image...
    """
    try:
        reader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}") from None
    return reader(root, **options)
