"""Scorecards: pass/fail checks per catalog entity (Component, API, System), and the organisation by team.

Checks: an owner is set; a description; docs present (an API: a published definition; others: a
docs-as-code annotation or a guide); the API's latest definition lints at or above the ruleset's
`scorecards.lint_threshold`; an SLO defined; no dependency on something deprecated.

"SLO defined" passes when a measured objective exists (the `devhub.io/slo-availability` or
`devhub.io/slo-latency` annotation, or objectives set in the portal: `devhub.slo`) or when the free-text
annotation `devhub.io/slo` (a link or a short statement such as `99.9% availability over 28 days`) is present.
Only entities the viewer may see are scored or counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity, Relation
from devhub.docs.models import Guide
from devhub.governance.models import LintResult
from devhub.identity.policy import Principal, visible_entities
from devhub.slo.service import defined_refs as slo_defined_refs
from devhub.specs.models import SpecVersion

KINDS = ("component", "api", "system")
SLO_ANNOTATION = "devhub.io/slo"
TECHDOCS_ANNOTATION = "backstage.io/techdocs-ref"
DEPENDENCY_RELATIONS = ("consumesApi", "dependsOn")
MAX_ENTITIES = 5000
CHECKS = {
    "owner": "an owner team is set",
    "description": "the entity has a description",
    "docs": "docs are present (a published definition for an API, else techdocs or a guide)",
    "lint-score": "the latest definition's lint score is at or above the threshold",
    "slo": f"an SLO is defined (objectives set on its SLO page or by devhub.io/slo-* annotations, or {SLO_ANNOTATION})",
    "no-deprecated-dependencies": "no dependency on a deprecated entity or API",
}


@dataclass
class Check:
    id: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "passed": self.passed, "detail": self.detail, "description": CHECKS[self.id]}


@dataclass
class Card:
    ref: str
    kind: str
    name: str
    title: str
    owner: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "kind": self.kind,
            "title": self.title,
            "owner": self.owner,
            "passed": self.passed,
            "total": len(self.checks),
            "checks": [c.to_dict() for c in self.checks],
        }


def _annotations(entity: Entity) -> dict:
    metadata = (entity.body or {}).get("metadata") if isinstance(entity.body, dict) else None
    notes = (metadata or {}).get("annotations") if isinstance(metadata, dict) else None
    return notes if isinstance(notes, dict) else {}


def entity_cards(
    session: Session, viewer: Principal, settings: Any = None, *, owner: str | None = None, kind: str | None = None
) -> list[Card]:
    from devhub.governance.ruleset import from_settings

    threshold = from_settings(settings).lint_threshold
    kinds = [kind.lower()] if kind and kind.lower() in KINDS else list(KINDS)
    query = select(Entity).where(func.lower(Entity.kind).in_(kinds), visible_entities(viewer))
    if owner:
        ref = owner.lower() if ":" in owner else f"group:default/{owner.lower()}"
        query = query.where(Entity.owner_ref == ref)
    entities = list(session.scalars(query.order_by(Entity.owner_ref, Entity.sort_key).limit(MAX_ENTITIES)))
    refs = [e.ref for e in entities]
    latest = _latest_versions(session, [e.ref for e in entities if e.kind.lower() == "api"])
    scores = _scores(session, [v.id for v in latest.values()])
    guides = (
        set(session.scalars(select(Guide.entity_ref).where(Guide.entity_ref.in_(refs)).distinct())) if refs else set()
    )
    dependencies: dict[str, list[str]] = defaultdict(list)
    for source, target in (
        session.execute(
            select(Relation.source_ref, Relation.target_ref).where(
                Relation.source_ref.in_(refs), Relation.type.in_(DEPENDENCY_RELATIONS)
            )
        )
        if refs
        else ()
    ):
        dependencies[source].append(target)
    deprecated = _deprecated_targets(session, {t for targets in dependencies.values() for t in targets})
    measured = slo_defined_refs(session, [e for e in entities if e.kind.lower() in ("component", "api")])
    cards = []
    for entity in entities:
        kind_key = entity.kind.lower()
        notes = _annotations(entity)
        card = Card(entity.ref, entity.kind, entity.name, entity.display_name, entity.owner_ref)
        card.checks.append(Check("owner", bool(entity.owner_ref), entity.owner_ref or "no owner"))
        card.checks.append(Check("description", bool((entity.description or "").strip())))
        if kind_key == "api":
            version = latest.get(entity.ref)
            card.checks.append(Check("docs", version is not None, f"version {version.version}" if version else ""))
            score = scores.get(version.id) if version is not None else None
            detail = "not linted yet" if score is None else f"score {score} (threshold {threshold})"
            if version is not None and version.format != "openapi":
                card.checks.append(Check("lint-score", True, f"{version.format}: not linted"))
            else:
                card.checks.append(Check("lint-score", score is not None and score >= threshold, detail))
        else:
            has_docs = bool(notes.get(TECHDOCS_ANNOTATION)) or entity.ref in guides
            card.checks.append(Check("docs", has_docs))
        if kind_key in ("component", "api"):
            free_text = str(notes.get(SLO_ANNOTATION) or "").strip()
            detail = "objectives measured" if entity.ref in measured else free_text[:200]
            card.checks.append(Check("slo", entity.ref in measured or bool(free_text), detail))
        bad = sorted(t for t in dependencies.get(entity.ref, []) if t in deprecated)
        card.checks.append(Check("no-deprecated-dependencies", not bad, ", ".join(bad)))
        cards.append(card)
    return cards


def _latest_versions(session: Session, api_refs: list[str]) -> dict[str, SpecVersion]:
    if not api_refs:
        return {}
    rows = session.scalars(
        select(SpecVersion)
        .where(SpecVersion.api_ref.in_(api_refs), SpecVersion.lifecycle.not_in(("draft", "retired")))
        .order_by(SpecVersion.published_at, SpecVersion.id)
    )
    return {row.api_ref: row for row in rows}  # the last one wins: the newest


def _scores(session: Session, version_ids: list[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = session.execute(
        select(LintResult.version_id, LintResult.score).where(LintResult.version_id.in_(version_ids))
    )
    return {version_id: score for version_id, score in rows}


def _deprecated_targets(session: Session, refs: set[str]) -> set[str]:
    if not refs:
        return set()
    found = set(
        session.scalars(select(Entity.ref).where(Entity.ref.in_(refs), func.lower(Entity.lifecycle) == "deprecated"))
    )
    latest = _latest_versions(session, [r for r in refs if r.startswith("api:")])
    found.update(ref for ref, version in latest.items() if version.lifecycle == "deprecated")
    return found


def by_team(cards: list[Card]) -> list[dict[str, Any]]:
    """Per owner team: entities, checks passed out of checks run, and each check's pass count."""
    teams: dict[str, dict[str, Any]] = {}
    for card in cards:
        row = teams.setdefault(
            card.owner or "(no owner)",
            {"team": card.owner or "(no owner)", "entities": 0, "checks": 0, "passed": 0, "by_check": {}},
        )
        row["entities"] += 1
        for check in card.checks:
            row["checks"] += 1
            row["passed"] += check.passed
            tally = row["by_check"].setdefault(check.id, {"passed": 0, "total": 0})
            tally["total"] += 1
            tally["passed"] += check.passed
    for row in teams.values():
        row["percent"] = round(100 * row["passed"] / row["checks"]) if row["checks"] else 100
    return sorted(teams.values(), key=lambda r: (r["percent"], r["team"]))
