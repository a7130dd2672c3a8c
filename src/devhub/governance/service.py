"""Governance logic on published versions: lint results, comparisons, the publish gate, deprecations.

No HTTP here. Visibility is the caller's job (routes check the API entity first, as `specs.api` does); the
functions take rows the caller may see. Versions are immutable, so a version's lint (under one ruleset) and
its comparison with the version it was gated against are computed once and stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.db import utcnow
from devhub.governance import diff as diff_engine
from devhub.governance import lint as lint_engine
from devhub.governance.findings import Finding, at_least, locate
from devhub.governance.models import BreakingFinding, Deprecation, LintResult
from devhub.governance.report import changelog
from devhub.governance.ruleset import Ruleset, from_settings
from devhub.problems import NotFound, Problem
from devhub.specs.models import SpecOperation, SpecVersion

MAX_STORED = 2000
PROBLEM_BREAKING = "https://devhub.dev/problems/breaking-change"


# --- lint -------------------------------------------------------------------------------------------------


def _locator_of(version: SpecVersion):
    """Lines for pointers of a stored version: from its original text when it was one file."""
    if version.original_files:
        return None
    from devhub.specs.limits import Limits
    from devhub.specs.parse import parse_source

    cache: dict[str, Any] = {}

    def locator(path):
        if "source" not in cache:
            name = "original.json" if (version.original_text or "").lstrip()[:1] in "{[" else "original.yaml"
            try:
                cache["source"] = parse_source(name, version.original_text or "", Limits(max_nodes=5_000_000))
            except Exception:
                cache["source"] = None
        source = cache["source"]
        return (None, None) if source is None else (None, source.line_of(path))

    return locator


def lint_version(session: Session, version: SpecVersion, ruleset: Ruleset, *, locator=None) -> LintResult:
    """The stored lint of a version under this ruleset, computed when missing or made under another one."""
    found = session.scalar(select(LintResult).where(LintResult.version_id == version.id))
    if found is not None and found.ruleset_hash == ruleset.hash:
        return found
    document = session.scalar(select(SpecVersion.bundled).where(SpecVersion.id == version.id))
    report = lint_engine.lint(document or {}, ruleset)
    findings = report.findings[:MAX_STORED]
    locate(findings, locator or _locator_of(version))
    tally = report.counts
    values = {
        "ruleset_hash": ruleset.hash,
        "score": report.score,
        "errors": tally["error"],
        "warnings": tally["warning"],
        "infos": tally["info"] + tally["hint"],
        "total": len(report.findings),
        "findings": [f.to_dict() for f in findings],
        "linted_at": utcnow(),
    }
    if found is None:
        found = LintResult(version_id=version.id, **values)
        session.add(found)
    else:
        for key, value in values.items():
            setattr(found, key, value)
    session.flush()
    return found


def findings_of(result: LintResult) -> list[Finding]:
    return [Finding(**item) for item in result.findings or []]


# --- comparing versions -----------------------------------------------------------------------------------


def sunsets_for(session: Session, version: SpecVersion) -> dict:
    """What the portal knows of the deprecations of `version`, keyed as `diff.diff` wants them."""
    rows = session.scalars(
        select(Deprecation).where(Deprecation.api_ref == version.api_ref, Deprecation.version == version.version)
    )
    known: dict = {}
    for row in rows:
        key = None if not row.anchor else (row.method, row.path)
        known[key] = diff_engine.Sunset(True, row.sunset_at.date() if row.sunset_at else None)
    if None not in known and version.lifecycle in ("deprecated", "retired"):
        known[None] = diff_engine.Sunset(True, version.sunset_at.date() if version.sunset_at else None)
    return known


@dataclass
class Comparison:
    old: SpecVersion
    new_version: str
    report: diff_engine.DiffReport
    findings: list[Finding] = field(default_factory=list)  # with the semantic-version check

    @property
    def breaking(self) -> list[Finding]:
        return at_least(self.findings, "error")

    def changelog(self, title: str) -> str:
        return changelog(self.findings, title=title, old_version=self.old.version, new_version=self.new_version)


def compare_documents(
    session: Session, old: SpecVersion, new_document: Any, new_version: str, *, today: date | None = None
) -> Comparison:
    old_document = session.scalar(select(SpecVersion.bundled).where(SpecVersion.id == old.id))
    report = diff_engine.diff(old_document or {}, new_document, sunsets=sunsets_for(session, old), today=today)
    findings = list(report.findings)
    findings[:0] = diff_engine.semver_findings(old.version, new_version, findings)
    return Comparison(old, new_version, report, findings)


def compare_versions(session: Session, old: SpecVersion, new: SpecVersion) -> Comparison:
    document = session.scalar(select(SpecVersion.bundled).where(SpecVersion.id == new.id))
    comparison = compare_documents(session, old, document or {}, new.version)
    locate(comparison.findings, _locator_of(new), _locator_of(old))
    return comparison


def previous_version(session: Session, api_ref: str, before: SpecVersion | None = None) -> SpecVersion | None:
    """The newest version published before `before` (or at all), drafts and retired ones left out."""
    query = select(SpecVersion).where(
        SpecVersion.api_ref == api_ref, SpecVersion.lifecycle.not_in(("draft", "retired"))
    )
    if before is not None:
        query = query.where(SpecVersion.id != before.id, SpecVersion.published_at <= before.published_at)
    return session.scalar(query.order_by(SpecVersion.published_at.desc(), SpecVersion.id.desc()).limit(1))


# --- the publish gate -------------------------------------------------------------------------------------


class BreakingChangeRefused(Problem):
    def __init__(self, api_ref: str, version: str, base: str, findings: list[Finding]) -> None:
        shown = "; ".join(f"{f.rule}: {f.message}" for f in findings[:3])
        more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
        super().__init__(
            409,
            "Breaking change refused",
            f"{version} of {api_ref} breaks clients of the stable version {base}: {shown}{more}. Publish it as a "
            "new major version, deprecate first, or publish with allow_breaking (--allow-breaking), which is "
            "audited.",
            type=PROBLEM_BREAKING,
            api=api_ref,
            version=version,
            base_version=base,
            findings=[f.to_dict() for f in findings[:200]],
        )
        self.findings = findings


@dataclass
class GateOutcome:
    base: SpecVersion | None
    comparison: Comparison | None
    allowed_by: str | None = None  # set when breaking findings were published anyway


def check_publish(
    session: Session,
    api_ref: str,
    version: str,
    lifecycle: str,
    prepared: Any,
    *,
    allow_breaking: bool = False,
    settings: Any = None,
    publisher: str = "unknown",
) -> GateOutcome:
    """Compare a definition about to be published with the API's latest version; refuse (409, with the
    findings) breaking changes to a protected (stable) version unless the policy or `allow_breaking` lets
    them through. Drafts are never gated."""
    ruleset = from_settings(settings)
    policy = ruleset.gate
    base = previous_version(session, api_ref)
    if base is None or base.version == version:
        return GateOutcome(base, None)
    comparison = compare_documents(session, base, prepared.document, version)
    if not comparison.report.supported:
        return GateOutcome(base, comparison)
    locate(comparison.findings, getattr(prepared.bundle, "locate", None))
    blocking = at_least(comparison.findings, policy.fail_on)
    if not blocking or lifecycle == "draft" or base.lifecycle not in policy.protected_lifecycles:
        return GateOutcome(base, comparison)
    old, new = diff_engine.parse_semver(base.version), diff_engine.parse_semver(version)
    if policy.allow_breaking_in_major and old and new and new[0] > old[0]:
        return GateOutcome(base, comparison)
    if allow_breaking or policy.allow_breaking:
        return GateOutcome(base, comparison, allowed_by=publisher if allow_breaking else "policy")
    raise BreakingChangeRefused(api_ref, version, base.version, blocking)


def record_publish(
    session: Session,
    row: SpecVersion,
    outcome: GateOutcome,
    *,
    actor: Actor | None = None,
    settings: Any = None,
    prepared: Any = None,
) -> None:
    """After a version is stored: lint it, keep its comparison findings (for changelogs and, later, impact)
    and audit a breaking change that was let through."""
    if row.format == "openapi":
        bundled = getattr(prepared, "bundle", None)
        lint_version(session, row, from_settings(settings), locator=getattr(bundled, "locate", None))
    comparison = outcome.comparison
    if comparison is not None and comparison.findings:
        session.execute(
            BreakingFinding.__table__.insert(),
            [
                {
                    "version_id": row.id,
                    "api_ref": row.api_ref,
                    "version": row.version,
                    "base_version": comparison.old.version,
                    "rule": f.rule,
                    "level": f.level,
                    "method": f.method,
                    "path": (f.path or None) and f.path[:2048],
                    "operation_id": (f.operation_id or None) and f.operation_id[:255],
                    "pointer": f.pointer[:2048],
                    "message": f.message,
                    "allowed_by": outcome.allowed_by if f.level == "error" else None,
                    "created_at": utcnow(),
                }
                for f in comparison.findings[:MAX_STORED]
            ],
        )
    if comparison is not None and comparison.breaking and settings is not None:
        from devhub.governance.impact import impacts, notify_affected

        session.flush()
        notify_affected(session, settings, row, impacts(session, row))
    if outcome.allowed_by and comparison is not None:
        breaking = comparison.breaking
        audit.record(
            session,
            actor or Actor(outcome.allowed_by),
            "specs.publish_breaking",
            f"{row.api_ref}@{row.version}",
            base_version=comparison.old.version,
            allowed_by=outcome.allowed_by,
            breaking=len(breaking),
            rules=sorted({f.rule for f in breaking})[:20],
        )
    session.flush()


def stored_findings(session: Session, version: SpecVersion) -> list[BreakingFinding]:
    return list(
        session.scalars(
            select(BreakingFinding).where(BreakingFinding.version_id == version.id).order_by(BreakingFinding.id)
        )
    )


# --- deprecations -----------------------------------------------------------------------------------------


def parse_sunset(value: Any) -> datetime | None:
    """A sunset date (YYYY-MM-DD) or date-time, as an aware UTC datetime; None for empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    try:
        text = str(value).strip().replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text) if "T" in text else datetime.combine(date.fromisoformat(text), time(0))
    except ValueError:
        raise Problem(422, "Invalid sunset", f"{value!r} is not a date: use YYYY-MM-DD") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_operation(session: Session, version: SpecVersion, operation: str) -> SpecOperation:
    """An operation of the version by anchor, operationId or `METHOD /path`."""
    rows = list(session.scalars(select(SpecOperation).where(SpecOperation.version_id == version.id)))
    method, _, path = operation.strip().partition(" ")
    for row in rows:
        if operation in (row.anchor, row.operation_id) or (
            path and row.method == method.lower() and row.path == path.strip()
        ):
            return row
    raise NotFound(f"{version.api_ref} {version.version} has no operation {operation!r}")


def deprecate(
    session: Session,
    version: SpecVersion,
    *,
    operation: str | None,
    sunset: Any,
    reason: str | None,
    replacement: str | None,
    actor: Actor,
) -> Deprecation:
    """Deprecate a version (operation None) or one of its operations, with an optional sunset date. A
    version's deprecation also moves its lifecycle to deprecated (and sets its sunset), as the docs show."""
    sunset_at = parse_sunset(sunset)
    op = find_operation(session, version, operation) if operation else None
    anchor = op.anchor if op else ""
    row = session.scalar(
        select(Deprecation).where(
            Deprecation.api_ref == version.api_ref, Deprecation.version == version.version, Deprecation.anchor == anchor
        )
    )
    if row is None:
        row = Deprecation(api_ref=version.api_ref, version=version.version, anchor=anchor, deprecated_at=utcnow())
        session.add(row)
    row.method, row.path, row.operation_id = (op.method, op.path, op.operation_id) if op else (None, None, None)
    row.sunset_at = sunset_at
    row.reason = (reason or "").strip()[:4000] or None
    row.replacement = (replacement or "").strip()[:1024] or None
    row.created_by = actor.name[:255]
    if op is None:
        version.sunset_at = sunset_at
        if version.lifecycle not in ("deprecated", "retired"):
            version.lifecycle = "deprecated"
    session.flush()
    target = f"{version.api_ref}@{version.version}" + (f" {op.method.upper()} {op.path}" if op else "")
    audit.record(
        session, actor, "governance.deprecate", target, sunset=sunset_at.date().isoformat() if sunset_at else None
    )
    return row


def undeprecate(session: Session, version: SpecVersion, *, operation: str | None, actor: Actor) -> None:
    op = find_operation(session, version, operation) if operation else None
    anchor = op.anchor if op else ""
    session.execute(
        delete(Deprecation).where(
            Deprecation.api_ref == version.api_ref, Deprecation.version == version.version, Deprecation.anchor == anchor
        )
    )
    if op is None and version.lifecycle == "deprecated":
        version.lifecycle = "stable"
        version.sunset_at = None
    session.flush()
    target = f"{version.api_ref}@{version.version}" + (f" {op.method.upper()} {op.path}" if op else "")
    audit.record(session, actor, "governance.undeprecate", target)


def deprecations(session: Session, api_ref: str, version: str | None = None) -> list[Deprecation]:
    query = select(Deprecation).where(Deprecation.api_ref == api_ref)
    if version is not None:
        query = query.where(Deprecation.version == version)
    return list(session.scalars(query.order_by(Deprecation.version, Deprecation.anchor)))


def deprecation_headers(version_deprecation: Any | None, operation_deprecation: Any | None = None) -> dict[str, str]:
    """The `Deprecation` (RFC 9745: `@<unix time>`) and `Sunset` (RFC 8594: an HTTP date) headers for a call
    to an operation, from its deprecation and its version's (each with `deprecated_at` and `sunset_at`;
    rows or anything shaped like them). The operation's wins; the earlier sunset of the two is announced.
    A pure function: the gateway will call it with the rows it has cached."""
    chosen = [d for d in (operation_deprecation, version_deprecation) if d is not None]
    if not chosen:
        return {}
    headers: dict[str, str] = {}
    since = chosen[0].deprecated_at
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        headers["Deprecation"] = f"@{int(since.timestamp())}"
    sunsets = [d.sunset_at for d in chosen if d.sunset_at is not None]
    if sunsets:
        sunset = min(s if s.tzinfo else s.replace(tzinfo=UTC) for s in sunsets)
        headers["Sunset"] = format_datetime(sunset.astimezone(UTC), usegmt=True)
    return headers


def headers_for(session: Session, api_ref: str, version: str, method: str, path: str) -> dict[str, str]:
    """`deprecation_headers` for (api, version, operation), reading the deprecations from the database."""
    rows = deprecations(session, api_ref, version)
    whole = next((r for r in rows if not r.anchor), None)
    op = next((r for r in rows if r.anchor and r.method == method.lower() and r.path == path), None)
    return deprecation_headers(whole, op)
