"""Who is calling: API keys, OAuth2 access tokens (JWTs) or nobody (keyless plans), checked against the
snapshot with no database read.

An API key is found by its public key id (a dict hit) and its secret checked with one SHA-256 and
`hmac.compare_digest`; the secret is checked before anything about the key is revealed. A JWT is verified
(ES256 signature against the portal's JWKS, issuer, audience, expiry) once and then remembered by its
string until it expires, in a bounded LRU emptied whenever the snapshot changes (a retired signing key or
a revoked client must not live on in the cache); tokens that fail verification are remembered the same way. What the credential may do is decided per call from the
snapshot: the application's live subscription (grant) to the route's product, whose state must allow the
credential's environment (sandbox: pending or approved; production: approved only).

Failures are 401 (no, unknown, malformed, expired or revoked credential) with `WWW-Authenticate`, or 403
(a valid credential without the right subscription, plan type or scope).

The portal's try-it console cannot present a developer's secret (it stores digests), so it sends a console
token instead (`x-devhub-console-token`, minted by `devhub.apps.oauth.issue_console_token`): a JWT signed
like access tokens, audience `devhub-console`, at most five minutes long, whose `sub` names an API key id
or an OAuth2 client id. Once verified, the call is authenticated exactly as if that credential had been
presented (its revocation, expiry and grace, the grant's state per environment, the plan's credential type;
an OAuth2 client gets its plan's scopes). The header is an `x-devhub-*` one, so `strip` drops it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import InvalidClaimError

from devhub.apps.models import KEY_PREFIXES
from devhub.apps.oauth import ALGORITHM, CONSOLE_AUDIENCE, CONSOLE_TOKEN_HEADER
from devhub.apps.service import SANDBOX_STATES, keyless_environment
from devhub.gateway.snapshot import Grant, KeyEntry, Route, Snapshot
from devhub.settings import Settings

log = logging.getLogger(__name__)

KEY_CHALLENGE = 'ApiKey realm="devhub"'
BEARER_CHALLENGE = 'Bearer realm="devhub"'
INVALID_TOKEN = 'Bearer realm="devhub", error="invalid_token"'
QUERY_PARAMETER = "api_key"
IDENTITY_PREFIX = "x-devhub-"  # headers the gateway sets for the upstream; never taken from the caller
TOKEN_CACHE_SIZE = 10_000
ANONYMOUS = "anonymous"
CLOCK_SKEW = 60  # seconds of disagreement tolerated between the portal's clock and the gateway's
CONSOLE_TOKEN_LIFETIME = 300  # seconds: a console token living longer is refused (the portal issues 60 s ones)


@dataclass
class Consumer:
    app_id: int | None  # None for keyless calls
    app_uid: str | None
    environment: str
    credential: str  # key id, client id, or "anonymous"
    grant: Grant
    scopes: frozenset[str]


@dataclass
class Rejection:
    status: int
    title: str
    detail: str
    www_authenticate: str
    # Who was refused, when the credential itself checked out (for the call record); never a claim that was
    # not verified (a wrong secret names a key id anyone could type).
    app_id: int | None = None
    app_uid: str | None = None
    credential: str | None = None
    environment: str | None = None

    def problem(self) -> dict:
        """The RFC 9457 body to answer with (`application/problem+json`)."""
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class _ConsoleToken:
    credential: str  # an API key's id or an OAuth2 client id
    expires: float


@dataclass(frozen=True, slots=True)
class _Token:
    client_id: str
    app_uid: str
    environment: str
    scopes: frozenset[str]
    expires: float
    not_before: float


def _unauthorized(detail: str, challenge: str = KEY_CHALLENGE) -> Rejection:
    return Rejection(401, "Unauthorized", detail, challenge)


def _forbidden(detail: str, challenge: str = KEY_CHALLENGE) -> Rejection:
    return Rejection(403, "Forbidden", detail, challenge)


def _known(rejection: Rejection, app_id: int, app_uid: str, credential: str, environment: str) -> Rejection:
    rejection.app_id, rejection.app_uid = app_id, app_uid
    rejection.credential, rejection.environment = credential, environment
    return rejection


def limit_key(consumer: Consumer, client_ip: str) -> str:
    """What the limits count against: the subscription, or the caller's address on a keyless plan."""
    grant = consumer.grant
    if grant.subscription_id is not None:
        return f"s{grant.subscription_id}"
    return f"k{grant.product_id}:{client_ip}"


def identity_headers(consumer: Consumer) -> list[tuple[str, str]]:
    """Who called, for the upstream (`strip` removes any the caller sent)."""
    grant = consumer.grant
    headers = [
        ("x-devhub-environment", consumer.environment),
        ("x-devhub-plan", grant.plan.slug),
        ("x-devhub-credential", consumer.credential),
    ]
    if consumer.app_uid is not None:
        headers.append(("x-devhub-app", consumer.app_uid))
    if grant.subscription_uid is not None:
        headers.append(("x-devhub-subscription", grant.subscription_uid))
    if consumer.scopes:
        headers.append(("x-devhub-scopes", " ".join(sorted(consumer.scopes))))
    return headers


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.key_headers = tuple(name.lower() for name in settings.gateway_key_headers)
        self.issuer = settings.base_url.rstrip("/")
        self.audience = settings.oauth_audience
        self._tokens: OrderedDict[str, _Token | Rejection] = OrderedDict()
        self._tokens_version: int | None = None
        self._claims = jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        self._console_claims = jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": CONSOLE_AUDIENCE},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
        )

    # --- the call ---------------------------------------------------------------------------------------

    def authenticate(
        self,
        snapshot: Snapshot,
        route: Route,
        method: str,
        headers: Mapping[str, str],
        query: dict[str, str],
        now: float,
    ) -> Consumer | Rejection:
        console = headers.get(CONSOLE_TOKEN_HEADER)
        if console:
            return self._by_console_token(snapshot, route, console.strip(), now)
        key, token = None, None
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            scheme, value = scheme.lower(), value.strip()
            if scheme == "apikey" or (scheme == "bearer" and value.startswith("dh_")):
                key = value
            elif scheme == "bearer":
                token = value
        if key is None and token is None:
            for name in self.key_headers:
                key = headers.get(name) or None
                if key:
                    break
        in_query = False
        if key is None and token is None and QUERY_PARAMETER in query:
            key, in_query = query[QUERY_PARAMETER], True
        if key:
            return self._by_key(snapshot, route, key.strip(), in_query, now)
        if token:
            return self._by_token(snapshot, route, token, now)
        plan = route.keyless_plan
        if plan is not None:
            environment = keyless_environment(route.upstreams.get("production"))
            grant = Grant(None, None, None, None, route.product_id, "approved", plan)
            return Consumer(None, None, environment, ANONYMOUS, grant, frozenset())
        return _unauthorized("this API needs credentials: an API key or an OAuth2 access token", route.challenge)

    def _grant(
        self, snapshot: Snapshot, route: Route, app_id: int, environment: str, challenge: str
    ) -> Grant | Rejection:
        grant = snapshot.grant(app_id, route.product_id)
        if grant is None:
            return _forbidden(f"the application has no subscription to {route.slug}", challenge)
        if grant.state == "suspended":
            return _forbidden("subscription suspended", challenge)
        if environment == "production" and grant.state != "approved":
            detail = "the subscription awaits approval; until then only sandbox credentials work"
            return _forbidden(detail, challenge)
        if environment == "sandbox" and grant.state not in SANDBOX_STATES:
            return _forbidden(f"the subscription is {grant.state}", challenge)
        return grant

    def _by_key(self, snapshot: Snapshot, route: Route, presented: str, in_query: bool, now: float):
        if presented.startswith("dh_test_"):
            environment, rest = "sandbox", presented[8:]
        elif presented.startswith("dh_live_"):
            environment, rest = "production", presented[8:]
        else:
            return _unauthorized("the API key is not valid")
        key_id, _, secret = rest.partition("_")
        entry = snapshot.key(key_id) if key_id and secret else None
        if entry is None or entry.environment != environment:
            return _unauthorized("the API key is not valid")
        if not hmac.compare_digest(entry.secret_hash, hashlib.sha256(secret.encode()).hexdigest()):
            return _unauthorized("the API key is not valid")
        consumer = self._key_consumer(snapshot, route, entry, in_query, now)
        if isinstance(consumer, Rejection):
            return _known(consumer, entry.app_id, entry.app_uid, entry.key_id, entry.environment)
        return consumer

    def _key_consumer(self, snapshot: Snapshot, route: Route, entry: KeyEntry, in_query: bool, now: float):
        """What a key whose secret checked out (or that a console token vouches for) may do on this route."""
        if entry.revoked:
            return _unauthorized("the API key was revoked")
        if entry.expires_at is not None and entry.expires_at <= now:
            return _unauthorized("the API key has expired")
        if entry.replaced and (entry.grace_until is None or entry.grace_until <= now):
            return _unauthorized("the API key was rotated and its grace period is over")
        grant = self._grant(snapshot, route, entry.app_id, entry.environment, KEY_CHALLENGE)
        if isinstance(grant, Rejection):
            return grant
        plan = grant.plan
        if plan.credential_type == "oauth2":
            return _forbidden(f"the {plan.slug} plan takes OAuth2 access tokens, not API keys", BEARER_CHALLENGE)
        if in_query and not plan.key_in_query:
            return _unauthorized(f"the {plan.slug} plan does not accept keys in the query string; send a header")
        return Consumer(entry.app_id, entry.app_uid, entry.environment, entry.key_id, grant, frozenset())

    def _by_token(self, snapshot: Snapshot, route: Route, token: str, now: float):
        if self._tokens_version != snapshot.version:  # keys or clients changed: verify afresh
            self._tokens.clear()
            self._tokens_version = snapshot.version
        claims = self._tokens.get(token)
        if claims is None:
            # Bad tokens are remembered too: a flood of one forged token costs one ES256 verification.
            claims = self._verify(snapshot, token)
            if claims is None:
                return _unauthorized("the access token is not valid yet", INVALID_TOKEN)
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.popitem(last=False)
            self._tokens[token] = claims
        else:
            self._tokens.move_to_end(token)
        if isinstance(claims, Rejection):
            return claims
        if not isinstance(claims, _Token):  # a console token sent as a bearer token
            return _unauthorized("the access token is not valid", INVALID_TOKEN)
        if claims.expires <= now:
            self._tokens.pop(token, None)
            return _unauthorized("the access token has expired", INVALID_TOKEN)
        if claims.not_before > now + CLOCK_SKEW:
            return _unauthorized("the access token is not valid yet", INVALID_TOKEN)
        client = snapshot.client(claims.client_id)
        if client is None or client.revoked or client.environment != claims.environment:
            return _unauthorized("the client of this access token is revoked or unknown", INVALID_TOKEN)
        if client.app_uid != claims.app_uid:
            return _unauthorized("the access token does not match its client", INVALID_TOKEN)
        consumer = self._client_consumer(snapshot, route, client, claims.scopes)
        if isinstance(consumer, Rejection):
            return _known(consumer, client.app_id, client.app_uid, client.client_id, client.environment)
        return consumer

    def _client_consumer(self, snapshot: Snapshot, route: Route, client, scopes: frozenset[str] | None):
        """What a live OAuth2 client may do on this route with these scopes (None: the plan's own, for a
        console token)."""
        grant = self._grant(snapshot, route, client.app_id, client.environment, BEARER_CHALLENGE)
        if isinstance(grant, Rejection):
            return grant
        plan = grant.plan
        if plan.credential_type != "oauth2":
            return _forbidden(f"the {plan.slug} plan takes API keys, not OAuth2 tokens", KEY_CHALLENGE)
        if scopes is None:
            scopes = plan.scopes
        elif plan.scopes and not (scopes & plan.scopes):
            wanted = " ".join(sorted(plan.scopes))
            challenge = f'Bearer realm="devhub", error="insufficient_scope", scope="{wanted}"'
            return Rejection(403, "Forbidden", f"the access token needs one of the scopes: {wanted}", challenge)
        return Consumer(client.app_id, client.app_uid, client.environment, client.client_id, grant, scopes)

    def _by_console_token(self, snapshot: Snapshot, route: Route, token: str, now: float):
        """The try-it console's token: the portal vouches for one of the signed-in developer's credentials
        (it cannot present the secret, which it stores hashed). The call then goes exactly as if that
        credential had been presented: its state, its grant, its plan; an OAuth2 client gets its plan's
        scopes. Verified tokens are cached with access tokens (same LRU, same reset on snapshot change)."""
        if self._tokens_version != snapshot.version:
            self._tokens.clear()
            self._tokens_version = snapshot.version
        claims = self._tokens.get(token)
        if claims is None:
            claims = self._verify_console(snapshot, token)
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.popitem(last=False)
            self._tokens[token] = claims
        if isinstance(claims, Rejection):
            return claims
        if not isinstance(claims, _ConsoleToken):  # an access token sent in the console header
            return _unauthorized("the console token is not valid", INVALID_TOKEN)
        if claims.expires <= now:
            self._tokens.pop(token, None)
            return _unauthorized("the console token has expired", INVALID_TOKEN)
        entry = snapshot.key(claims.credential)
        if entry is not None:
            consumer = self._key_consumer(snapshot, route, entry, False, now)
            if isinstance(consumer, Rejection):
                return _known(consumer, entry.app_id, entry.app_uid, entry.key_id, entry.environment)
            return consumer
        client = snapshot.client(claims.credential)
        if client is None or client.revoked:
            return _unauthorized("the credential of this console token is revoked or unknown", INVALID_TOKEN)
        consumer = self._client_consumer(snapshot, route, client, None)
        if isinstance(consumer, Rejection):
            return _known(consumer, client.app_id, client.app_uid, client.client_id, client.environment)
        return consumer

    def _verify_console(self, snapshot: Snapshot, token: str) -> _ConsoleToken | Rejection:
        try:
            decoded = jwt.decode(token, snapshot.jwks, algorithms=[ALGORITHM])
            self._console_claims.validate(decoded.claims)
        except Exception as exc:  # joserfc raises many error types for bad, unsigned or foreign tokens
            return _unauthorized(f"the console token is not valid: {exc}", INVALID_TOKEN)
        claims = decoded.claims
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if not isinstance(claims["sub"], str) or lifetime > CONSOLE_TOKEN_LIFETIME:
            return _unauthorized(
                "the console token is not valid: a short-lived token for one credential", INVALID_TOKEN
            )
        return _ConsoleToken(claims["sub"], float(claims["exp"]))

    def _verify(self, snapshot: Snapshot, token: str) -> _Token | Rejection | None:
        """The token's claims, a Rejection to remember, or None: rejected for now only (not valid *yet*)."""
        try:
            decoded = jwt.decode(token, snapshot.jwks, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
        except InvalidClaimError as exc:
            if exc.claim in ("nbf", "iat"):  # issued by a clock ahead of ours: it will become valid
                return None
            return _unauthorized(f"the access token is not valid: {exc}", INVALID_TOKEN)
        except Exception as exc:  # joserfc raises many error types for bad, unsigned or foreign tokens
            return _unauthorized(f"the access token is not valid: {exc}", INVALID_TOKEN)
        claims = decoded.claims
        client_id, app_uid, environment = claims.get("client_id"), claims.get("app"), claims.get("env")
        if not (isinstance(client_id, str) and isinstance(app_uid, str) and environment in KEY_PREFIXES):
            return _unauthorized("the access token lacks client_id, app or env", INVALID_TOKEN)
        scope = claims.get("scope") or ""
        return _Token(
            client_id,
            app_uid,
            environment,
            frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            float(claims["exp"]),
            float(claims.get("nbf") or 0),
        )

    # --- before going upstream --------------------------------------------------------------------------

    def strip(self, headers: Mapping[str, str], query: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The headers and query without the caller's credential and without identity headers it forged."""
        drop = self.key_headers
        kept = {
            name: value
            for name, value in headers.items()
            if name not in drop and not name.startswith(IDENTITY_PREFIX) and name != "authorization"
        }
        authorization = headers.get("authorization")
        if authorization and authorization.partition(" ")[0].lower() not in ("bearer", "apikey"):
            kept["authorization"] = authorization  # a scheme the gateway does not use is the upstream's business
        if QUERY_PARAMETER in query:
            query = {name: value for name, value in query.items() if name != QUERY_PARAMETER}
        return kept, query
