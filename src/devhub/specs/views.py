"""Definition pages: the versions of an API, and the form that publishes one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import PageRequest
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.specs import service
from devhub.specs.api import publisher_name, visible_api
from devhub.specs.errors import SpecError, SpecInvalid
from devhub.specs.limits import Limits
from devhub.specs.models import LIFECYCLES
from devhub.specs.schemas import api_base, version_urls
from devhub.specs.upload import files_from_upload, read_form
from devhub.web import render

router = APIRouter(include_in_schema=False)

LIFECYCLE_HELP = {
    "draft": "work in progress; not shown as the latest version",
    "beta": "usable, may still change",
    "stable": "supported; the default",
    "deprecated": "still works, will be retired",
    "retired": "switched off; kept for the record",
}
LIFECYCLE_VARIANTS = {"draft": "neutral", "beta": "warning", "stable": "success", "deprecated": "danger"}


@router.get("/apis/{namespace}/{name}/versions", response_class=HTMLResponse)
def versions_page(
    request: Request,
    namespace: str,
    name: str,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
):
    entity = visible_api(session, namespace, name, principal)
    versions = service.list_versions(session, entity.ref, page)
    latest = service.latest_version(session, entity.ref)
    return render(
        request,
        "specs/versions.html",
        entity=entity,
        page=versions,
        latest=latest,
        urls={v.version: version_urls(v.api_ref, v.version) for v in versions.items},
        api_url=api_base(entity.ref),
        can_publish=can(principal, "specs.publish", entity.owner_ref),
        variants=LIFECYCLE_VARIANTS,
    )


def _form_page(request: Request, entity, *, status_code: int = 200, **context):
    values = {"version": "", "lifecycle": "stable", "main": "", **context.pop("values", {})}
    return render(
        request,
        "specs/publish.html",
        status_code=status_code,
        entity=entity,
        api_url=api_base(entity.ref),
        lifecycles=[(value, LIFECYCLE_HELP[value]) for value in LIFECYCLES],
        values=values,
        errors=context.pop("errors", []),
        form_error=context.pop("form_error", None),
        omitted=context.pop("omitted", 0),
        max_bytes=context.pop("max_bytes", None),
        **context,
    )


@router.get("/apis/{namespace}/{name}/publish", response_class=HTMLResponse)
def publish_form(
    request: Request,
    namespace: str,
    name: str,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    entity = visible_api(session, namespace, name, principal)
    require(principal, "specs.publish", entity.owner_ref)
    latest = service.latest_version(session, entity.ref)
    return _form_page(request, entity, latest=latest, max_bytes=Limits.from_settings(settings).max_bytes)


@router.post("/apis/{namespace}/{name}/publish", response_class=HTMLResponse)
async def publish_submit(
    request: Request,
    namespace: str,
    name: str,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    entity = await run_in_threadpool(visible_api, session, namespace, name, principal)
    require(principal, "specs.publish", entity.owner_ref)
    limits = Limits.from_settings(settings)
    values: dict[str, str] = {}
    try:
        form = await read_form(request, limits)
        values = {"version": form.version, "lifecycle": form.lifecycle, "main": form.main or ""}
        if not form.version:
            raise SpecInvalid([SpecError("give the version to publish, for example 1.0.0")])
        main, files, _, guides = files_from_upload(form.filename, form.data, form.main, limits)
        result = await run_in_threadpool(
            service.publish,
            session,
            api_ref=entity.ref,
            version=form.version,
            main_path=main,
            files=files,
            source_kind="upload",
            allow_breaking=form.allow_breaking,
            actor=get_actor(request, principal),
            source_name=form.filename,
            publisher=publisher_name(principal),
            lifecycle=form.lifecycle,
            settings=settings,
            guides=guides,
        )
    except SpecInvalid as exc:
        return _form_page(
            request,
            entity,
            status_code=exc.status,
            values=values,
            errors=exc.errors,
            omitted=exc.omitted,
            form_error="The definition was not published."
            if exc.status != 413
            else "The definition is too large to publish.",
            max_bytes=limits.max_bytes,
        )
    except Problem as exc:
        if exc.status not in (409, 413, 422):
            raise
        return _form_page(
            request,
            entity,
            status_code=exc.status,
            values=values,
            form_error=exc.detail or exc.title,
            breaking=getattr(exc, "findings", None),
            max_bytes=limits.max_bytes,
        )
    return RedirectResponse(version_urls(entity.ref, result.version.version)["docs"], status_code=303)
