"""The OAuth2 authorization server for client credentials (RFC 6749 §4.4): signing keys, tokens, JWKS and
server metadata (RFC 8414).

Tokens are JWTs signed with ES256 by joserfc (no hand-written crypto). Only the client credentials grant is
served, which needs no redirect, consent or refresh machinery; Authlib's server classes target Flask and
Django request objects, so the grant's few checks (client authentication, grant type, scope subset) are
written here against RFC 6749 §4.4 and §5.2. The newest unretired key signs; every unretired key is in the
JWKS, so tokens signed before a rotation keep verifying until their key is retired. Private keys are stored
encrypted (Fernet) with a key derived from the portal's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from devhub.apps.credentials import authenticate_client, client_status, key_status
from devhub.apps.models import ApiKey, Application, ClientCredential, SigningKey
from devhub.apps.service import access_for
from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.db import utcnow
from devhub.identity.policy import Principal, owns_app, require
from devhub.problems import NotFound, Problem
from devhub.settings import Settings

ALGORITHM = "ES256"
TOKEN_PATH = "/oauth2/token"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: answered as {"error": code, "error_description": ...}, not a problem body."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


def _fernet(settings: Settings) -> Fernet:
    material = hashlib.sha256(f"devhub signing keys:{settings.resolved_secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(material))


def create_signing_key(session: Session, settings: Settings, actor: Actor) -> SigningKey:
    """A new key pair; it signs from now on. The previous ones stay in the JWKS until retired."""
    kid = f"{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
    pair = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
    private = json.dumps(pair.as_dict(private=True)).encode()
    row = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=pair.as_dict(private=False),
        private_jwk_encrypted=_fernet(settings).encrypt(private).decode(),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "signing_key.create", kid)
    return row


def signing_keys(session: Session) -> list[SigningKey]:
    query = select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    return list(session.scalars(query))


def current_key(session: Session) -> SigningKey | None:
    return next((key for key in signing_keys(session) if key.retired_at is None), None)


def retire_signing_key(session: Session, kid: str, actor: Actor) -> None:
    """Stop publishing a key: tokens it signed stop verifying. The current key cannot be retired alone."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise NotFound(f"no signing key {kid!r}")
    if key.retired_at is not None:
        return
    if current_key(session) is key:
        raise Problem(409, "Conflict", "this key signs new tokens; create a new key first, then retire this one")
    key.retired_at = utcnow()
    session.flush()
    audit.record(session, actor, "signing_key.retire", kid)


def jwks(session: Session) -> dict:
    return {"keys": [key.public_jwk for key in signing_keys(session) if key.retired_at is None]}


def metadata(settings: Settings, scopes: list[str]) -> dict:
    issuer = settings.base_url.rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + "/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": [ALGORITHM],
        "response_types_supported": ["token"],
        "scopes_supported": scopes,
    }


@dataclass
class IssuedAccessToken:
    token: str
    expires_in: int
    scope: str


def allowed_scopes(session: Session, credential: ClientCredential) -> set[str]:
    """The scopes of the OAuth2 plans the client's application may use in the client's environment."""
    app = session.get(Application, credential.application_id)
    return {
        scope
        for access in access_for(session, app, credential.environment)
        if access.plan.credential_type == "oauth2"
        for scope in access.plan.scopes
    }


def issue_token(
    session: Session,
    settings: Settings,
    *,
    grant_type: str | None,
    client_id: str | None,
    client_secret: str | None,
    scope: str | None,
) -> IssuedAccessToken:
    if not client_id or not client_secret:
        raise OAuthError("invalid_client", "authenticate with client_id and client_secret (HTTP Basic or form)", 401)
    credential = authenticate_client(session, client_id, client_secret)
    if credential is None:
        raise OAuthError("invalid_client", "unknown client, wrong secret, or revoked credentials", 401)
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is served here")
    allowed = allowed_scopes(session, credential)
    requested = set((scope or "").split()) if scope and scope.strip() else allowed
    if not requested <= allowed:
        extra = " ".join(sorted(requested - allowed))
        raise OAuthError("invalid_scope", f"not granted to this client by its plans: {extra}")
    key = current_key(session) or create_signing_key(session, settings, Actor("system"))
    private = ECKey.import_key(json.loads(_fernet(settings).decrypt(key.private_jwk_encrypted.encode())))
    now, ttl = int(time.time()), settings.oauth_token_seconds
    app = session.get(Application, credential.application_id)
    claims = {
        "iss": settings.base_url.rstrip("/"),
        "sub": credential.client_id,
        "aud": settings.oauth_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(12),
        "client_id": credential.client_id,
        "app": app.uid,
        "env": credential.environment,
        "scope": " ".join(sorted(requested)),
    }
    token = jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, private)
    return IssuedAccessToken(token, ttl, claims["scope"])


CONSOLE_AUDIENCE = "devhub-console"
CONSOLE_TOKEN_HEADER = "x-devhub-console-token"
CONSOLE_TOKEN_SECONDS = 60


def issue_console_token(session: Session, settings: Settings, credential_id: str, viewer: Principal) -> str:
    """A one-minute token that lets the portal's try-it console call the gateway as one credential.

    Secrets are stored hashed, so the portal cannot present a developer's key; it vouches for the
    credential instead, signed like access tokens (the gateway already holds the JWKS): `sub` is the API
    key's public id or the OAuth2 client id, `aud` is `devhub-console` so an access token is never taken
    for one. Only the application's owners get one; anyone else is told the credential does not exist.
    """
    app, usable = _console_credential(session, credential_id)
    if app is None or not owns_app(viewer, app):
        raise NotFound(f"no credential {credential_id!r}")
    require(viewer, "console.call", app)
    if not usable:
        raise Problem(409, "Conflict", f"the credential {credential_id} is revoked or expired")
    key = current_key(session) or create_signing_key(session, settings, Actor("system"))
    private = ECKey.import_key(json.loads(_fernet(settings).decrypt(key.private_jwk_encrypted.encode())))
    now = int(time.time())
    claims = {
        "iss": settings.base_url.rstrip("/"),
        "aud": CONSOLE_AUDIENCE,
        "sub": credential_id,
        "iat": now,
        "exp": now + CONSOLE_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid}, claims, private)


def _console_credential(session: Session, credential_id: str) -> tuple[Application | None, bool]:
    """The application holding an API key (by key id) or an OAuth2 client, and whether it still works."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == credential_id))
    if key is not None:
        return session.get(Application, key.application_id), key_status(key) in ("active", "grace")
    client = session.scalar(select(ClientCredential).where(ClientCredential.client_id == credential_id))
    if client is not None:
        return session.get(Application, client.application_id), client_status(client) == "active"
    return None, False


def verify_token(session: Session, settings: Settings, token: str) -> dict:
    """The claims of a valid token from this server (signature by a published key, issuer, audience,
    expiry); raises OAuthError otherwise. The gateway does the same against the JWKS it caches."""
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(jwks(session)), algorithms=[ALGORITHM])
    except Exception as exc:  # joserfc raises several error types for malformed or badly signed tokens
        raise OAuthError("invalid_token", f"the token cannot be verified: {exc}", 401) from None
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": settings.base_url.rstrip("/")},
        aud={"essential": True, "value": settings.oauth_audience},
        exp={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except Exception as exc:
        raise OAuthError("invalid_token", f"the token is not valid here: {exc}", 401) from None
    return decoded.claims
