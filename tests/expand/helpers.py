"""The expand tests' shared settings: the tiny run every engine test starts from."""
from __future__ import annotations

from pathlib import Path

from augmenter.expand.config import ExpandConfig

Q_MIN = 0.92  # these tests use the demo Q (mechanics, not judgement); it scores the rendered sample's variants about 0.87-0.98: some kept, some rejected


def quiet(_: str) -> None:
    pass


def make_config(root: Path, out: Path, **kw) -> ExpandConfig:
    """The sample with its own demo models and no tear check (mechanics, not judgement), in-process decoding, CPU."""
    args = dict(dataset="sample", root=str(root), out=str(out), per_image=2, batch_size=2, q_min=Q_MIN, q="demo",
                legan="demo", tear_check="none", workers=0, writers=2, device="cpu")
    args.update(kw)
    return ExpandConfig(**args)
