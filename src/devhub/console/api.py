"""The console's JSON API.

POST /api/v1/console/calls          call an operation through the gateway with one of your credentials
GET  /api/v1/console/credentials    the credentials you may call an operation with (and where to get access)

A product's keyless plan is offered as the credential `keyless`: the call goes without one.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from devhub.console import service
from devhub.console.schemas import (
    ConsoleApplication,
    ConsoleCallIn,
    ConsoleCallOut,
    ConsoleChoiceOut,
    ConsoleChoicesOut,
    ConsoleHeader,
)
from devhub.deps import get_session, get_settings_dep
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.settings import Settings

router = APIRouter(prefix="/api/v1/console", tags=["console"])
SESSION = Depends(get_session, scope="function")


def choice_out(choice: service.Choice) -> ConsoleChoiceOut:
    return ConsoleChoiceOut(
        credential=choice.credential_id,
        kind=choice.kind,
        label=choice.label,
        environment=choice.environment,
        product=choice.product.slug,
        application=ConsoleApplication(id=choice.app.uid, name=choice.app.name) if choice.app else None,
    )


@router.post("/calls", response_model=ConsoleCallOut, summary="Call an operation through the gateway")
def make_call(
    data: ConsoleCallIn,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
) -> ConsoleCallOut:
    """The call is made by the portal, to the gateway's route for the API (never another address), as the
    chosen credential of one of your applications. The answer is 200 with the API's status inside; 4xx
    problems are for a call that could not be made (unknown operation or credential, undeclared
    parameters, a body the operation does not take), 502/504 when the gateway could not be reached.
    `credential` `keyless` calls without one, through a product with a keyless plan; anyone may."""
    if data.credential.strip() != service.KEYLESS:
        require(viewer, "apps.create")
    target = service.open_operation(session, viewer, data.api, data.version, data.operation)
    choice = service.pick(session, viewer, target, data.credential, data.environment, data.product)
    body = data.body if data.body is None or isinstance(data.body, str) else json.dumps(data.body)
    result = service.call(
        session, settings, viewer, target, choice, data.parameters.model_dump(), body, data.content_type
    )
    return ConsoleCallOut(
        method=result.method,
        url=result.url,
        status=result.status,
        headers=[ConsoleHeader(name=name, value=value) for name, value in result.headers],
        body=result.body,
        body_json=result.body_json,
        truncated=result.truncated,
        size=result.size,
        elapsed_ms=result.elapsed_ms,
        curl=result.curl,
        credential=choice.credential_id,
        product=choice.product.slug,
    )


@router.get("/credentials", response_model=ConsoleChoicesOut, summary="Credentials you may call an operation with")
def list_choices(
    api: str = Query(description="`namespace/name` or `api:namespace/name`"),
    version: str = Query(),
    operation: str = Query(description="The operation's anchor or operationId"),
    environment: str | None = Query(None, pattern="^(sandbox|production)$"),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> ConsoleChoicesOut:
    """Your applications' credentials that hold a live subscription to a product offering this API, then
    `keyless` for each product offering it with a keyless plan (signed out: only those), and the products'
    pages where access is requested."""
    target = service.open_operation(session, viewer, api, version, operation)
    return ConsoleChoicesOut(
        items=[choice_out(c) for c in service.choices(session, viewer, target, environment)],
        get_access=[f"/products/{p.slug}" for p in service.offering_products(session, viewer, target)],
    )
