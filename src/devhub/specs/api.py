"""Definitions JSON API under /api/v1/apis: versions of an API, publishing, lifecycle, downloads."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from devhub.catalog import service as catalog_service
from devhub.catalog.models import Entity
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, require
from devhub.pagination import PageMeta, PageRequest
from devhub.problems import PROBLEM_JSON, Problem
from devhub.settings import Settings
from devhub.specs import service
from devhub.specs.errors import SpecInvalid
from devhub.specs.limits import Limits
from devhub.specs.schemas import (
    PUBLISH_REQUEST_BODY,
    DefinitionError,
    LifecycleIn,
    PublishIn,
    PublishOut,
    VersionDetail,
    VersionList,
    VersionSummary,
)
from devhub.specs.upload import files_from_upload, read_body, read_form, safe_filename

router = APIRouter(prefix="/api/v1/apis", tags=["definitions"])

_PROBLEM = {"content": {PROBLEM_JSON: {}}}
_FILENAME = re.compile(r"[^A-Za-z0-9._+-]+")


def visible_api(session: Session, namespace: str, name: str, principal: Principal) -> Entity:
    """The API entity, when it exists and the principal may see it (404 otherwise, the same either way)."""
    require(principal, "catalog.read")
    return catalog_service.visible_entity(session, "api", namespace, name, principal)


def publisher_name(principal: Principal) -> str:
    return principal.email or "anonymous"


@router.get("/{namespace}/{name}/versions", summary="List the published versions of an API, newest first")
def list_versions(
    namespace: str,
    name: str,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> VersionList:
    entity = visible_api(session, namespace, name, principal)
    result = service.list_versions(session, entity.ref, page)
    return VersionList(items=[VersionSummary.of(v) for v in result.items], meta=PageMeta.of(result))


@router.post(
    "/{namespace}/{name}/versions",
    summary="Publish a version: upload a file or zip (multipart), or send the definition as JSON",
    description=(
        "OpenAPI 3.0/3.1, Swagger 2.0 or AsyncAPI 2.x/3.x, YAML or JSON; a zip for a definition split over "
        "several files with relative `$ref`s (bundled into one document). 201 when created, 200 when this "
        "version already has this content, 409 when it has other content (versions are immutable), 422 with "
        "`errors: [{pointer, line, message, file}]` when the definition is invalid, 413 when too large."
    ),
    status_code=201,
    openapi_extra={"requestBody": PUBLISH_REQUEST_BODY},
    responses={
        200: {"model": PublishOut, "description": "Already published with this content: nothing changed."},
        201: {"model": PublishOut, "description": "Published."},
        409: {
            "description": "This version is published with other content, or it breaks clients of the stable "
            "version before it (`type` .../breaking-change, with `findings`; send allow_breaking to publish anyway).",
            **_PROBLEM,
        },
        413: {"description": "The upload is larger than the limit.", **_PROBLEM},
        422: {"description": "Invalid definition, version or lifecycle; `errors` lists each problem.", **_PROBLEM},
    },
)
async def publish_version(
    namespace: str,
    name: str,
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> Response:
    entity = await run_in_threadpool(visible_api, session, namespace, name, principal)
    require(principal, "specs.publish", entity.owner_ref)
    limits = Limits.from_settings(settings)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await read_form(request, limits)
            version, lifecycle = form.version, form.lifecycle
            allow_breaking = form.allow_breaking
            main, files, _, guides = files_from_upload(form.filename, form.data, form.main, limits)
            source_name = form.filename
        elif content_type.startswith("application/json"):
            payload = _publish_json(await read_body(request, limits))
            version, lifecycle = payload.version, payload.lifecycle
            allow_breaking = payload.allow_breaking
            main = safe_filename(None, payload.definition)
            files, guides = {main: payload.definition}, None
            source_name = "request body"
        else:
            raise Problem(
                415,
                "Unsupported media type",
                "send multipart/form-data (file, version, lifecycle) or application/json (version, lifecycle, "
                "definition)",
            )
        result = await run_in_threadpool(
            service.publish,
            session,
            api_ref=entity.ref,
            version=version,
            main_path=main,
            files=files,
            source_kind="api",
            allow_breaking=allow_breaking,
            actor=get_actor(request, principal),
            source_name=source_name,
            publisher=publisher_name(principal),
            lifecycle=lifecycle,
            settings=settings,
            guides=guides,
        )
    except SpecInvalid as exc:
        raise exc.to_problem() from None
    body = PublishOut(
        status=result.status,
        version=VersionSummary.of(result.version),
        warnings=[DefinitionError.of(w) for w in result.warnings],
    )
    headers = {"Location": body.version.links.self} if result.created else {}
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if result.created else 200, headers=headers)


def _publish_json(raw: bytes) -> PublishIn:
    try:
        return PublishIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in err["loc"]), "line": None, "message": err["msg"], "file": None}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['pointer']}: {e['message']}" for e in errors)
        raise Problem(422, "Invalid request", detail, errors=errors) from None


@router.get("/{namespace}/{name}/versions/{version}", summary="A version: metadata and its operations")
def get_version(
    namespace: str,
    name: str,
    version: str,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> VersionDetail:
    entity = visible_api(session, namespace, name, principal)
    found = service.get_version(session, entity.ref, version)
    return VersionDetail.with_operations(found, service.operations_of(session, found))


@router.patch(
    "/{namespace}/{name}/versions/{version}",
    summary="Change a version's lifecycle (draft, beta, stable, deprecated, retired)",
)
def set_lifecycle(
    namespace: str,
    name: str,
    version: str,
    body: LifecycleIn,
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> VersionDetail:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "specs.lifecycle", entity.owner_ref)
    found = service.set_lifecycle(session, entity.ref, version, body.lifecycle)
    return VersionDetail.with_operations(found, service.operations_of(session, found))


@router.get(
    "/{namespace}/{name}/versions/{version}/definition",
    summary="Download a version's definition: bundled (one document) or as published, JSON or YAML",
    responses={200: {"content": {"application/json": {}, "application/yaml": {}}}},
)
def download_definition(
    namespace: str,
    name: str,
    version: str,
    bundled: bool = Query(True, description="The bundled document (true) or the main file as published (false)."),
    format: str | None = Query(
        None, pattern="^(json|yaml)$", description="json or yaml; the original's own format when omitted."
    ),
    session: Session = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> Response:
    entity = visible_api(session, namespace, name, principal)
    found = service.get_version(session, entity.ref, version, with_documents=True)
    fmt = format or ("json" if bundled or service.original_is_json(found) else "yaml")
    text = service.definition_text(found, bundled=bundled, fmt=fmt)
    filename = _FILENAME.sub("_", f"{entity.name}-{found.version}{'' if bundled else '-original'}.{fmt}")
    media_type = "application/json" if fmt == "json" else "application/yaml"
    return Response(
        text.encode("utf-8"),
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
