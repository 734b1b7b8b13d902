"""Settings of one ``rebalance-affectnet`` run (saved as ``OUT/config.json``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from augmenter.datasets.registry import DATASETS


@dataclass
class RebalanceConfig:
    """Everything a rebalancing run depends on.

    ``target``: ``uniform`` (every class up to the largest class's count, so the classes end uniform and no
    real image is dropped), ``mean`` (every class up to the mean count), an integer N (every class up to
    N), or per-class counts ``disgust=3000,fear=5000`` (other classes untouched).
    ``budget``: at most ``budget x needed`` generation attempts per class (over-generation covers what Q
    and the expression judge reject); ``max_uses``: each source image is translated at most this many
    times over the whole run, so the synthetic faces of a class come from many different people.
    ``verify_expression``: ``None`` = on when ``expression_model`` is given.
    """

    dataset: str                          # affectnet | fer2013 | folder | class-folder
    root: str
    out: str
    csv: str | None = None                # AffectNet's training.csv when not at its default place
    target: str = "uniform"
    legan: str | None = None              # None: the built-in field generator
    q: str | None = None                  # None: the built-in demo Q
    q_min: float = 0.6
    expression_model: str | None = None   # train-expression checkpoint that judges the synthesized expression
    verify_expression: bool | None = None
    budget: float = 4.0
    max_uses: int = 3
    max_rounds: int = 8
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"
    report_examples: int = 8              # kept (and rejected) examples per class on report.html
    train: dict = field(default_factory=dict)  # compare settings when --train (epochs, remedies, ...)

    def __post_init__(self) -> None:
        # any dataset the toolkit reads (rebalance-affectnet's --dataset offers those with expression classes)
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}")

    @property
    def verify(self) -> bool:
        return bool(self.expression_model) if self.verify_expression is None else self.verify_expression

    def identity(self) -> dict:
        """Settings a resumed run must share (what it synthesizes depends on them)."""
        skip = {"out", "device", "report_examples", "train"}
        return {k: v for k, v in asdict(self).items() if k not in skip}
