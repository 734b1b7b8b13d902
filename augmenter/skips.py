"""Counting what a reader or batch job skipped, with examples, so nothing is dropped silently."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SkipReport:
    """Counts of skipped items by reason, with up to ``max_examples`` examples per reason.

    Example:
        >>> s = SkipReport()
        >>> s.add("bad bbox", "training.csv line 7: face_width=-3")
        >>> s.total, s.counts["bad bbox"]
        (1, 1)
    """

    max_examples: int = 5
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str) -> None:
        self.counts[reason] += 1
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < self.max_examples:
            bucket.append(example)

    def merge(self, other: "SkipReport") -> None:
        for reason, n in other.counts.items():
            self.counts[reason] += n
            bucket = self.examples.setdefault(reason, [])
            room = self.max_examples - len(bucket)
            bucket.extend(other.examples.get(reason, [])[: max(room, 0)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """Multi-line human summary; empty string when nothing was skipped."""
        if not self.total:
            return ""
        lines = [f"skipped {self.total} item(s):"]
        for reason, n in self.counts.most_common():
            lines.append(f"  {n} x {reason}, e.g. " + "; ".join(self.examples.get(reason, [])[:3]))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"total": self.total, "counts": dict(self.counts), "examples": self.examples}
