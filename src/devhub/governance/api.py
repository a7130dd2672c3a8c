"""Governance JSON API: lint findings and breaking changes of a version, deprecations, scorecards.

Everything about an API answers 404 to those who may not see the API (the same as a missing one), so a
private API's findings never leak.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from devhub.deps import get_session, get_settings_dep
from devhub.governance import scorecards, service
from devhub.governance.ruleset import from_settings
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, require
from devhub.settings import Settings
from devhub.specs import service as specs
from devhub.specs.api import visible_api

router = APIRouter(prefix="/api/v1", tags=["governance"])


class DeprecationIn(BaseModel):
    operation: str | None = Field(
        None, max_length=2100, description="One operation (anchor, operationId or `GET /path`); none: the version."
    )
    sunset: str | None = Field(None, max_length=40, description="The sunset date, YYYY-MM-DD.")
    reason: str | None = Field(None, max_length=4000)
    replacement: str | None = Field(None, max_length=1024, description="A link to, or the name of, the successor.")


class DeprecationOut(BaseModel):
    version: str
    operation: str | None
    operation_id: str | None
    deprecated_at: datetime
    sunset_at: datetime | None
    reason: str | None
    replacement: str | None
    headers: dict[str, str] = Field(description="The Deprecation and Sunset headers the gateway will send.")

    @classmethod
    def of(cls, row) -> DeprecationOut:
        operation = f"{row.method.upper()} {row.path}" if row.anchor and row.method else None
        return cls(
            version=row.version,
            operation=operation,
            operation_id=row.operation_id,
            deprecated_at=row.deprecated_at,
            sunset_at=row.sunset_at,
            reason=row.reason,
            replacement=row.replacement,
            headers=service.deprecation_headers(None, row),
        )


@router.get(
    "/apis/{namespace}/{name}/versions/{version}/lint",
    summary="Lint findings of a version (built-in spectral:oas rules and the organisation's) and its score",
)
def version_lint(
    namespace: str,
    name: str,
    version: str,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> dict[str, Any]:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.read")
    row = specs.get_version(session, entity.ref, version)
    result = service.lint_version(session, row, from_settings(settings))
    return {
        "api": entity.ref,
        "version": row.version,
        "score": result.score,
        "counts": {"error": result.errors, "warning": result.warnings, "info": result.infos},
        "total": result.total,
        "findings": result.findings,
    }


@router.get(
    "/apis/{namespace}/{name}/versions/{version}/impact",
    summary="For each breaking change of a version, the applications that called it in the last 30 days (owners)",
)
def version_impact(
    namespace: str,
    name: str,
    version: str,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> dict[str, Any]:
    from devhub.governance.impact import IMPACT_DAYS, impacts, operation_keys

    entity = visible_api(session, namespace, name, principal)
    require(principal, "specs.publish", entity.owner_ref)  # consumers' applications: the API's owners only
    row = specs.get_version(session, entity.ref, version)
    return {
        "api": entity.ref,
        "version": row.version,
        "days": IMPACT_DAYS,
        "findings": [
            {
                "rule": item.finding.rule,
                "message": item.finding.message,
                "operation": " / ".join(operation_keys(item.finding)) or None,
                "applications": [{"id": app.uid, "name": app.name} for app in item.applications],
            }
            for item in impacts(session, row)
        ],
    }


@router.get(
    "/apis/{namespace}/{name}/versions/{version}/breaking-changes",
    summary="What changed since another version (default: the one before), with levels, and the changelog",
)
def version_changes(
    namespace: str,
    name: str,
    version: str,
    from_: str | None = Query(None, alias="from", max_length=64, description="The earlier version."),
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> dict[str, Any]:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.read")
    row = specs.get_version(session, entity.ref, version)
    base = (
        specs.get_version(session, entity.ref, from_) if from_ else service.previous_version(session, entity.ref, row)
    )
    if base is None:
        return {"api": entity.ref, "version": row.version, "base_version": None, "findings": [], "changelog": ""}
    comparison = service.compare_versions(session, base, row)
    return {
        "api": entity.ref,
        "version": row.version,
        "base_version": base.version,
        "supported": comparison.report.supported,
        "breaking": len(comparison.breaking),
        "findings": [f.to_dict() for f in comparison.findings],
        "changelog": comparison.changelog(row.title),
    }


@router.get("/apis/{namespace}/{name}/deprecations", summary="Deprecated versions and operations of an API")
def list_deprecations(
    namespace: str,
    name: str,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> list[DeprecationOut]:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.read")
    return [DeprecationOut.of(row) for row in service.deprecations(session, entity.ref)]


@router.put(
    "/apis/{namespace}/{name}/versions/{version}/deprecation",
    summary="Deprecate a version, or one of its operations, with a sunset date (audited)",
)
def put_deprecation(
    namespace: str,
    name: str,
    version: str,
    body: DeprecationIn,
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> DeprecationOut:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.deprecate", entity.owner_ref)
    row = specs.get_version(session, entity.ref, version)
    found = service.deprecate(
        session,
        row,
        operation=body.operation,
        sunset=body.sunset,
        reason=body.reason,
        replacement=body.replacement,
        actor=get_actor(request, principal),
    )
    return DeprecationOut.of(found)


@router.delete(
    "/apis/{namespace}/{name}/versions/{version}/deprecation",
    summary="Withdraw the deprecation of a version or of one operation (audited)",
    status_code=204,
)
def delete_deprecation(
    namespace: str,
    name: str,
    version: str,
    request: Request,
    operation: str | None = Query(None, max_length=2100),
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> Response:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.deprecate", entity.owner_ref)
    row = specs.get_version(session, entity.ref, version)
    service.undeprecate(session, row, operation=operation, actor=get_actor(request, principal))
    return Response(status_code=204)


@router.get("/governance/scorecards", summary="Scorecards of components, APIs and systems, and the view by team")
def get_scorecards(
    owner: str | None = Query(None, max_length=300, description="Only this owner team."),
    kind: str | None = Query(None, max_length=32, description="component, api or system."),
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> dict[str, Any]:
    require(principal, "governance.read")
    cards = scorecards.entity_cards(session, principal, settings, owner=owner, kind=kind)
    return {"teams": scorecards.by_team(cards), "entities": [card.to_dict() for card in cards]}


@router.get("/governance/ruleset", summary="The lint rules in force, their levels, and the publish gate policy")
def get_ruleset(
    settings: Settings = Depends(get_settings_dep), principal: Principal = Depends(get_principal)
) -> dict[str, Any]:
    require(principal, "governance.read")
    ruleset = from_settings(settings)
    gate = ruleset.gate
    return {
        "rules": ruleset.describe(),
        "gate": {
            "fail_on": gate.fail_on,
            "allow_breaking": gate.allow_breaking,
            "allow_breaking_in_major": gate.allow_breaking_in_major,
            "protected_lifecycles": list(gate.protected_lifecycles),
        },
        "scorecards": {"lint_threshold": ruleset.lint_threshold},
    }
