"""A small but real OpenID provider for tests: Authlib's server components behind Starlette, run by uvicorn on
127.0.0.1 in a background thread.

It has discovery, a JWKS with an RSA key made at start, an authorization endpoint that consents at once for
the user named by `provider.login_as` (the authorization code grant with the OpenID Connect extension, nonce
required, and PKCE), a token endpoint (client_secret_basic or client_secret_post) and a userinfo endpoint.

Tests make it misbehave on demand:

- `deny = True`: the authorization endpoint answers `error=access_denied`;
- `id_token_claims = {...}`: claims put into the next ID tokens over the right ones (a wrong `nonce`, another
  client's `aud`, another `iss`, a past `exp`);
- `rogue_key = True`: ID tokens are signed with a key that is not in the JWKS (same key id);
- `groups_in_id_token = False`: the groups claim is only in the userinfo response.

`authorize_requests` keeps the query of every authorization request, for checking state, nonce and PKCE.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCOPES = ["openid", "email", "profile", "groups"]
KEY_ID = "devhub-test-key"


@dataclass
class TestUser:
    __test__ = False  # not a pytest class

    sub: str
    email: str | None
    email_verified: bool | str | None = True
    name: str = ""
    groups: list[str] | None = None

    def claims(self, scope: str, *, groups: bool = True) -> dict[str, Any]:
        scopes = scope.split()
        claims: dict[str, Any] = {"sub": self.sub}
        if "email" in scopes and self.email is not None:
            claims["email"] = self.email
            if self.email_verified is not None:
                claims["email_verified"] = self.email_verified
        if "profile" in scopes and self.name:
            claims["name"] = self.name
        if groups and self.groups is not None:
            claims["groups"] = list(self.groups)
        return claims


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Payload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for key, value in items:
            self._data.setdefault(key, value)
            self._datalist.setdefault(key, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):
    """An OAuth2Request made from a Starlette request whose form was already read (Authlib's server is sync)."""

    def __init__(self, request: Request, form: list[tuple[str, str]]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = dict(form)
        self.payload = _Payload(list(request.query_params.multi_items()) + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def _oauth_request(request: Request) -> _Request:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    return _Request(request, form)


class Provider:
    """The provider. `start()` binds a free loopback port and serves in a thread; `stop()` ends it."""

    def __init__(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        self.client = Client(client_id, client_secret, redirect_uris)
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"}, private=True)
        self._rogue = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"}, private=True)
        self.users: dict[str, TestUser] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # access token -> (sub, scope)
        self.used_nonces: set[str] = set()
        self.url = ""
        self.reset()
        self.server = self._authorization_server()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo, methods=["GET", "POST"]),
            ]
        )
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- What tests set -----------------------------------------------------------------------------------

    def reset(self) -> None:
        self.login_as: str | None = None
        self.deny = False
        self.id_token_claims: dict[str, Any] = {}
        self.rogue_key = False
        self.groups_in_id_token = True
        self.authorize_requests: list[dict[str, str]] = []
        self.userinfo_calls = 0

    def add_user(self, user: TestUser) -> TestUser:
        self.users[user.sub] = user
        return user

    @property
    def issuer(self) -> str:
        return self.url

    # --- Authlib's authorization server -------------------------------------------------------------------

    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                provider.tokens[token["access_token"]] = (request.user.sub, token.get("scope", ""))

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                assert isinstance(request, OAuth2Request), "build it with _oauth_request first"
                return request

            def create_json_request(self, request: Any) -> Any:
                raise NotImplementedError

            def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
                content = json.dumps(body) if isinstance(body, dict) else body
                return Response(content, status_code=status, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                if data.get("code_challenge_method") != "S256":
                    raise InvalidRequestError("this provider wants PKCE with S256")
                nonce = data.get("nonce")
                if nonce:
                    provider.used_nonces.add(nonce)
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope,
                    sub=request.user.sub,
                    nonce=nonce,
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> TestUser | None:
                return provider.users.get(authorization_code.sub)

        class OpenID(OpenIDCode):
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return nonce in provider.used_nonces

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider._rogue if provider.rogue_key else provider.key

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": KEY_ID}

            def generate_user_info(self, user: TestUser, scope: str) -> dict[str, Any]:
                claims = user.claims(scope, groups=provider.groups_in_id_token)
                claims.update(provider.id_token_claims)  # the misbehaviour, last so it wins
                return claims

        server = Server(scopes_supported=SCOPES)
        server.register_token_generator("default", BearerTokenGenerator(lambda **_: secrets.token_urlsafe(32)))
        server.register_grant(CodeGrant, [OpenID(require_nonce=True), CodeChallenge(required=True)])
        return server

    # --- Endpoints ----------------------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "userinfo_endpoint": f"{self.url}/userinfo",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": SCOPES,
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        """Auto-consent: the user named by `login_as` is signed in and agrees at once."""
        self.authorize_requests.append(dict(request.query_params))
        oauth_request = await _oauth_request(request)
        user = self.users.get(self.login_as) if self.login_as else None
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=user)
        except OAuth2Error as error:
            return self.server.handle_error_response(oauth_request, error)
        granted = None if self.deny or user is None else user
        return self.server.create_authorization_response(oauth_request, grant_user=granted, grant=grant)

    async def token(self, request: Request) -> Response:
        return self.server.create_token_response(await _oauth_request(request))

    async def userinfo(self, request: Request) -> Response:
        self.userinfo_calls += 1
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        found = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        sub, scope = found
        return JSONResponse(self.users[sub].claims(scope))

    # --- Running ------------------------------------------------------------------------------------------

    def start(self) -> Provider:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False, loop="asyncio", http="h11"
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
