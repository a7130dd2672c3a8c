"""Governance pages: a version's lint findings, breaking changes and deprecations (with the owners'
deprecation form), and the organisation's scorecards by team."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.deps import get_session, get_settings_dep
from devhub.governance import scorecards, service
from devhub.governance.ruleset import from_settings
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.specs import service as specs
from devhub.specs.api import visible_api
from devhub.web import render

router = APIRouter(include_in_schema=False)
LEVEL_VARIANTS = {"error": "danger", "warning": "warning", "info": "info", "hint": "neutral"}


def _impact(session: Session, principal: Principal, entity, row) -> list | None:
    """The applications each breaking change hits: shown to the API's owners only (they name consumers)."""
    from devhub.governance.impact import impacts

    return impacts(session, row) if can(principal, "specs.publish", entity.owner_ref) else None


def _base(namespace: str, name: str, version: str) -> str:
    return f"/apis/{quote(namespace, safe='')}/{quote(name, safe='')}/v/{quote(version, safe='')}"


@router.get("/apis/{namespace}/{name}/v/{version}/governance", response_class=HTMLResponse)
def version_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    from_: str | None = Query(None, alias="from", max_length=64),
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
    error: str | None = None,
):
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.read")
    row = specs.get_version(session, entity.ref, version)
    ruleset = from_settings(settings)
    lint = service.lint_version(session, row, ruleset) if row.format == "openapi" else None
    base = (
        specs.get_version(session, entity.ref, from_) if from_ else service.previous_version(session, entity.ref, row)
    )
    comparison = service.compare_versions(session, base, row) if base is not None and base.id != row.id else None
    operations = specs.operations_of(session, row)
    return render(
        request,
        "governance/version.html",
        status_code=422 if error else 200,
        entity=entity,
        sv=row,
        docs_url=_base(entity.namespace, entity.name, row.version),
        lint=lint,
        lint_findings=service.findings_of(lint) if lint else [],
        threshold=ruleset.lint_threshold,
        base=base,
        comparison=comparison,
        changelog=comparison.changelog(row.title) if comparison else "",
        deprecations=service.deprecations(session, entity.ref, row.version),
        operations=operations,
        can_deprecate=can(principal, "governance.deprecate", entity.owner_ref),
        impact=_impact(session, principal, entity, row),
        variants=LEVEL_VARIANTS,
        error=error,
    )


@router.post("/apis/{namespace}/{name}/v/{version}/deprecation", response_class=HTMLResponse)
async def deprecation_submit(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    entity = visible_api(session, namespace, name, principal)
    require(principal, "governance.deprecate", entity.owner_ref)
    form = await request.form(max_fields=20, max_files=0)

    def field(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    row = specs.get_version(session, entity.ref, version)
    actor = get_actor(request, principal)
    try:
        if field("action") == "clear":
            service.undeprecate(session, row, operation=field("operation") or None, actor=actor)
        else:
            service.deprecate(
                session,
                row,
                operation=field("operation") or None,
                sunset=field("sunset") or None,
                reason=field("reason") or None,
                replacement=field("replacement") or None,
                actor=actor,
            )
    except Problem as exc:
        if exc.status not in (404, 422):
            raise
        return version_page(request, namespace, name, version, None, session, settings, principal, exc.detail)
    url = _base(entity.namespace, entity.name, row.version) + "/governance"
    return RedirectResponse(url, status_code=303)


@router.get("/governance/scorecards", response_class=HTMLResponse)
def scorecards_page(
    request: Request,
    owner: str | None = Query(None, max_length=300),
    kind: str | None = Query(None, max_length=32),
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    require(principal, "governance.read")
    cards = scorecards.entity_cards(session, principal, settings, owner=owner, kind=kind)
    return render(
        request,
        "governance/scorecards.html",
        cards=cards,
        teams=scorecards.by_team(cards),
        checks=scorecards.CHECKS,
        owner=owner or "",
        kind=kind or "",
    )
