"""augmenter: synthesize lighting and expression variants of faces and judge them with Q.

Public entry points live in the submodules: ``augmenter.io`` (decoding), ``augmenter.align``
(detection and 5-point alignment), ``augmenter.datasets`` (readers, records, manifest),
``augmenter.attributes`` (lighting/expression vocabularies), ``augmenter.checkpoint``.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("legan-augmenter")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0+src"
