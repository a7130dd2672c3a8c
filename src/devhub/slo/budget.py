"""Error-budget arithmetic, as in the Google SRE workbook ("Alerting on SLOs"): pure functions of counts.

- The error budget of an objective is the fraction of calls allowed to be bad: 1 - target (99.9 % → 0.1 %).
- Compliance over a window is the fraction of good calls in it.
- Budget left is 1 - (bad fraction / budget): 100 % with no bad calls, 0 % when exactly the budget is spent,
  negative once the objective is missed.
- The burn rate over a window is bad fraction / budget: 1 spends the budget exactly over the SLO window,
  2 spends it in half the time.
- Multi-window alert: fire while the burn rate exceeds the threshold over both the long (6 h) and the short
  (1 h) window. The long window keeps a short spike from firing; the short one makes the alert resolve soon
  after the burning stops instead of hours later.

A window without calls spends nothing: compliance is unknown (None), budget left 100 %, burn rate 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from devhub.slo.objectives import AVAILABILITY, Objective

SHORT_WINDOW = timedelta(hours=1)
LONG_WINDOW = timedelta(hours=6)


class Histogram(Protocol):
    def count_at_most(self, ms: float) -> int: ...


class WindowStats(Protocol):
    """What `devhub.analytics.service.api_window` answers for an API over a time range."""

    calls: int
    server_errors: int
    latency: Histogram


@dataclass(frozen=True)
class Tally:
    """Calls in a window, and how many of them were bad for one objective."""

    calls: int
    bad: int

    @property
    def bad_fraction(self) -> float:
        return self.bad / self.calls if self.calls else 0.0


def tally(objective: Objective, stats: WindowStats) -> Tally:
    """Bad calls: answered 5xx (availability), or slower than the threshold (latency)."""
    calls = int(stats.calls or 0)
    if objective.kind == AVAILABILITY:
        bad = int(stats.server_errors or 0)
    else:
        bad = calls - int(stats.latency.count_at_most(objective.latency_ms or 0.0))
    return Tally(calls, min(max(bad, 0), calls))


def compliance(counts: Tally) -> float | None:
    """Percent of good calls, or None when there were none."""
    return 100 * (1 - counts.bad_fraction) if counts.calls else None


def budget_left(objective: Objective, counts: Tally) -> float:
    """Percent of the error budget not spent yet (negative once the objective is missed)."""
    return 100 * (1 - burn_rate(objective, counts))


def burn_rate(objective: Objective, counts: Tally) -> float:
    return counts.bad_fraction / objective.budget


def firing(burn_short: float, burn_long: float, threshold: float) -> bool:
    return burn_short > threshold and burn_long > threshold
