"""The sandbox's HTTP face: `/sandbox/{namespace}/{name}/{version}/{path}` for every method, and the
developer's REST route to reset their remembered data.

The sandbox route is a plain Starlette route, not a FastAPI one: it is the hot path, it is authenticated
by the gateway's signature (never by a portal session, so the portal's CSRF and principal dependencies
have nothing to do there), and its request and response shapes are the API's own, not ours.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devhub.deps import get_db, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal
from devhub.sandbox import service
from devhub.sandbox.compile import METHODS
from devhub.sandbox.service import Sandbox, json_bytes
from devhub.sandbox.state import Limits
from devhub.sandbox.validate import SandboxRequest, media_base

SANDBOX_PATH = "/sandbox/{namespace}/{name}/{version}/{path:path}"

router = APIRouter()


def sandbox_of(request: Request) -> Sandbox:
    """The process's one Sandbox (its compiled definitions are shared by every call)."""
    state = request.app.state
    sandbox = getattr(state, "sandbox", None)
    if sandbox is None:
        settings = state.settings
        limits = Limits(
            max_items=getattr(settings, "sandbox_max_items", Limits.max_items),
            max_item_bytes=getattr(settings, "sandbox_max_item_bytes", Limits.max_item_bytes),
        )
        sandbox = state.sandbox = Sandbox(state.db.engine, settings.resolved_secret_key, limits=limits)
    return sandbox


async def sandbox_call(request: Request) -> Response:
    params = request.path_params
    api_ref = f"api:{params['namespace']}/{params['name']}".lower()
    headers = {name.lower(): value for name, value in request.headers.items()}
    form = None
    if media_base(headers.get("content-type", "")) == "multipart/form-data":
        try:
            parsed = await request.form()
            form = {key: [_form_value(v) for v in parsed.getlist(key)] for key in parsed}
        except Exception:  # a broken multipart body: validation answers 400 on the raw bytes
            form = None
    body = await request.body() if form is None else b""
    call = SandboxRequest(
        method=request.method,
        path="/" + params["path"],
        query=list(request.query_params.multi_items()),
        headers=headers,
        cookies=dict(request.cookies),
        body=body,
        form=form,
    )
    answer = await run_in_threadpool(sandbox_of(request).handle, api_ref, params["version"], call)
    content = answer.raw if answer.raw is not None else _serialise(answer.body, answer.media_type)
    response = Response(content=content, status_code=answer.status, headers=answer.headers)
    if answer.media_type and content:
        response.headers["content-type"] = answer.media_type
    return response


def _form_value(value) -> str:
    return value if isinstance(value, str) else (value.filename or "")


def _serialise(body, media_type: str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str) and media_type and not (media_type.endswith("json")):
        return body.encode()
    return json_bytes(body)


router.routes.append(
    Route(SANDBOX_PATH, sandbox_call, methods=[method.upper() for method in METHODS], include_in_schema=False)
)


# --- A developer's sandbox data (JSON API) -----------------------------------------------------------------


class SandboxData(BaseModel):
    credential: str
    api: str
    version: str
    items: int
    last_change: datetime | None = Field(None, description="When one of these items was last written.")


class SandboxDataList(BaseModel):
    items: list[SandboxData]


class ResetOut(BaseModel):
    deleted: int


@router.get("/api/v1/sandbox/data", response_model=SandboxDataList, tags=["sandbox"])
def list_data(
    credential: str | None = Query(None, description="One of your sandbox key ids or client ids."),
    session: Session = Depends(get_session, scope="function"),
    db=Depends(get_db),
    principal: Principal = Depends(get_principal),
) -> SandboxDataList:
    """How many items the sandbox remembers for your applications' sandbox credentials, per API version."""
    rows = service.data_summary(session, db.engine, principal, credential)
    return SandboxDataList(items=[SandboxData(**row) for row in rows])


@router.delete("/api/v1/sandbox/data", response_model=ResetOut, tags=["sandbox"])
def reset_data(
    api: str | None = Query(None, description="Only this API (namespace/name)."),
    version: str | None = Query(None, description="Only this version of the API."),
    credential: str | None = Query(None, description="Only this credential (admins: any, `anonymous` too)."),
    session: Session = Depends(get_session, scope="function"),
    db=Depends(get_db),
    principal: Principal = Depends(get_principal),
) -> ResetOut:
    """Forget what your applications' sandbox credentials created: the sandbox starts afresh."""
    deleted = service.reset_data(session, db.engine, principal, credential=credential, api=api, version=version)
    return ResetOut(deleted=deleted)
