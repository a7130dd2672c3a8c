"""Mergeable latency histograms: fixed log-scale bins, stored sparse (`{bin: count}`) with every bucket.

Why a fixed log-scale histogram and not a t-digest: roll-ups add minute buckets into hours and days, several
passes add into the same bucket, and dashboards add thousands of buckets together. Fixed bins merge by adding
counts, which is exact, commutative and associative, so a bucket's percentiles do not depend on the order or
grouping of merges (a t-digest's do), and a pass that is re-run produces the same bytes. Fixed bin bounds also
answer "how many calls took at most X ms" exactly up to one bin, which latency objectives need and a t-digest
only estimates. The bins grow by 4 % (the mapping of DDSketch), so any quantile is within 2 % of the true value
at every scale, from 10 µs to hours, in at most a few dozen occupied bins per bucket.

Why by hand: the `ddsketch` package has the same mapping, but its stores cannot be serialised except to
protobuf and it has no `count_at_most`; the whole mapping is the dozen lines below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GAMMA = 1.04
_LOG_GAMMA = math.log(GAMMA)
MIN_MS = 0.01  # everything at or below 10 µs shares the lowest bin
_MIN_BIN = math.ceil(math.log(MIN_MS) / _LOG_GAMMA)


def bin_of(ms: float) -> int:
    """The bin holding `ms`: bin i covers (GAMMA**(i-1), GAMMA**i] milliseconds."""
    if ms <= MIN_MS:
        return _MIN_BIN
    return math.ceil(math.log(ms) / _LOG_GAMMA - 1e-12)


def bin_value(index: int) -> float:
    """A bin's representative value: the point within 2 % of every value in the bin."""
    return 2 * GAMMA**index / (GAMMA + 1)


class Histogram:
    """Counts of calls per latency bin. Add calls with `add`, other histograms with `merge`."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts) if counts else {}

    def add(self, ms: float, n: int = 1) -> None:
        index = bin_of(ms)
        self.counts[index] = self.counts.get(index, 0) + n

    def merge(self, other: Histogram | Mapping) -> Histogram:
        """Add another histogram's counts to this one (a stored `{bin: count}` mapping works too)."""
        counts = self.counts
        items = other.counts.items() if isinstance(other, Histogram) else other.items()
        for index, n in items:
            index = int(index)
            counts[index] = counts.get(index, 0) + n
        return self

    @classmethod
    def merged(cls, parts: Iterable[Histogram | Mapping | None]) -> Histogram:
        result = cls()
        for part in parts:
            if part:
                result.merge(part)
        return result

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def count_at_most(self, ms: float) -> int:
        """Calls that took at most `ms` milliseconds: every call in the bins up to the one holding `ms`, so a
        call of exactly `ms` always counts and one up to 4 % slower may."""
        limit = bin_of(ms)
        return sum(n for index, n in self.counts.items() if index <= limit)

    def quantile(self, q: float) -> float | None:
        """The latency (ms) at quantile `q` (0..1), within 2 %; None without calls."""
        if not 0 <= q <= 1:
            raise ValueError("quantile must be between 0 and 1")
        total = self.count
        if total == 0:
            return None
        rank = q * (total - 1)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return round(bin_value(index), 3)
        return round(bin_value(max(self.counts)), 3)

    def to_json(self) -> dict[str, int]:
        """The stored form: bins as string keys (JSON objects have no integer keys)."""
        return {str(index): n for index, n in sorted(self.counts.items())}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Histogram) and self.counts == other.counts

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.quantile(0.5)})"
