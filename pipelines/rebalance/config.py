"""Settings of one ``rebalance-affectnet`` run (saved as ``OUT/config.json``)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from augmenter.attributes import light_direction
from augmenter.datasets.registry import DATASETS

EDITS = ("expression", "lighting")
MAX_AZIMUTH = 70.0


def comma_names(text: str) -> list[str]:
    """``"a, b,,a"`` -> ``["a", "b"]``: the names of a comma-separated option, blanks and repeats left out."""
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def default_lights(names: Sequence[str]) -> list[str]:
    """The lights lighting rebalancing uses by default: within ``MAX_AZIMUTH`` degrees of azimuth, not from
    below, the frontal light left out. Harsher relights of photos from other cameras are the ones the
    default Q refuses most (docs/generator.md) and a frontal relight of a frontally lit photo adds little.

    Example:
        >>> default_lights(["az+000_el+00", "az-050_el+00", "az+095_el+00", "az+060_el-20", "az+000_el+45"])
        ['az-050_el+00', 'az+000_el+45']
    """
    chosen = []
    for name in names:
        direction = light_direction(name)
        if direction is None or direction == (0.0, 0.0):
            continue
        azimuth, elevation = direction
        if abs(azimuth) <= MAX_AZIMUTH and elevation >= 0:
            chosen.append(name)
    return chosen


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
    ``edit``: ``lighting`` (the default: the class's *own* training faces under new lights, expression kept;
    a synthetic face's label cannot be wrong, which a translation that does not take makes it) or
    ``expression`` (the paper's: other classes' training faces translated to the class's expression).
    Why lighting is the default: on aligned FER-2013 (docs/pipelines.md) the paper's expression edits with
    the sampler scored (seed 0) 4.9 points of balanced accuracy below the sampler alone, the class's own
    faces relit at a quarter of its draws (3 seeds) 0.3 below it, level within noise, and 4 above no remedy. In lighting
    mode each source gets each light at most once and ``max_uses`` does not apply; ``lights`` (comma-
    separated names) defaults to :func:`default_lights`. ``sources`` (expression mode; comma-separated class
    names, e.g. ``neutral``): only those classes' training images are translated. The generator's expressions are
    written as changes from a neutral face, so a neutral face edited to disgust shows disgust alone, where a happy
    or an angry face edited to it keeps some of its own expression under the new label.
    """

    dataset: str                          # affectnet | fer2013 | folder | class-folder
    root: str
    out: str
    csv: str | None = None                # AffectNet's training.csv when not at its default place
    target: str = "uniform"
    legan: str | None = None              # None: the built-in field generator
    q: str | None = None                  # None: the built-in default Q
    tear_check: str | None = None         # None: the built-in tear check beside Q; "none": Q alone
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
    edit: str = "lighting"                # lighting | expression (the paper's)
    lights: str | None = None             # lighting mode: comma-separated light names (None: default_lights)
    sources: str | None = None            # expression mode: comma-separated source classes (None: every other class)
    train: dict = field(default_factory=dict)  # compare settings when --train (epochs, remedies, ...)

    def __post_init__(self) -> None:
        # any dataset the toolkit reads (rebalance-affectnet's --dataset offers those with expression classes)
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of {', '.join(DATASETS)}")
        if self.edit not in EDITS:
            raise ValueError(f"unknown edit {self.edit!r}; expected one of {', '.join(EDITS)}")
        if self.lights is not None and self.edit != "lighting":
            raise ValueError("lights are chosen for edit 'lighting' only")
        if self.sources is not None and self.edit != "expression":
            raise ValueError("source classes are chosen for edit 'expression' only")
        if self.sources is not None and not self.source_classes():
            raise ValueError(f"no source class in {self.sources!r}")

    def source_classes(self) -> list[str] | None:
        """``sources`` as a list (``None``: expression edits start from every other class's images)."""
        if self.sources is None:
            return None
        return comma_names(self.sources)

    @property
    def verify(self) -> bool:
        return bool(self.expression_model) if self.verify_expression is None else self.verify_expression

    def identity(self) -> dict:
        """Settings a resumed run must share (what it synthesizes depends on them)."""
        skip = {"out", "device", "report_examples", "train"}
        if self.edit == "expression":  # settings that came later, left out so that older runs still resume
            skip |= {"edit", "lights"} | ({"sources"} if self.sources is None else set())
        return {k: v for k, v in asdict(self).items() if k not in skip}
