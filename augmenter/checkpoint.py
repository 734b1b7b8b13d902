"""The toolkit's one checkpoint format, and safe loading of foreign weight files.

A checkpoint is a ``torch.save`` of a plain dict (tensors, numbers, strings, lists, dicts) that
``torch.load(weights_only=True)`` reads without running any pickled code. Nothing here ever calls
``torch.load`` with ``weights_only=False``.

Example:
    >>> net = torch.nn.Linear(4, 2)
    >>> save_checkpoint("q.pt", kind="q", model=net.state_dict(), step=10,
    ...                 config={"lr": 1e-3}, vocabularies={"lighting": ["ambient"]})  # doctest: +SKIP
    >>> ckpt = load_checkpoint("q.pt", kind="q")                                     # doctest: +SKIP
    >>> load_weights(net, ckpt.model, source=ckpt.path)                              # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import enum
import json
import os
import pickle
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import torch

from augmenter import __version__
from augmenter.atomic import atomic_path, write_text_atomic
from augmenter.errors import CheckpointError

FORMAT_VERSION = 1
"""Format written by :func:`save_checkpoint`; :func:`load_checkpoint` reads this and older ones."""

_REFUSED = "refused: contains pickled code or objects outside weights_only's allow-list"
FOREIGN_CHECKPOINT = "not a legan-augmenter checkpoint (no 'kind' field); to load foreign weights use load_state_dict_file"
_NOT_FOUND_WEIGHTS = "weight file not found; pretrained weights are never downloaded — pass a local file"
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "network")
_SHOW = 5  # keys listed in a load_weights error


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    ``model``, ``ema``, ``optimizer`` and ``scheduler`` are what was saved: one state_dict, or a
    dict of named state_dicts (e.g. ``{"generator": ..., "discriminator": ...}``), or ``None``.
    """

    kind: str
    model: dict
    ema: dict | None
    optimizer: dict | None
    scheduler: dict | None
    step: int
    config: dict
    vocabularies: dict[str, list[str]] | None
    extra: dict | None
    toolkit_version: str
    format_version: int
    path: Path
    torch_version: str = ""


# --------------------------------------------------------------------------------------------- #
# plain (JSON-able) configs


def to_plain(obj: Any, _where: str = "config") -> Any:
    """Convert a config to plain JSON types: dataclasses and mappings -> dict, tuples/lists/sets ->
    list, paths -> str, enums -> their value, numpy scalars -> Python numbers.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Cfg:
        ...     root: Path = Path("/data")
        ...     size: tuple = (128, 128)
        >>> to_plain(Cfg())
        {'root': '/data', 'size': [128, 128]}
    """
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, _where)
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    for plain_type in (bool, int, float, str):  # subclasses (numpy floats, TorchVersion...) -> base type
        if isinstance(obj, plain_type):
            return plain_type(obj)
    if isinstance(obj, PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            plain_key = to_plain(key, _where)
            if not isinstance(plain_key, (str, int, float, bool)) or plain_key is None:
                raise TypeError(f"{_where}: key {key!r} cannot be a JSON object key")
            plain_key = plain_key if isinstance(plain_key, str) else json.dumps(plain_key)
            out[plain_key] = to_plain(value, f"{_where}[{plain_key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, f"{_where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        items = [to_plain(v, f"{_where}[{i}]") for i, v in enumerate(obj)]
        try:
            return sorted(items)
        except TypeError:
            return items
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):  # numpy / torch scalars and arrays
        return to_plain(obj.tolist(), _where)
    raise TypeError(f"{_where} is a {type(obj).__module__}.{type(obj).__qualname__}, which has no plain JSON form")


def _check_plain(obj: Any, where: str) -> None:
    """Raise TypeError naming the key path of the first value that is not plain JSON."""
    if obj is None or type(obj) in (bool, int, float, str):
        return
    if type(obj) is dict:
        for key, value in obj.items():
            if type(key) is not str:
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}, JSON keys must be str; pass to_plain(config)")
            _check_plain(value, f"{where}[{key!r}]")
        return
    if type(obj) is list:
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, not a plain JSON type "
        "(dict/list/str/int/float/bool/None); pass to_plain(config)"
    )


_SAFE_TYPES = (torch.Tensor, torch.nn.Parameter, str, bytes, int, float, bool, complex, type(None), torch.Size,
               torch.dtype, torch.device)


def _check_loadable(obj: Any, where: str) -> None:
    """Raise TypeError when ``obj`` holds something weights_only loading would refuse."""
    if type(obj) in _SAFE_TYPES:
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            if type(key) not in (str, int, float, bool, tuple):
                raise TypeError(f"{where}: key {key!r} of type {type(key).__name__} cannot be loaded with weights_only=True")
            _check_loadable(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            _check_loadable(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, which torch.load(weights_only=True) "
        "refuses; store tensors, numbers, strings, lists and dicts only"
    )


# --------------------------------------------------------------------------------------------- #
# saving


def save_checkpoint(
    path: str | os.PathLike,
    *,
    kind: str,
    model: Mapping,
    ema: Mapping | None = None,
    optimizer: Mapping | None = None,
    scheduler: Mapping | None = None,
    step: int = 0,
    config: dict,
    vocabularies: Mapping[str, Any] | None = None,
    extra: Mapping | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, then ``os.replace``).

    Args:
        kind: what it is: ``"q"``, ``"legan"``, ``"stargan"``, ``"verifier"``, ``"expression"``...
        model, ema, optimizer, scheduler: one state_dict, or a dict of named state_dicts.
        config: plain JSON types only (pass ``to_plain(cfg)`` for dataclasses, paths, tuples); a
            TypeError names the offending key path.
        vocabularies: e.g. ``{"lighting": LIGHTING, "expression": EXPRESSIONS}``; stored as lists.
        extra: anything else ``weights_only`` can load (tensors, numbers, strings, lists, dicts).

    Returns the path written.

    Example:
        >>> save_checkpoint("out/legan.pt", kind="legan", step=5000, config=to_plain(cfg),
        ...     model={"generator": g.state_dict(), "discriminator": d.state_dict()},
        ...     optimizer={"generator": opt_g.state_dict(), "discriminator": opt_d.state_dict()})  # doctest: +SKIP
    """
    path = Path(path)
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"step must be an int, got {type(step).__name__}")
    if not isinstance(model, Mapping):
        raise TypeError(f"model must be a state_dict or a dict of state_dicts, got {type(model).__name__}")
    if type(config) is not dict:
        raise TypeError(f"config must be a dict, got {type(config).__name__}; pass to_plain(config)")
    _check_plain(config, "config")
    if vocabularies is not None:
        for name, values in vocabularies.items():
            if not isinstance(name, str) or not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                raise TypeError(f"vocabularies[{name!r}] must be a list or tuple of strings")
        vocabularies = {name: list(values) for name, values in vocabularies.items()}
    payload = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "toolkit_version": str(__version__),
        "torch_version": str(torch.__version__),  # TorchVersion is a str subclass weights_only refuses
        "step": int(step),
        "config": config,
        "vocabularies": vocabularies,
        "model": model,
        "ema": ema,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "extra": extra,
    }
    for name, value in payload.items():
        _check_loadable(value, name)
    with atomic_path(path, fsync=True) as tmp:
        torch.save(payload, tmp)
    return path


def save_config_json(path: str | os.PathLike, config: dict) -> Path:
    """Write a plain config as indented JSON, atomically (for trainers' run folders)."""
    path = Path(path)
    _check_plain(config, "config")
    text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, fsync=True)
    return path


# --------------------------------------------------------------------------------------------- #
# loading


def _first_line(e: BaseException) -> str:
    """First sentence of the first non-empty line (torch's messages run on for several)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    line = lines[0] if lines else type(e).__name__
    return line.split(". ")[0].rstrip(".")[:200]


def _safe_load(path: Path, map_location: Any, missing_reason: str) -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into a one-line CheckpointError."""
    if not path.exists():
        raise CheckpointError(path, missing_reason)
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "global" in text.lower():  # a GLOBAL opcode: a class or callable to import and call
            found = re.search(r"GLOBAL ([\w.]+)", text)
            detail = f" (GLOBAL {found.group(1)})" if found else ""
            raise CheckpointError(path, _REFUSED + detail) from None
        detail = next((ln.strip() for ln in text.splitlines() if "Unsupported" in ln), _first_line(e))
        raise CheckpointError(path, f"not a torch file, or corrupt ({detail[:200]})") from None
    except RuntimeError as e:
        if "device" in str(e).lower() or "cuda" in str(e).lower():
            raise CheckpointError(path, f"cannot load with map_location={map_location!r}: {_first_line(e)}") from None
        raise CheckpointError(path, f"not a torch file, or truncated/corrupt ({type(e).__name__}: {_first_line(e)})") from None
    except Exception as e:  # EOFError, KeyError, OSError... from a file that is not a whole torch file
        raise CheckpointError(path, f"not a torch file, or truncated/corrupt ({type(e).__name__}: {_first_line(e)})") from None


def load_checkpoint(path: str | os.PathLike, *, kind: str | None = None, map_location: Any = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True`` only.

    Raises:
        CheckpointError: missing file; not a torch file, truncated or corrupt; refused because it
            holds pickled code; not one of ours (a bare state_dict: use
            :func:`load_state_dict_file`); of another ``kind``; of a newer format.

    Example:
        >>> ckpt = load_checkpoint("runs/q/best.pt", kind="q")  # doctest: +SKIP
        >>> ckpt.step, ckpt.vocabularies["lighting"][:2]         # doctest: +SKIP
        (12000, ['ambient', 'flash01'])
    """
    path = Path(path)
    payload = _safe_load(path, map_location, "checkpoint not found")
    if not isinstance(payload, dict) or "kind" not in payload:
        raise CheckpointError(path, FOREIGN_CHECKPOINT)
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(path, f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"format_version {version} is newer than this toolkit reads ({FORMAT_VERSION}); "
            f"written by legan-augmenter {payload.get('toolkit_version', '?')}, upgrade to load it",
        )
    if kind is not None and payload["kind"] != kind:
        raise CheckpointError(path, f"is a {payload['kind']!r} checkpoint, expected {kind!r}")
    if not isinstance(payload.get("model"), dict):
        raise CheckpointError(path, "has no 'model' state_dict")
    return Checkpoint(
        kind=payload["kind"],
        model=payload["model"],
        ema=payload.get("ema"),
        optimizer=payload.get("optimizer"),
        scheduler=payload.get("scheduler"),
        step=int(payload.get("step", 0)),
        config=payload.get("config") or {},
        vocabularies=payload.get("vocabularies"),
        extra=payload.get("extra"),
        toolkit_version=str(payload.get("toolkit_version", "")),
        format_version=version,
        path=path,
        torch_version=str(payload.get("torch_version", "")),
    )


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def load_state_dict_file(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, torch.Tensor]:
    """Load a foreign weight file (LightCNN-29 v2, facenet-pytorch's vggface2 ``.pt``...) safely.

    Uses ``weights_only=True``; unwraps ``{"state_dict": ...}``, ``{"model": ...}`` and similar
    wrappers; strips a ``"module."`` prefix left by ``DataParallel``. Weights are never downloaded.

    Example:
        >>> sd = load_state_dict_file("weights/LightCNN_29Layers_V2_checkpoint.pth.tar")  # doctest: +SKIP
        >>> load_weights(lightcnn, sd, source="weights/LightCNN_29Layers_V2_checkpoint.pth.tar")  # doctest: +SKIP
    """
    path = Path(path)
    obj = _safe_load(path, map_location, _NOT_FOUND_WEIGHTS)
    if isinstance(obj, dict) and "kind" in obj and "format_version" in obj:  # one of ours
        obj = obj.get("model")
        if isinstance(obj, dict) and not _is_state_dict(obj):
            raise CheckpointError(
                path, f"holds several models ({', '.join(map(str, obj))}); use load_checkpoint and pick one"
            )
    for _ in range(4):  # wrappers may nest: {"model": {"state_dict": ...}}
        if _is_state_dict(obj) or not isinstance(obj, dict):
            break
        key = next((k for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if key is None:
            break
        obj = obj[key]
    if not _is_state_dict(obj):
        if isinstance(obj, dict):
            keys = ", ".join(map(repr, list(obj)[:8]))
            raise CheckpointError(path, f"no state_dict found (top-level keys: {keys})")
        raise CheckpointError(path, f"no state_dict found (the file holds a {type(obj).__name__})")
    if all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _listed(keys: list[str]) -> str:
    more = f", ... {len(keys) - _SHOW} more" if len(keys) > _SHOW else ""
    return ", ".join(keys[:_SHOW]) + more


def load_weights(
    module: torch.nn.Module,
    state_dict: Mapping[str, Any],
    *,
    source: str | os.PathLike,
    strict: bool = True,
):
    """``module.load_state_dict`` with a one-line :class:`CheckpointError` naming what differs.

    Shape mismatches are always an error; missing/unexpected keys only when ``strict``. Returns
    ``load_state_dict``'s result (missing and unexpected keys).

    Example:
        >>> load_weights(net, ckpt.model["generator"], source=ckpt.path)  # doctest: +SKIP
        CheckpointError: runs/legan.pt: does not fit Generator: 1 shape mismatch(es):
        conv1.weight: checkpoint (64, 3, 4, 4) vs model (32, 3, 4, 4)
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: checkpoint {_shape(v)} vs model {_shape(own[k])}"
        for k, v in state_dict.items()
        if k in own and isinstance(v, torch.Tensor) and isinstance(own[k], torch.Tensor) and v.shape != own[k].shape
    ]
    problems = []
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {_listed(mismatched)}")
    if strict and missing:
        problems.append(f"{len(missing)} missing key(s): {_listed(missing)}")
    if strict and unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}")
    if problems:
        raise CheckpointError(source, f"does not fit {type(module).__name__}: " + "; ".join(problems))
    try:
        return module.load_state_dict(state_dict, strict=strict)
    except RuntimeError as e:
        raise CheckpointError(source, f"does not fit {type(module).__name__}: {_first_line(e)}") from None


def check_resumable(saved: Mapping, now: Mapping, resumable: set[str], path: str | os.PathLike) -> None:
    """Refuse to resume a run whose settings changed, except the ``resumable`` ones (budget, workers...).

    ``saved`` is the training config stored in the checkpoint at ``path``, ``now`` the new one (plain
    dicts). A setting the checkpoint predates (missing from ``saved``) counts as unchanged when ``now``
    has it off (``None``, ``False``, ``0``, empty): new settings are added off, so a run started before
    one existed can still be resumed. Raises :class:`CheckpointError` naming the changed settings.
    """
    def differs(k: str) -> bool:
        return saved[k] != now[k] if k in saved else bool(now[k])

    changed = sorted(k for k in now if k not in resumable and differs(k))
    if changed:
        raise CheckpointError(path, f"was trained with other settings ({', '.join(changed)}); "
                                    "use another --out or the same settings to resume")
