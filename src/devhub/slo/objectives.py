"""An API's objectives: read from its catalog annotations and from what its owners set in the portal.

Annotations (in catalog-info.yaml, `metadata.annotations`):

    devhub.io/slo-availability: "99.9"          # percent of calls not answered 5xx
    devhub.io/slo-latency: "p99 < 300ms"        # 99 % of calls within 300 ms ("99% < 0.3s" works too)
    devhub.io/slo-window: "28d"                 # the rolling window, in days (default 28)
    devhub.io/slo-environment: "production"     # which calls count: production (default), sandbox or all

The portal setting wins, field by field: an owner who sets the availability target in the portal overrides
the annotation's until they clear it, and the fields they leave empty still come from the annotations.
The portal is where owners react (tighten after an incident, relax during a migration) without waiting for
a catalog refresh; the annotation remains the default kept with the code. Unreadable annotations are
reported (page and API) and ignored, never guessed.

This module is pure: no database, no HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ANNOTATION_PREFIX = "devhub.io/slo-"
AVAILABILITY_ANNOTATION = "devhub.io/slo-availability"
LATENCY_ANNOTATION = "devhub.io/slo-latency"
WINDOW_ANNOTATION = "devhub.io/slo-window"
ENVIRONMENT_ANNOTATION = "devhub.io/slo-environment"
FREE_TEXT_ANNOTATION = "devhub.io/slo"  # a link or a statement, read by governance scorecards

AVAILABILITY, LATENCY = "availability", "latency"
KINDS = (AVAILABILITY, LATENCY)
ENVIRONMENTS = ("production", "sandbox", "all")
DEFAULT_WINDOW_DAYS = 28
MAX_WINDOW_DAYS = 90
DEFAULT_ENVIRONMENT = "production"
MAX_LATENCY_MS = 600_000.0
PORTAL, ANNOTATION, DEFAULT = "portal", "annotation", "default"

_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$")
_LATENCY = re.compile(
    r"^\s*(?:p(?P<p>\d{1,3}(?:\.\d+)?)|(?P<pct>\d{1,3}(?:\.\d+)?)\s*%)\s*(?:<=|<|≤)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s)\s*$",
    re.IGNORECASE,
)
_WINDOW = re.compile(r"^\s*(\d{1,3})\s*d?\s*$", re.IGNORECASE)


class ObjectiveError(ValueError):
    """A target, latency or window that cannot be an objective; the message says what would be."""


@dataclass(frozen=True)
class Objective:
    kind: str  # availability | latency
    target: float  # percent of calls that must be good
    latency_ms: float | None  # latency objectives: a good call takes at most this long
    source: str  # portal | annotation

    @property
    def budget(self) -> float:
        """The error budget: the fraction of calls that may be bad."""
        return 1 - self.target / 100

    def describe(self) -> str:
        if self.kind == AVAILABILITY:
            return f"{self.target:g}% of calls not 5xx"
        return f"{self.target:g}% of calls within {self.latency_ms:g} ms"


@dataclass(frozen=True)
class Spec:
    """What is in force for one API: its objectives, window and environment, with where each came from."""

    api_ref: str
    objectives: tuple[Objective, ...]
    window_days: int
    window_source: str
    environment: str
    environment_source: str
    webhook_url: str | None = None
    free_text: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def defined(self) -> bool:
        return bool(self.objectives)

    def objective(self, kind: str) -> Objective | None:
        return next((o for o in self.objectives if o.kind == kind), None)


def check_target(value: float) -> float:
    if not 0 < value < 100:
        raise ObjectiveError(f"a target is a percentage above 0 and under 100, not {value:g}")
    return value


def check_latency_ms(value: float) -> float:
    if not 0 < value <= MAX_LATENCY_MS:
        raise ObjectiveError(f"a latency threshold is between 0 and {MAX_LATENCY_MS:g} ms, not {value:g}")
    return value


def check_window(days: int) -> int:
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ObjectiveError(f"the window is 1 to {MAX_WINDOW_DAYS} days, not {days}")
    return days


def check_environment(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise ObjectiveError(f"the environment is one of {', '.join(ENVIRONMENTS)}, not {value!r}")
    return value


def parse_availability(text: str) -> float:
    """`99.9` or `99.9%`: the percentage of calls that must not be answered 5xx."""
    match = _PERCENT.match(str(text))
    if not match:
        raise ObjectiveError(f"{text!r} is not a percentage such as 99.9")
    return check_target(float(match.group(1)))


def parse_latency(text: str) -> tuple[float, float]:
    """`p99 < 300ms`, `p99.9 <= 1s` or `99% < 300ms`: (percent of calls, milliseconds)."""
    match = _LATENCY.match(str(text))
    if not match:
        raise ObjectiveError(f"{text!r} is not a latency objective such as 'p99 < 300ms'")
    target = check_target(float(match.group("p") or match.group("pct")))
    value = float(match.group("value")) * (1000 if match.group("unit").lower() == "s" else 1)
    return target, check_latency_ms(value)


def parse_window(text: str) -> int:
    """`28d` or `28`: days."""
    match = _WINDOW.match(str(text))
    if not match:
        raise ObjectiveError(f"{text!r} is not a number of days such as 28d")
    return check_window(int(match.group(1)))


def format_latency(target: float, latency_ms: float) -> str:
    return f"p{target:g} < {latency_ms:g}ms"


def annotations_of(body: Any) -> dict[str, Any]:
    metadata = body.get("metadata") if isinstance(body, dict) else None
    notes = metadata.get("annotations") if isinstance(metadata, dict) else None
    return notes if isinstance(notes, dict) else {}


def _read(notes: dict[str, Any], key: str, parse, problems: list[str]):
    raw = notes.get(key)
    if raw is None or not str(raw).strip():
        return None
    try:
        return parse(str(raw))
    except ObjectiveError as exc:
        problems.append(f"annotation {key}: {exc}; ignored")
        return None


def resolve(api_ref: str, annotations: dict[str, Any], portal: Any | None = None) -> Spec:
    """The spec in force: each field from the portal settings (an `SloSettings` row) when set, else from the
    annotations, else the default."""
    problems: list[str] = []
    objectives: list[Objective] = []
    portal_availability = getattr(portal, "availability_target", None)
    if portal_availability is not None:
        objectives.append(Objective(AVAILABILITY, portal_availability, None, PORTAL))
    elif (target := _read(annotations, AVAILABILITY_ANNOTATION, parse_availability, problems)) is not None:
        objectives.append(Objective(AVAILABILITY, target, None, ANNOTATION))
    portal_latency = getattr(portal, "latency_target", None), getattr(portal, "latency_ms", None)
    if None not in portal_latency:
        objectives.append(Objective(LATENCY, portal_latency[0], portal_latency[1], PORTAL))
    elif (latency := _read(annotations, LATENCY_ANNOTATION, parse_latency, problems)) is not None:
        objectives.append(Objective(LATENCY, latency[0], latency[1], ANNOTATION))
    window, window_source = _field(portal, "window_days", annotations, WINDOW_ANNOTATION, parse_window, problems)
    environment, environment_source = _field(
        portal, "environment", annotations, ENVIRONMENT_ANNOTATION, lambda t: check_environment(t.strip()), problems
    )
    free_text = str(annotations.get(FREE_TEXT_ANNOTATION) or "").strip() or None
    return Spec(
        api_ref=api_ref,
        objectives=tuple(objectives),
        window_days=window if window is not None else DEFAULT_WINDOW_DAYS,
        window_source=window_source,
        environment=environment if environment is not None else DEFAULT_ENVIRONMENT,
        environment_source=environment_source,
        webhook_url=getattr(portal, "webhook_url", None),
        free_text=free_text,
        problems=tuple(problems),
    )


def _field(portal: Any, attribute: str, annotations: dict, key: str, parse, problems: list[str]) -> tuple[Any, str]:
    value = getattr(portal, attribute, None)
    if value is not None:
        return value, PORTAL
    value = _read(annotations, key, parse, problems)
    return (value, ANNOTATION) if value is not None else (None, DEFAULT)
