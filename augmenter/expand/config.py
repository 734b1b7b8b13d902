"""The settings of one ``augment expand`` run, and which of them a resumed run may change."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from augmenter.attributes import RELIGHT_STYLES
from augmenter.datasets.registry import DATASETS
from augmenter.expand.plan import MODES

MIN_IMAGE_SIZE = 32
"""The smallest ``image_size`` (``--size``) of the variants, in px."""


@dataclass
class ExpandConfig:
    """Everything an expand run depends on; saved in ``<out>/.expand/run.json``
    (see :mod:`augmenter.expand.run_dir`).

    Keep rule: with ``keep_best`` the ``keep_best`` highest-scoring variants of each source are kept
    (``q_min`` is then not used); otherwise a variant is kept when ``q_score >= q_min``.
    ``batch_size`` counts source images per batch (the generator sees ``batch_size x per_image``
    images at once); it fixes the chunks, so it belongs to the run's identity.

    Sources: the training split only (and datasets without splits) unless ``include_eval_splits``;
    see :func:`augmenter.expand.sources.training_sources`.
    """

    dataset: str
    out: str
    root: str | None = None
    csv: str | None = None                  # AffectNet's file-list CSV
    per_image: int = 4
    mode: str = "both"                      # lighting | expression | both (joint edits)
    lighting: str = "all"                   # "all" or comma-separated names of the checkpoint's vocabulary
    expression: str = "all"
    expression_map: str | None = None       # "scream=surprise,...": the class of a target a class dataset lacks
    q_min: float = 0.6
    keep_best: int | None = None
    save_rejected: bool = False
    legan: str | None = None                # None: the built-in field generator; "demo": the demo LEGAN
    relight_style: str | None = None        # a name of RELIGHT_STYLES, for a fields generator; None: its own
    q: str | None = None                    # None: the built-in default Q
    tear_check: str | None = None           # None: the built-in tear check beside Q; "none": Q alone
    seed: int = 0
    batch_size: int = 16
    image_size: int | None = None           # variants' side in px; None = the generator's (fields: any size)
    min_size: int = 32                      # sources whose shorter side is smaller are skipped, counted
    limit: int | None = None                # first N sources only (trials)
    include_eval_splits: bool = False       # also expand validation/test sources (their variants must not train)
    report_sources: int = 48                # sources shown on report.html, spread evenly over the listing
    shard: int = 0
    shards: int = 1
    device: str = "auto"
    workers: int = 1                        # decoding processes
    writers: int = 2                        # encoding / writing threads
    dry_run: bool = False

    RUNTIME = ("out", "device", "workers", "writers", "dry_run", "shard", "shards")
    """Fields that do not change what a run produces (a shard is a slice of the same run)."""

    def __post_init__(self) -> None:
        """Refuse settings no run can use, with the message ``augment expand`` prints (a ValueError).

        Every setting a run saved in ``run.json`` passed these checks (the command line made them, or the
        run refused them before writing anything), so a resumed or merged run rebuilds its config unchanged.
        """
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.per_image < 1 or self.batch_size < 1 or (self.keep_best is not None and self.keep_best < 1):
            raise ValueError("--per-image, --batch-size and --keep-best must be at least 1")
        if self.image_size is not None and self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(f"--size must be at least {MIN_IMAGE_SIZE} px, not {self.image_size}")
        if self.relight_style not in (None, *RELIGHT_STYLES):
            raise ValueError(f"unknown --relight-style {self.relight_style!r}; expected one of {', '.join(RELIGHT_STYLES)}")
        if self.shards < 1 or not 0 <= self.shard < self.shards:
            raise ValueError(f"--shard '{self.shard}/{self.shards}': need 0 <= i < N")

    def identity(self) -> dict:
        """The settings two runs must share for one to resume or merge with the other."""
        return {k: v for k, v in asdict(self).items() if k not in self.RUNTIME}

    @property
    def part(self) -> str:
        """Name of this process's slice: ``all`` or ``shard-03-of-08``."""
        return "all" if self.shards == 1 else f"shard-{self.shard:02d}-of-{self.shards:02d}"

    @classmethod
    def from_dict(cls, data: dict) -> "ExpandConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
