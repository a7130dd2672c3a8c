"""Answering one sandbox call: find the version, check who is calling, validate, remember, respond.

One `Sandbox` per portal process holds the compiled definitions in memory (an LRU keyed by API version,
checked against the version's content hash on every call, so a re-published or deleted version is never
answered from a stale compilation; `invalidate` and `clear` drop entries explicitly). Everything durable
(the remembered resources) is in the database, so any number of stateless portal processes may answer.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from devhub.apps.models import ApiKey, Application, ClientCredential
from devhub.catalog.models import Entity
from devhub.identity.policy import Principal, require
from devhub.problems import BadRequest, NotFound
from devhub.sandbox import state
from devhub.sandbox.compile import CompiledSpec, compile_spec
from devhub.sandbox.respond import Answer, body_for, choose_media, choose_response, parse_prefer, seed_of
from devhub.sandbox.trust import is_from_gateway
from devhub.sandbox.validate import Rejection, SandboxRequest, validate
from devhub.specs.models import SpecVersion
from devhub.specs.service import normalise_api_ref

ANONYMOUS = "anonymous"
_versions = SpecVersion.__table__
_entities = Entity.__table__


@dataclass(frozen=True)
class Caller:
    credential: str  # key id, client id, or "anonymous"
    signed: bool  # the gateway vouched for it


@dataclass(frozen=True)
class VersionRow:
    id: int
    content_hash: str
    format: str
    format_version: str
    lifecycle: str


class SpecCache:
    """Compiled definitions by (api_ref, version), at most `size` of them, least recently used out first."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[str, CompiledSpec]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], content_hash: str) -> CompiledSpec | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != content_hash:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[str, str], content_hash: str, spec: CompiledSpec) -> None:
        with self._lock:
            self._entries[key] = (content_hash, spec)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def invalidate(self, api_ref: str, version: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == api_ref and (version is None or k[1] == version)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Sandbox:
    def __init__(self, engine: Engine, secret_key: str, *, limits: state.Limits | None = None, cache_size: int = 32):
        self.engine = engine
        self.secret_key = secret_key
        self.limits = limits or state.Limits()
        self.cache = SpecCache(cache_size)

    # --- the call ---------------------------------------------------------------------------------------

    def handle(self, api_ref: str, version: str, request: SandboxRequest) -> Answer:
        try:
            return self._handle(api_ref, version, request)
        except Rejection as rejection:
            return Answer(rejection.status, rejection.to_dict(), "application/problem+json", rejection.headers)

    def _handle(self, api_ref: str, version: str, request: SandboxRequest) -> Answer:
        caller = self.caller(api_ref, version, request.headers)
        with self.engine.connect() as connection:  # one connection per call: one pool checkout
            # Reads outside a transaction: no BEGIN and ROLLBACK round trips (writes open their own).
            connection.execution_options(isolation_level="AUTOCOMMIT")
            spec = self.spec(connection, api_ref, version, caller)
            return self.answer(spec, api_ref, version, caller, request, connection)

    def answer(
        self,
        spec: CompiledSpec,
        api_ref: str,
        version: str,
        caller: Caller,
        request: SandboxRequest,
        connection: Connection | None = None,
    ) -> Answer:
        """The answer of a compiled definition to a call from `caller` (raises Rejection)."""
        if connection is None:
            with self.engine.connect() as own:
                own.execution_options(isolation_level="AUTOCOMMIT")
                return self.answer(spec, api_ref, version, caller, request, own)
        found = spec.match(request.path)
        if found is None:
            raise Rejection(404, "Not found", f"no path of this API version matches {request.path}")
        template, values = found
        method = request.method.lower()
        operation = template.operations.get(method)
        if operation is None and method == "head":  # HTTP: HEAD is GET without the body
            operation = template.operations.get("get")
        if operation is None:
            allowed = ", ".join(method.upper() for method in template.operations)
            raise Rejection(
                405,
                "Method not allowed",
                f"{template.template} takes {allowed}",
                headers={"Allow": allowed},
            )
        path_values = {name: values[f"p{i}"] for i, name in enumerate(template.names)}
        valid = validate(spec, operation, request, path_values, signed=caller.signed)
        prefer = parse_prefer(request.headers.get("prefer"))
        stateful = state.Call(
            api_ref, version, caller.credential, request.path, operation, valid, prefer, request.headers.get("accept")
        )
        remembered = state.answer(connection, spec, stateful, self.limits) if not prefer.code else None
        if remembered is not None:
            return remembered if method != "head" else Answer(remembered.status, None, None, remembered.headers)
        return self.generated(spec, operation, request, prefer, api_ref, version)

    def generated(self, spec, operation, request: SandboxRequest, prefer, api_ref: str, version: str) -> Answer:
        status, response = choose_response(operation, prefer)
        media = choose_media(response, request.headers.get("accept"))
        if media is None or request.method.upper() == "HEAD":
            return Answer(status)
        if prefer.dynamic:
            seed = seed_of(api_ref, version, request.method, request.path, sorted(request.query), request.body)
        else:
            seed = seed_of(api_ref, version, operation.method, operation.template, status)
        return Answer(status, body_for(spec, media, prefer, seed), media.name)

    # --- who and what -----------------------------------------------------------------------------------

    def caller(self, api_ref: str, version: str, headers: dict[str, str]) -> Caller:
        from devhub.sandbox.trust import CREDENTIAL_HEADER, SIGNATURE_HEADER

        credential = headers.get(CREDENTIAL_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if credential and signature and is_from_gateway(self.secret_key, credential, api_ref, version, signature):
            return Caller(credential, True)
        return Caller(ANONYMOUS, False)

    def spec(self, connection: Connection, api_ref: str, version: str, caller: Caller) -> CompiledSpec:
        row = self._version_row(connection, api_ref, version)
        if row is None or row.format != "openapi" or row.lifecycle == "retired":
            raise Rejection(404, "Not found", "no sandbox for this API version (unknown, not OpenAPI, or retired)")
        if not caller.signed and not self._is_public(connection, api_ref):
            raise Rejection(404, "Not found", "no sandbox for this API version (unknown, not OpenAPI, or retired)")
        key = (api_ref, version)
        compiled = self.cache.get(key, row.content_hash)
        if compiled is None:
            document = connection.scalar(select(_versions.c.bundled).where(_versions.c.id == row.id))
            if isinstance(document, str):
                document = json.loads(document)
            compiled = compile_spec(document or {}, row.format_version)
            self.cache.put(key, row.content_hash, compiled)
        return compiled

    def _version_row(self, connection: Connection, api_ref: str, version: str) -> VersionRow | None:
        query = select(
            _versions.c.id,
            _versions.c.content_hash,
            _versions.c.format,
            _versions.c.format_version,
            _versions.c.lifecycle,
        ).where(_versions.c.api_ref == api_ref, _versions.c.version == version)
        row = connection.execute(query).first()
        return VersionRow(*row) if row is not None else None

    def _is_public(self, connection: Connection, api_ref: str) -> bool:
        """Unsigned calls reach only APIs anyone may see: the gateway checked signed callers' access."""
        visibility = connection.scalar(select(_entities.c.visibility).where(_entities.c.ref == api_ref))
        return visibility == "public"


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


# --- A developer's sandbox data ----------------------------------------------------------------------------


def developer_credentials(session: Session, principal: Principal) -> list[str]:
    """The sandbox credentials (API key ids, OAuth2 client ids) of the applications the principal owns,
    personally or through a team; an admin's own too, not everybody's."""
    owned = Application.owner_user_id == principal.user_id
    if principal.teams:
        owned = or_(owned, Application.owner_team_ref.in_(sorted(principal.teams)))
    apps = select(Application.id).where(owned)
    keys = select(ApiKey.key_id).where(ApiKey.application_id.in_(apps), ApiKey.environment == "sandbox")
    clients = select(ClientCredential.client_id).where(
        ClientCredential.application_id.in_(apps), ClientCredential.environment == "sandbox"
    )
    return sorted({*session.scalars(keys), *session.scalars(clients)})


def chosen_credentials(session: Session, principal: Principal, credential: str | None) -> list[str]:
    """The principal's credentials, or the one named (admins may name any, "anonymous" included)."""
    require(principal, "sandbox.reset")
    mine = developer_credentials(session, principal)
    if credential is None:
        return mine
    if credential in mine or principal.is_admin:
        return [credential]
    raise NotFound(f"no sandbox credential {credential!r} among your applications'")


def data_summary(session: Session, engine: Engine, principal: Principal, credential: str | None = None) -> list[dict]:
    return state.summary(engine, chosen_credentials(session, principal, credential))


def reset_data(
    session: Session,
    engine: Engine,
    principal: Principal,
    *,
    credential: str | None = None,
    api: str | None = None,
    version: str | None = None,
) -> int:
    """Forget the items the principal's credentials (or one of them) created, in every API or one."""
    credentials = chosen_credentials(session, principal, credential)
    api_ref = normalise_api_ref(api) if api else None
    if version is not None and api_ref is None:
        raise BadRequest("name the API (api=namespace/name) to reset one of its versions")
    return state.reset(engine, credentials, api_ref, version)


@dataclass(frozen=True)
class DataRow:
    """One line of a developer's sandbox data page: a credential's items in one API version, with the
    application and credential named as the application pages name them."""

    credential: str  # key id or client id: what `reset_data(credential=...)` takes
    api: str  # api ref
    version: str
    items: int
    last_change: datetime | None
    label: str  # the key's public prefix (`dh_test_<id>`) or the client id
    kind: str  # "key" | "OAuth2 client"
    application: str  # its name
    application_uid: str

    @property
    def api_name(self) -> str:
        """`namespace/name`, as URLs and the reset form take it."""
        return self.api.split(":", 1)[-1]


def developer_data(session: Session, engine: Engine, principal: Principal) -> list[DataRow]:
    """`data_summary` of all the principal's credentials, each row naming its application and credential."""
    rows = data_summary(session, engine, principal)
    names = _credential_names(session, [row["credential"] for row in rows])
    return [DataRow(**row, **names[row["credential"]]) for row in rows if row["credential"] in names]


def _credential_names(session: Session, credentials: list[str]) -> dict[str, dict[str, str]]:
    if not credentials:
        return {}
    named: dict[str, dict[str, str]] = {}
    keys = select(ApiKey, Application).join(Application, ApiKey.application_id == Application.id)
    for key, app in session.execute(keys.where(ApiKey.key_id.in_(credentials))):
        named[key.key_id] = {"label": key.prefix, "kind": "key", "application": app.name, "application_uid": app.uid}
    clients = select(ClientCredential, Application).join(Application, ClientCredential.application_id == Application.id)
    for client, app in session.execute(clients.where(ClientCredential.client_id.in_(credentials))):
        named[client.client_id] = {
            "label": client.client_id,
            "kind": "OAuth2 client",
            "application": app.name,
            "application_uid": app.uid,
        }
    return named
