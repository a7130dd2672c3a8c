"""What the gateway enforces, as one immutable in-memory snapshot of the portal's access tables.

Why a snapshot: the gateway answers every call with dict lookups (key id → key, (application, product) →
grant, path prefix → route) and precompiled regexes, never a query, so the per-call cost of the rules is
microseconds and the database is not on the hot path. It is built with SQLAlchemy Core selects, one pass
per table, without the ORM (no identity map, no lazy loads: plain tuples into frozen dataclasses).

Why polling a version row: every change to products, plans, applications, subscriptions and credentials
replaces the token in `apps_access_state` in the same transaction (`devhub.apps.models`). A gateway process
reads that one row by primary key every `poll_seconds` (0.25 s: four cheap reads a second) and reloads
only when it moved, so a new key, a revocation or a plan change reaches every process within a second with
no message bus, and a process that missed a notification cannot stay stale. The version is read *before*
the tables: a change committed during a load is either in the load or moves the token again, so it is
never lost. A load that fails keeps the previous snapshot (the gateway keeps serving the last good rules).
Publishing an API version does not touch that token, so the newest `spec_versions` id is polled alongside.

A reload reads everything again: ~0.45 s (SQLite) to ~0.6 s (PostgreSQL) for 20k applications with a key
and a subscription each, in a worker thread. Well beyond that, reloads should become incremental (rows
changed since the last load), which the token alone cannot tell.

Routes: each product has one at its prefix (`/payments`) and one per distinct path of its API entries
(`/payments/v1`, `/payments/v2`), so two versions of one API are served side by side. A host name listed
by a product maps to a table of that product's routes keyed with and without its prefix, so on that host
`/v1/charges` and `/payments/v1/charges` are the same call; other hosts use the path table alone.

Operations are matched per route, against the OpenAPI path templates of the API entries served there:
the version an entry pins, else the newest published one. Per route and method, literal paths are a dict,
and the templates sharing a literal first segment are compiled into one alternation regex (more literal
templates first), so matching is a dict hit or one small `re.match`, however large the API.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

from joserfc.jwk import KeySet
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection, Engine

from devhub.apps.models import (
    AccessState,
    ApiKey,
    Application,
    ClientCredential,
    Plan,
    Product,
    ProductApi,
    SigningKey,
    Subscription,
)
from devhub.apps.service import LIVE_STATES
from devhub.identity.models import User
from devhub.specs.models import SpecOperation, SpecVersion

log = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
_PARAM = re.compile(r"\{[^{}/]+\}")


# Seconds of each fixed window, in the order `limits` checks them (month is a calendar month, marked 0).
WINDOWS = (
    ("rate_per_second", 1),
    ("rate_per_minute", 60),
    ("rate_per_hour", 3600),
    ("quota_per_day", 86400),
    ("quota_per_month", 0),
)


@dataclass(frozen=True)
class PlanEntry:
    plan_id: int
    product_id: int
    slug: str
    credential_type: str  # api_key | oauth2 | keyless
    key_in_query: bool
    rate_per_second: int | None
    rate_per_minute: int | None
    rate_per_hour: int | None
    quota_per_day: int | None
    quota_per_month: int | None
    scopes: frozenset[str]
    # (name, seconds or 0 for the calendar month, limit) of the windows the plan sets; computed once.
    windows: tuple[tuple[str, int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        windows = tuple(
            (name, seconds, getattr(self, name)) for name, seconds in WINDOWS if getattr(self, name) is not None
        )
        object.__setattr__(self, "windows", windows)


@dataclass(frozen=True)
class Route:
    """Where calls to one path prefix of a product go: the product's own prefix, or its prefix plus the path
    segment of some of its API entries (`/payments/v1`)."""

    product_id: int
    slug: str
    prefix: str  # "/payments" or "/payments/v1"
    upstreams: dict[str, str | None]  # environment → base URL (None: sandbox → the built-in sandbox)
    keyless_plan: PlanEntry | None
    api_refs: tuple[str, ...]  # every API of the product
    # What a 401 without credentials asks for: Bearer when the product has OAuth2 plans, else ApiKey.
    challenge: str = 'ApiKey realm="devhub"'
    segment: str = ""  # "/v1": the API entry's path, kept on the way upstream ("" for the product's prefix)
    apis: tuple[tuple[str, str], ...] = ()  # (api_ref, version) served here; the first is the default
    scope: object = None  # the key of this route's operations in `Snapshot.operations`

    def upstream_path(self, rest: str) -> str:
        """The path sent upstream: what follows the product's prefix (the API entry's segment included)."""
        if not self.segment:
            return rest
        return self.segment if rest == "/" else self.segment + rest


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    secret_hash: str  # hex SHA-256 of the secret part
    app_id: int
    app_uid: str
    environment: str
    expires_at: float | None  # epoch seconds
    revoked: bool
    grace_until: float | None
    replaced: bool


@dataclass(frozen=True)
class ClientEntry:
    client_id: str
    app_id: int
    app_uid: str
    environment: str
    revoked: bool


@dataclass(frozen=True)
class Grant:
    subscription_id: int | None  # None for the anonymous grant of a keyless plan
    subscription_uid: str | None
    app_id: int | None
    app_uid: str | None
    product_id: int
    state: str  # pending | approved | suspended
    plan: PlanEntry


@dataclass
class _Group:
    regex: re.Pattern  # one alternative per template, each its own group: `lastindex` says which matched
    targets: list[tuple[str, str, str]]  # by group number - 1


@dataclass
class _Matcher:
    """The operations of one product and method: literal paths by dict; templates grouped by their first
    segment when it is literal (one small regex per segment), the others in one regex tried last."""

    literal: dict[str, tuple[str, str, str]]
    by_segment: dict[str, _Group]
    wild: _Group | None


NO_OPERATION: tuple[None, None, None] = (None, None, None)


class Snapshot:
    """One consistent view of the access rules; never mutated after `load_snapshot` builds it."""

    def __init__(
        self,
        version: int,
        routes: dict[str, Route],
        keys: dict[str, KeyEntry],
        clients: dict[str, ClientEntry],
        grants: dict[tuple[int, int], Grant],
        operations: dict[tuple[int, str], _Matcher],
        jwks: KeySet,
        spec_mark: int = 0,
        deprecations: dict[tuple[str, str, str], tuple[tuple[str, str], ...]] | None = None,
        hosts: dict[str, dict[str, Route]] | None = None,
    ) -> None:
        self.version = version
        # host name → that product's routes by prefix, with and without the product's prefix ("" = its root)
        self.hosts = hosts or {}
        # (api_ref, version, operation or "") -> the Deprecation/Sunset headers of calls to it
        self.deprecations = deprecations or {}
        self.spec_mark = spec_mark  # the newest published spec version id when loaded
        self.routes = routes
        self.keys = keys
        self.clients = clients
        self.grants = grants
        self.operations = operations
        self.jwks = jwks

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(0, {}, {}, {}, {}, {}, KeySet([]))

    def deprecation_headers(self, api_ref: str | None, version: str | None, operation: str | None) -> tuple:
        """`Deprecation` and `Sunset` headers for a call to this operation (its own deprecation, else its
        version's); empty when neither is deprecated."""
        if api_ref is None or not self.deprecations:
            return ()
        found = self.deprecations.get((api_ref, version or "", operation or ""))
        return found if found is not None else self.deprecations.get((api_ref, version or "", ""), ())

    def route_for(self, path: str, host: str | None = None) -> tuple[Route, str] | None:
        """The route with the longest prefix of `path` ending on a segment boundary, and the rest of the
        path (starting with "/"): the path of the call as the API's spec has it. With a `host` (the Host
        header, lower case, without port) routed to a product, only that product's routes count, and its
        prefix may be left out."""
        routes = self.routes
        if host is not None and self.hosts:
            routes = self.hosts.get(host, routes)
        candidate = path.lower() if not path.islower() else path
        if len(candidate) > 1 and candidate.endswith("/"):
            candidate = candidate.rstrip("/") or "/"
        while True:
            route = routes.get(candidate)
            if route is not None:
                return route, path[len(candidate) :] or "/"
            if not candidate:
                return None
            cut = candidate.rfind("/")
            candidate = candidate[:cut] if cut > 0 else ""

    def key(self, key_id: str) -> KeyEntry | None:
        return self.keys.get(key_id)

    def client(self, client_id: str) -> ClientEntry | None:
        return self.clients.get(client_id)

    def grant(self, app_id: int, product_id: int) -> Grant | None:
        return self.grants.get((app_id, product_id))

    def operation_for(self, scope: object, method: str, path: str) -> tuple[str | None, str | None, str | None]:
        """(api_ref, version, operationId or "METHOD /template") of the operation a call to a route matches
        (`scope` is the route's `scope`; `path` the rest of the call's path after the route's prefix)."""
        matcher = self.operations.get((scope, method.upper()))
        if matcher is None:
            return NO_OPERATION
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        hit = matcher.literal.get(path)
        if hit is not None:
            return hit
        cut = path.find("/", 1)
        group = matcher.by_segment.get(path[1:cut] if cut > 0 else path[1:])
        for candidate in (group, matcher.wild):
            if candidate is not None:
                match = candidate.regex.match(path)
                if match is not None:
                    return candidate.targets[match.lastindex - 1]
        return NO_OPERATION


def _template_regex(template: str) -> str:
    parts, last = [], 0
    for param in _PARAM.finditer(template):
        parts.append(re.escape(template[last : param.start()]))
        parts.append("[^/]+")
        last = param.end()
    parts.append(re.escape(template[last:]))
    return "".join(parts)


def _group(items: list[tuple[str, tuple[str, str, str]]]) -> _Group:
    regex = re.compile("|".join(f"({_template_regex(template)})$" for template, _ in items))
    return _Group(regex, [target for _, target in items])


def _build_matchers(rows: list[tuple[object, str, str, str, str, str | None]]) -> dict[tuple[object, str], _Matcher]:
    """rows: (scope, api_ref, version, method, path template, operation_id); scope is a route's `scope`."""
    grouped: dict[tuple[object, str], list[tuple[str, tuple[str, str, str]]]] = {}
    for scope, api_ref, version, method, template, operation_id in rows:
        method = (method or "").upper()
        if method not in HTTP_METHODS or not template.startswith("/"):
            continue
        template = template.rstrip("/") or "/"
        label = operation_id or f"{method} {template}"
        grouped.setdefault((scope, method), []).append((template, (api_ref, version, label)))
    matchers: dict[tuple[object, str], _Matcher] = {}
    for key, entries in grouped.items():
        literal: dict[str, tuple[str, str, str]] = {}
        templated: list[tuple[str, tuple[str, str, str]]] = []
        for template, target in entries:
            if _PARAM.search(template) is None:
                literal.setdefault(template, target)
            else:
                templated.append((template, target))
        # More literal segments first: /pets/mine before /pets/{id}; longer templates before shorter.
        templated.sort(key=lambda item: (len(_PARAM.findall(item[0])), -len(item[0])))
        segments: dict[str, list[tuple[str, tuple[str, str, str]]]] = {}
        wild: list[tuple[str, tuple[str, str, str]]] = []
        for template, target in templated:
            first = template[1:].split("/", 1)[0]
            (wild if "{" in first else segments.setdefault(first, [])).append((template, target))
        matchers[key] = _Matcher(
            literal, {first: _group(items) for first, items in segments.items()}, _group(wild) if wild else None
        )
    return matchers


def _plan_entry(row) -> PlanEntry:
    return PlanEntry(
        plan_id=row.id,
        product_id=row.product_id,
        slug=row.slug,
        credential_type=row.credential_type,
        key_in_query=bool(row.key_in_query),
        rate_per_second=row.rate_per_second,
        rate_per_minute=row.rate_per_minute,
        rate_per_hour=row.rate_per_hour,
        quota_per_day=row.quota_per_day,
        quota_per_month=row.quota_per_month,
        scopes=frozenset(row.scopes or ()),
    )


def read_version(connection: Connection) -> int:
    return connection.scalar(select(AccessState.version).where(AccessState.id == 1)) or 0


def read_spec_mark(connection: Connection) -> int:
    """The newest spec version id (a primary-key max): publishing a version changes what operations match,
    and publishing does not touch the access token."""
    return connection.scalar(select(func.max(SpecVersion.id))) or 0


def load_snapshot(engine: Engine) -> Snapshot:
    """Read the access tables (one Core select each) into a new Snapshot."""
    with engine.connect() as connection:
        version, spec_mark = read_version(connection), read_spec_mark(connection)
        return _load(connection, version, spec_mark)


def _load(connection: Connection, version: int, spec_mark: int = 0) -> Snapshot:
    products = Product.__table__
    product_rows = connection.execute(
        select(
            products.c.id,
            products.c.slug,
            products.c.gateway_path,
            products.c.hosts,
            products.c.sandbox_url,
            products.c.production_url,
        ).where(products.c.status == "active")
    ).all()
    active = {row.id for row in product_rows}

    plans: dict[int, PlanEntry] = {}
    keyless: dict[int, PlanEntry] = {}
    oauth_products: set[int] = set()
    for row in connection.execute(select(Plan.__table__)):
        if row.product_id not in active:
            continue
        entry = plans[row.id] = _plan_entry(row)
        if row.credential_type == "oauth2":
            oauth_products.add(row.product_id)
        if row.credential_type == "keyless" and row.status == "active" and row.product_id not in keyless:
            keyless[row.product_id] = entry

    entries: dict[int, list[tuple[str, str | None, str | None]]] = {}  # product → (api_ref, pinned, path)
    for row in connection.execute(select(ProductApi.__table__).order_by(ProductApi.api_ref, ProductApi.id)):
        if row.product_id in active:
            entries.setdefault(row.product_id, []).append((row.api_ref, row.version, row.path))
    resolve = _version_resolver(connection, {ref for pairs in entries.values() for ref, _, _ in pairs})

    routes: dict[str, Route] = {}
    hosts: dict[str, dict[str, Route]] = {}
    served: dict[int, list[tuple[object, str, str]]] = {}  # spec version id → [(route scope, api_ref, version)]
    product_routes: list[tuple[object, list[Route]]] = []
    for row in product_rows:
        own = _product_routes(row, entries.get(row.id, []), resolve, keyless, oauth_products)
        product_routes.append((row, own))
        scopes = {route.segment: route.scope for route in own}
        for ref, pinned, path in entries.get(row.id, []):
            version_id, label = resolve(ref, pinned)
            if version_id is not None:  # an entry's operations match at its own route only
                served.setdefault(version_id, []).append((scopes[f"/{path}" if path else ""], ref, label))
    for _, own in product_routes:  # products' own prefixes first: they win over an API path that clashes
        routes.setdefault(own[0].prefix, own[0])
    for _, own in product_routes:
        for route in own[1:]:
            routes.setdefault(route.prefix, route)
    for row, own in product_routes:
        table: dict[str, Route] = {route.prefix: route for route in own}
        for route in own:
            table.setdefault(route.segment, route)  # without the product's prefix ("" is its root)
        for host in row.hosts or ():
            hosts.setdefault(host.lower(), table)
    operation_rows = _operation_rows(connection, served)

    # The big tables: fetched whole (`.all()`: one fetchall, not a fetchone per row) and unpacked as tuples.
    # An application owned by a person works only while that account is approved: revoking a developer
    # (by an admin or SCIM) stops their applications' credentials too. Team applications outlive members.
    apps, users = Application.__table__, User.__table__
    active = select(apps.c.id, apps.c.uid).outerjoin(users, users.c.id == apps.c.owner_user_id)
    active = active.where(or_(apps.c.owner_user_id.is_(None), users.c.status == "approved"))
    app_uids = dict(connection.execute(active).all())

    grants: dict[tuple[int, int], Grant] = {}
    subs = Subscription.__table__
    query = select(subs.c.id, subs.c.uid, subs.c.application_id, subs.c.plan_id, subs.c.product_id, subs.c.state)
    for sub_id, sub_uid, app_id, plan_id, product_id, state in connection.execute(
        query.where(subs.c.state.in_(LIVE_STATES))
    ).all():
        plan = plans.get(plan_id)
        app_uid = app_uids.get(app_id)
        if plan is not None and app_uid is not None:
            grants[(app_id, product_id)] = Grant(sub_id, sub_uid, app_id, app_uid, product_id, state, plan)

    keys: dict[str, KeyEntry] = {}
    api_keys = ApiKey.__table__
    key_query = select(
        api_keys.c.key_id,
        api_keys.c.secret_hash,
        api_keys.c.application_id,
        api_keys.c.environment,
        api_keys.c.expires_at,
        api_keys.c.revoked_at,
        api_keys.c.grace_until,
        api_keys.c.replaced_by_id,
    )
    for key_id, secret_hash, app_id, environment, expires, revoked, grace, replaced in connection.execute(
        key_query
    ).all():
        app_uid = app_uids.get(app_id)
        if app_uid is not None:
            keys[key_id] = KeyEntry(
                key_id,
                secret_hash,
                app_id,
                app_uid,
                environment,
                None if expires is None else expires.timestamp(),
                revoked is not None,
                None if grace is None else grace.timestamp(),
                replaced is not None,
            )

    clients: dict[str, ClientEntry] = {}
    creds = ClientCredential.__table__
    cred_query = select(creds.c.client_id, creds.c.application_id, creds.c.environment, creds.c.revoked_at)
    for client_id, app_id, environment, revoked in connection.execute(cred_query).all():
        app_uid = app_uids.get(app_id)
        if app_uid is not None:
            clients[client_id] = ClientEntry(client_id, app_id, app_uid, environment, revoked is not None)

    signing = SigningKey.__table__
    public = [
        row.public_jwk
        for row in connection.execute(select(signing.c.public_jwk, signing.c.retired_at))
        if row.retired_at is None
    ]
    jwks = KeySet.import_key_set({"keys": public}) if public else KeySet([])

    operations = _build_matchers(operation_rows)
    deprecations = _load_deprecations(connection)
    return Snapshot(version, routes, keys, clients, grants, operations, jwks, spec_mark, deprecations, hosts)


def _product_routes(row, entries, resolve, keyless: dict, oauth_products: set) -> list[Route]:
    """A product's routes: its prefix (serving the API entries without a path; for the built-in sandbox's
    default, every entry when none lacks a path), then one per distinct API entry path, in order."""
    prefix = row.gateway_path.lower()
    by_path: dict[str, list[tuple[str, str]]] = {"": []}
    for ref, pinned, path in entries:
        label = resolve(ref, pinned)[1]
        served = by_path.setdefault(f"/{path}" if path else "", [])
        if label is not None:
            served.append((ref, label))
    if not by_path[""]:
        by_path[""] = [pair for pairs in by_path.values() for pair in pairs]
    common = dict(
        product_id=row.id,
        slug=row.slug,
        upstreams={"sandbox": row.sandbox_url, "production": row.production_url},
        keyless_plan=keyless.get(row.id),
        api_refs=tuple(sorted({ref for ref, _, _ in entries})),
        challenge='Bearer realm="devhub"' if row.id in oauth_products else 'ApiKey realm="devhub"',
    )
    return [
        Route(prefix=prefix + segment, segment=segment, apis=tuple(apis), scope=prefix + segment, **common)
        for segment, apis in by_path.items()
    ]


def _load_deprecations(connection: Connection) -> dict[tuple[str, str, str], tuple[tuple[str, str], ...]]:
    """Header values per deprecated version ("" operation) and operation, computed once per snapshot by
    governance's pure function; an operation is keyed by its operationId and by `METHOD /template`, the two
    names `operation_for` gives."""
    from devhub.governance.models import Deprecation
    from devhub.governance.service import deprecation_headers

    rows = connection.execute(select(Deprecation.__table__)).all()
    whole = {(row.api_ref, row.version): row for row in rows if not row.anchor}
    out: dict[tuple[str, str, str], tuple[tuple[str, str], ...]] = {}
    for (api_ref, version), row in whole.items():
        out[(api_ref, version, "")] = tuple(deprecation_headers(row).items())
    for row in rows:
        if not row.anchor:
            continue
        headers = tuple(deprecation_headers(whole.get((row.api_ref, row.version)), row).items())
        names = [row.operation_id] if row.operation_id else []
        if row.method and row.path:
            names.append(f"{row.method.upper()} {row.path}")
        for name in names:
            out[(row.api_ref, row.version, name)] = headers
    return out


def _version_resolver(connection: Connection, refs: set[str]):
    """A function (api_ref, pinned version or None) → (spec version id or None, version label or None): the
    pinned version, else the newest published OpenAPI one."""
    newest: dict[str, tuple[int, str]] = {}
    by_name: dict[tuple[str, str], int] = {}
    if refs:
        versions = SpecVersion.__table__
        query = (
            select(versions.c.id, versions.c.api_ref, versions.c.version)
            .where(versions.c.api_ref.in_(sorted(refs)), versions.c.format == "openapi")
            .order_by(versions.c.published_at, versions.c.id)
        )
        for row in connection.execute(query):
            newest[row.api_ref] = (row.id, row.version)  # ascending: the last one wins
            by_name[(row.api_ref, row.version)] = row.id

    def resolve(ref: str, pinned: str | None) -> tuple[int | None, str | None]:
        if pinned is not None:
            return by_name.get((ref, pinned)), pinned
        return newest.get(ref, (None, None))

    return resolve


def _operation_rows(connection: Connection, served: dict[int, list[tuple[object, str, str]]]) -> list[tuple]:
    """(scope, api_ref, version, method, template, operationId) of every operation each route serves."""
    if not served:
        return []
    ops = SpecOperation.__table__
    rows = []
    op_query = select(ops.c.version_id, ops.c.method, ops.c.path, ops.c.operation_id).where(
        ops.c.version_id.in_(sorted(served))
    )
    for row in connection.execute(op_query.order_by(ops.c.id)):
        for scope, ref, label in served[row.version_id]:
            rows.append((scope, ref, label, row.method, row.path, row.operation_id))
    return rows


class SnapshotStore:
    """The current snapshot of one gateway process, reloaded when the access version moves."""

    def __init__(self, engine: Engine, poll_seconds: float = 0.25) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.reloads = 0  # how many snapshots were built (a metric)
        self.errors = 0  # failed polls or loads (a metric); the last good snapshot stays in use
        self.current: Snapshot = load_snapshot(engine)

    def refresh(self) -> bool:
        """Reload when the access version or the newest spec version moved (two primary-key reads
        otherwise); True when reloaded."""
        with self.engine.connect() as connection:
            version, spec_mark = read_version(connection), read_spec_mark(connection)
            if version == self.current.version and spec_mark == self.current.spec_mark:
                return False
            snapshot = _load(connection, version, spec_mark)
        self.current = snapshot  # one reference swap: requests see the old or the new snapshot, whole
        self.reloads += 1
        log.info(
            "gateway snapshot reloaded: version %s, %d keys, %d grants",
            version,
            len(snapshot.keys),
            len(snapshot.grants),
        )
        return True

    async def watch(self) -> None:
        """Poll forever (run it as a task; cancel it to stop). Errors are logged; the old snapshot stays."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                self.errors += 1
                log.exception("gateway snapshot refresh failed; keeping version %s", self.current.version)
