"""The OAuth2 token endpoint (client credentials) and the authorization server's well-known documents."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from devhub.apps import oauth
from devhub.apps.models import Plan, Product
from devhub.deps import get_session, get_settings_dep
from devhub.settings import Settings

router = APIRouter(tags=["oauth2"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1: form-encoded before base64


@router.post(
    oauth.TOKEN_PATH,
    summary="Client credentials grant (RFC 6749 §4.4): a short-lived signed JWT access token",
    response_class=JSONResponse,
)
async def token(
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
) -> JSONResponse:
    form = await request.form(max_files=0, max_fields=10)
    field = lambda name: value if isinstance(value := form.get(name), str) else None  # noqa: E731
    client_id, secret = _basic_credentials(request)
    basic = client_id is not None
    if not basic:
        client_id, secret = field("client_id"), field("client_secret")
    try:
        issued = oauth.issue_token(
            session,
            settings,
            grant_type=field("grant_type"),
            client_id=client_id,
            client_secret=secret,
            scope=field("scope"),
        )
    except oauth.OAuthError as exc:
        headers = dict(NO_STORE)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="devhub"'
        return JSONResponse({"error": exc.code, "error_description": exc.description}, exc.status, headers=headers)
    body = {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in}
    if issued.scope:
        body["scope"] = issued.scope
    return JSONResponse(body, headers=NO_STORE)


@router.get("/.well-known/jwks.json", summary="The public keys that verify access tokens (JWKS)")
def jwks(session: Session = Depends(get_session, scope="function")) -> dict:
    return oauth.jwks(session)


@router.get("/.well-known/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)")
def server_metadata(
    session: Session = Depends(get_session, scope="function"), settings: Settings = Depends(get_settings_dep)
) -> dict:
    public = (
        select(Plan.scopes)
        .join(Product, Product.id == Plan.product_id)
        .where(Plan.visibility == "public", Product.visibility == "public", Plan.status == "active")
    )
    scopes = sorted({scope for plan_scopes in session.scalars(public) for scope in plan_scopes or []})
    return oauth.metadata(settings, scopes)
