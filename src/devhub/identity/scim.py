"""SCIM 2.0 provisioning (RFC 7643, RFC 7644) at `/scim/v2`, so an identity provider manages accounts and teams.

Resources are (de)serialised, filters parsed and PATCH operations applied with `scim2-models`; this module maps
them onto the portal's own rows. Routes live here too: SCIM has its own error format, authentication and
paths, and nothing else in the portal speaks it.

Authentication: `Authorization: Bearer <DEVHUB_SCIM_TOKEN>`, or a personal access token (`dhp_...`) with the
`scim` scope held by a portal admin. Browser sessions are never accepted (SCIM skips CSRF protection). With no
`scim_token` configured SCIM is off: every path answers 404. Every change is audited with the actor `scim`
(with the admin's user id when a personal access token was used).

Users are the portal's accounts (`identity_users`), all of them, whoever created them:

| SCIM | devhub |
|---|---|
| `id` | the account id |
| `userName` (unique, case-insensitive) | `username` |
| `emails` (required) | `email`: one address per account, reported as `{"value": ..., "type": "work"}`. From a list the primary address wins, then the work address, then the first; a PATCH that adds an address switches to it. A new account without `emails` takes its `userName` if that is an address; a replacement without `emails` keeps the address. |
| `displayName`, `name.formatted` | `display_name` (one value: `displayName` wins when both change; without either, `name.givenName name.familyName`) |
| `active` (required; absent means true on creation, unchanged on replacement) | `status`: true ↔ `approved`; false ↔ `revoked` (set by SCIM), `pending` or `rejected`. Going inactive ends the account's sessions and personal access tokens at once. |
| `externalId` | `external_id` |
| `groups` (read-only) | the SCIM groups the account is a member of |

Attributes devhub does not store (`title`, `phoneNumbers`, extensions, ...) are accepted and ignored, as
identity providers send them unasked; the published schema lists only what is kept, so a client can tell.

DELETE /Users/{id} keeps the row for the audit trail: the account is revoked (sessions and tokens end), leaves
its SCIM groups, its `userName` is released (renamed `deleted-<id>-<userName>`) and SCIM answers 404 for it
from then on. Provisioning the same email address again brings that account back, with the same id.

Groups are catalog Group entities (`group:default/<slug of displayName>`, `spec.type: team`) that SCIM
manages: the SCIM id (a UUID) and `externalId` live in the `devhub.io/scim-id` and
`devhub.io/scim-external-id` annotations, `displayName` is the entity's title (the name, hence the team ref,
never changes after creation). Members are users only (no nested groups); each is an `identity_memberships`
row with source `scim` and role `member`, so SCIM neither sees nor touches memberships granted in the portal,
by SSO or by catalog files. DELETE removes the entity and every membership of the team. A group whose name
is already taken by a catalog entity (for example a team from a catalog file) is refused with 409.

Not supported, and announced so in /ServiceProviderConfig: ETags, password changes, cursor pagination. /Bulk,
/Me and searching several resource types at once (POST /.search) answer 501.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import Field, ValidationError
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Context,
    Error,
    ETag,
    Filter,
    Meta,
    Mutability,
    Pagination,
    Patch,
    PatchOp,
    Reference,
    Required,
    Resource,
    ResourceType,
    ResponseParameters,
    Returned,
    Schema,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import String, and_, cast, exists, false, func, not_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.elements import ColumnElement
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.catalog import service as catalog
from devhub.catalog.models import Entity
from devhub.db import utcnow
from devhub.deps import get_session, get_settings_dep
from devhub.identity import policy, service
from devhub.identity.deps import client_ip, get_principal, request_id
from devhub.identity.models import Membership, User
from devhub.identity.policy import Principal
from devhub.problems import Problem
from devhub.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_ACTOR = "scim"
SCIM_ID = "devhub.io/scim-id"
SCIM_EXTERNAL_ID = "devhub.io/scim-external-id"
DELETED_REASON = "deleted by the identity provider (SCIM)"
DEACTIVATED_REASON = "deactivated by the identity provider (SCIM)"
MAX_BODY_BYTES = 1024 * 1024
MAX_FILTER_LENGTH = 2048
MAX_START_INDEX = 2**31  # beyond any real list; keeps OFFSET within every back-end's integers
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="devhub SCIM"'}

# Identity providers send attributes nobody asked for, Entra sends `remove` operations that select values
# with `value`, and `emails[type eq "work"].value` on an account without such an address: accept all three.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


# --- The resources as devhub serves them ----------------------------------------------------------------


# The referenced resource types, by name (RFC 7643 §7 referenceTypes).
GroupReference = Reference["Group"]
UserReference = Reference["User"]


class UserName(ComplexAttribute):
    formatted: str | None = Field(None, description="The full name; the same value as displayName in devhub.")


class UserEmail(ComplexAttribute):
    value: Annotated[str | None, Required.true] = Field(None, description="The account's email address.")
    type: str | None = Field(None, examples=["work"], description="Always work: devhub keeps one address.")


class UserGroup(ComplexAttribute):
    value: Annotated[str | None, Mutability.read_only, CaseExact.true] = Field(None, description="The group's id.")
    ref: Annotated[GroupReference | None, Mutability.read_only] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display: Annotated[str | None, Mutability.read_only] = None


class ScimUser(Resource[Any]):
    """An account of the developer portal."""

    __schema__ = URN(USER_URN)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = Field(
        None, description="Unique (case-insensitive) name of the account, often the sign-in address."
    )
    name: UserName | None = None
    display_name: str | None = Field(None, description="The name shown in the portal.")
    active: Annotated[bool | None, Required.true] = Field(
        None, description="Whether the account may sign in; false ends its sessions and access tokens."
    )
    emails: Annotated[list[UserEmail] | None, Required.true] = Field(
        None, description="The account's email address (one; the primary one when several are given)."
    )
    groups: Annotated[list[UserGroup] | None, Mutability.read_only, Returned.default] = Field(
        None, description="The SCIM groups (teams) the account is a member of."
    )


class GroupMember(ComplexAttribute):
    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = Field(None, description="A user's id.")
    ref: Annotated[UserReference | None, Mutability.immutable] = Field(
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])


class ScimGroup(Resource[Any]):
    """A team: a Group entity of the catalog."""

    __schema__ = URN(GROUP_URN)

    display_name: Annotated[str | None, Required.true] = Field(None, description="The team's title in the catalog.")
    members: list[GroupMember] | None = Field(None, description="The users in the team (no nested groups).")


# --- Errors ---------------------------------------------------------------------------------------------


class ScimError(Exception):
    """An error answered as a SCIM Error message (RFC 7644 §3.12)."""

    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


class ScimJSONResponse(JSONResponse):
    media_type = SCIM_JSON


def scim_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> ScimJSONResponse:
    return ScimJSONResponse(content, status_code=status_code, headers=headers)


def _scim_type_for(status: int) -> str | None:
    return {409: "uniqueness", 400: "invalidValue"}.get(status)


def _as_scim_error(exc: Exception) -> ScimError:
    if isinstance(exc, ScimError):
        return exc
    if isinstance(exc, SCIMException):
        return ScimError(exc.status, str(exc), exc.scim_type or None)
    if isinstance(exc, ValidationError):
        first = Error.from_validation_errors(exc)[0]
        return ScimError(first.status or 400, first.detail or "invalid request", first.scim_type or "invalidValue")
    if isinstance(exc, Problem):
        headers = WWW_AUTHENTICATE if exc.status == 401 else None
        return ScimError(exc.status, exc.detail or exc.title, _scim_type_for(exc.status), headers)
    if isinstance(exc, RequestValidationError):
        detail = "; ".join(str(err.get("msg")) for err in exc.errors()) or "invalid request"
        return ScimError(400, detail, "invalidValue")
    if isinstance(exc, StarletteHTTPException):
        return ScimError(exc.status_code, str(exc.detail), None, dict(exc.headers or {}) or None)
    if isinstance(exc, IntegrityError):
        return ScimError(409, "a resource with these unique values already exists", "uniqueness")
    log.exception("SCIM request failed")
    return ScimError(500, "the server failed to handle this request")


class ScimRoute(APIRoute):
    """Answers every failure, including those of the app-wide dependencies, as a SCIM Error.

    The request's database session is rolled back first: the session dependency would otherwise commit
    whatever the failed request had written, since the exception never reaches it.
    """

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def scim_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                db = getattr(request.state, "scim_db", None)
                if db is not None:
                    db.rollback()
                error = _as_scim_error(exc)
                return scim_response(
                    error_body(error.status, error.detail, error.scim_type), error.status, error.headers
                )

        return scim_handler


# --- Authentication -------------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_scim(
    request: Request,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> Actor:
    """The SCIM bearer token, or an admin's personal access token with the `scim` scope; nothing else."""
    if not settings.scim_token:
        raise ScimError(404, "SCIM provisioning is not enabled on this portal")
    bearer = _bearer(request)
    if bearer is None:
        raise ScimError(401, "a bearer token is required", headers=WWW_AUTHENTICATE)
    if bearer.startswith(service.TOKEN_PREFIX):
        # The app-wide principal dependency already refused unknown, expired and revoked tokens.
        if principal.token_id is None:
            raise ScimError(401, "the access token is not valid", headers=WWW_AUTHENTICATE)
        if not policy.can(principal, "scim"):
            raise ScimError(403, "SCIM needs a token with the scim scope held by a portal admin")
        return Actor(SCIM_ACTOR, principal.user_id, client_ip(request), request_id(request))
    if not hmac.compare_digest(bearer.encode(), settings.scim_token.encode()):
        raise ScimError(401, "the bearer token is not valid", headers=WWW_AUTHENTICATE)
    return Actor(SCIM_ACTOR, None, client_ip(request), request_id(request))


def scim_db(request: Request, db: DbSession = Depends(get_session, scope="function")) -> DbSession:
    request.state.scim_db = db  # for the rollback in ScimRoute
    return db


async def scim_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ScimError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ScimError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise ScimError(400, "this request needs a JSON body", "invalidSyntax")
    try:
        data = json.loads(bytes(raw))
    except (ValueError, RecursionError):
        raise ScimError(400, "the body is not valid JSON", "invalidSyntax") from None
    if not isinstance(data, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return data


@dataclass(frozen=True)
class ScimCall:
    """What every resource route works with: the request's database session, the settings and who acts."""

    db: DbSession
    settings: Settings
    actor: Actor

    @property
    def base(self) -> str:
        return _base(self.settings)


def scim_call(
    db: DbSession = Depends(scim_db),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(require_scim),  # already run for the router: FastAPI reuses its answer
) -> ScimCall:
    return ScimCall(db, settings, actor)


ScimBody = Annotated[dict[str, Any], Depends(scim_body)]
CurrentCall = Annotated[ScimCall, Depends(scim_call)]

router = APIRouter(
    prefix=PREFIX,
    tags=["scim"],
    route_class=ScimRoute,
    default_response_class=ScimJSONResponse,
    dependencies=[Depends(require_scim)],
)

BODY_DOC = {"requestBody": {"required": True, "content": {SCIM_JSON: {"schema": {"type": "object"}}}}}


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/") + PREFIX


def _commit(db: DbSession) -> None:
    """Commit before answering, so a failing commit is an error response rather than a lost write."""
    db.commit()


# --- Query parameters, filters and sorting ----------------------------------------------------------------


@dataclass
class Search:
    filter: str | None = None
    start_index: int = 1
    count: int | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    attributes: str | None = None
    excluded_attributes: str | None = None


def _int_param(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ScimError(400, f"{name} must be an integer", "invalidValue")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScimError(400, f"{name} must be an integer", "invalidValue") from None


def _str_param(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if not isinstance(value, str):
        raise ScimError(400, f"{name} must be a string", "invalidValue")
    return value


def _search_from(data: dict[str, Any]) -> Search:
    start = _int_param(data.get("startIndex"), "startIndex")
    return Search(
        filter=_str_param(data.get("filter"), "filter"),
        start_index=min(max(1, start), MAX_START_INDEX) if start is not None else 1,  # below 1 means 1
        count=_int_param(data.get("count"), "count"),
        sort_by=_str_param(data.get("sortBy"), "sortBy"),
        sort_order=_str_param(data.get("sortOrder"), "sortOrder"),
        attributes=_str_param(data.get("attributes"), "attributes"),
        excluded_attributes=_str_param(data.get("excludedAttributes"), "excludedAttributes"),
    )


def search_query(
    filter: str | None = Query(None, description='A SCIM filter, e.g. `userName eq "bjensen"`.'),
    startIndex: str | None = Query(None, description="1-based index of the first result."),
    count: str | None = Query(None, description="Results per page (capped by the server)."),
    sortBy: str | None = Query(None),
    sortOrder: str | None = Query(None, description="ascending or descending"),
    attributes: str | None = Query(None, description="Comma-separated attributes to return."),
    excludedAttributes: str | None = Query(None, description="Comma-separated attributes to leave out."),
) -> Search:
    return _search_from(
        {
            "filter": filter,
            "startIndex": startIndex,
            "count": count,
            "sortBy": sortBy,
            "sortOrder": sortOrder,
            "attributes": attributes,
            "excludedAttributes": excludedAttributes,
        }
    )


SearchParameters = Annotated[Search, Depends(search_query)]


def _response_parameters(model: type[Resource[Any]], search: Search) -> ResponseParameters | None:
    if not search.attributes and not search.excluded_attributes:
        return None
    if search.attributes and search.excluded_attributes:
        raise ScimError(400, "attributes and excludedAttributes cannot be used together", "invalidValue")
    try:
        return ResponseParameters[model].model_validate(  # type: ignore[index]
            {"attributes": search.attributes or None, "excludedAttributes": search.excluded_attributes or None}
        )
    except ValidationError as exc:
        raise _as_scim_error(exc) from None


@dataclass(frozen=True)
class Attr:
    """What a filter or sortBy attribute is in SQL.

    kinds: `text` (case-insensitive string), `exact` (case-exact string), `int` (a numeric id), `datetime`,
    `active` (`expr` is the condition "the account is approved"), `const` (a value every resource has), and
    `related` (a membership test built by `related(value)`; `present` says whether there is any).
    """

    kind: str
    expr: Any = None
    const: str | None = None
    related: Callable[[str], ColumnElement[bool]] | None = None
    present: ColumnElement[bool] | None = None


def _attr_key(path: AttrPath, urn: str, prefix: str = "") -> str:
    if path.uri and path.uri.lower() != urn.lower():
        raise ScimError(400, f"{path} is not an attribute of {urn}", "invalidFilter")
    key = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
    return f"{prefix}.{key}" if prefix else key


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ScimError(400, f"{value!r} is not a dateTime", "invalidFilter") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare_const(const: str, op: CompareOperator, value: Any, case_exact: bool) -> ColumnElement[bool]:
    if value is None:
        return false() if op == CompareOperator.eq else true()
    left, right = (const, str(value)) if case_exact else (const.lower(), str(value).lower())
    results = {
        CompareOperator.eq: left == right,
        CompareOperator.ne: left != right,
        CompareOperator.co: right in left,
        CompareOperator.sw: left.startswith(right),
        CompareOperator.ew: left.endswith(right),
        CompareOperator.gt: left > right,
        CompareOperator.ge: left >= right,
        CompareOperator.lt: left < right,
        CompareOperator.le: left <= right,
    }
    return true() if results[op] else false()


def _compare(attr: Attr, op: CompareOperator, value: Any, name: str) -> ColumnElement[bool]:
    """One comparison, never NULL (so that `not` keeps RFC 7644's meaning on unassigned values)."""
    if attr.kind == "const":
        return _compare_const(attr.const or "", op, value, case_exact=name == "meta.resourcetype")
    if attr.kind == "active":
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise ScimError(400, "active compares with eq or ne and true or false", "invalidFilter")
        approved = attr.expr
        return approved if (value is True) == (op == CompareOperator.eq) else not_(approved)
    if attr.kind == "related":
        if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, str):
            raise ScimError(400, f"{name} compares with eq or ne and an id", "invalidFilter")
        found = attr.related(value) if attr.related else false()
        return found if op == CompareOperator.eq else not_(found)

    expr = attr.expr
    if value is None:  # `eq null` and `ne null` are absence and presence
        if op == CompareOperator.eq:
            return expr.is_(None)
        if op == CompareOperator.ne:
            return expr.isnot(None)
        raise ScimError(400, f"null only compares with eq or ne ({name})", "invalidFilter")
    if attr.kind == "datetime":
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            raise ScimError(400, f"{name} is a dateTime: use eq, ne, gt, ge, lt or le", "invalidFilter")
        operand: Any = _parse_datetime(value)
        column: Any = expr
    elif attr.kind == "int":
        text = str(value)
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            column, operand = cast(expr, String), text
        elif not re.fullmatch(r"[0-9]{1,18}", text):
            if op in (CompareOperator.eq, CompareOperator.ne):
                return false() if op == CompareOperator.eq else true()
            raise ScimError(400, f"{name} is compared with an id", "invalidFilter")
        else:
            column, operand = expr, int(text)
    else:
        if not isinstance(value, str):
            raise ScimError(400, f"{name} is a string: compare it with a quoted value", "invalidFilter")
        column, operand = (expr, value) if attr.kind == "exact" else (func.lower(expr), value.lower())

    if op == CompareOperator.ne:
        return or_(expr.is_(None), column != operand)
    if op == CompareOperator.co:
        test = column.contains(operand, autoescape=True)
    elif op == CompareOperator.sw:
        test = column.startswith(operand, autoescape=True)
    elif op == CompareOperator.ew:
        test = column.endswith(operand, autoescape=True)
    else:
        test = {
            CompareOperator.eq: column == operand,
            CompareOperator.gt: column > operand,
            CompareOperator.ge: column >= operand,
            CompareOperator.lt: column < operand,
            CompareOperator.le: column <= operand,
        }[op]
    return and_(expr.isnot(None), test)


def _present(attr: Attr) -> ColumnElement[bool]:
    if attr.kind in ("const", "active", "int"):
        return true()
    if attr.kind == "related":
        return attr.present if attr.present is not None else false()
    return attr.expr.isnot(None)


class SqlFilter(FilterVisitor[ColumnElement[bool]]):
    """A parsed SCIM filter as a SQLAlchemy condition, over the attributes a resource type declares."""

    def __init__(self, attrs: dict[str, Attr], urn: str, prefix: str = "") -> None:
        self.attrs = attrs
        self.urn = urn
        self.prefix = prefix

    def _attr(self, path: AttrPath) -> tuple[str, Attr]:
        key = _attr_key(path, self.urn, self.prefix)
        attr = self.attrs.get(key)
        if attr is None:
            raise ScimError(400, f"cannot filter on {key}: it is not an attribute devhub keeps", "invalidFilter")
        return key, attr

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        key, attr = self._attr(node.attr_path)
        return _compare(attr, node.op, node.value, key)

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        return _present(self._attr(node.attr_path)[1])

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        # The multi-valued attributes devhub keeps have one real sub-attribute each (emails.value,
        # members.value, groups.value), so a selection is the conjunction of its tests.
        key = _attr_key(node.attr_path, self.urn, self.prefix)
        if node.sub_attr or node.attr_path.sub_attr or f"{key}.value" not in self.attrs:
            raise ScimError(400, f"cannot filter on {node.attr_path}[...]", "invalidFilter")
        return SqlFilter(self.attrs, self.urn, prefix=key).visit(node.val_filter)


def _filter_clause(text: str | None, model: type[Resource[Any]], attrs: dict[str, Attr], urn: str):
    if not text or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise ScimError(400, f"filters are limited to {MAX_FILTER_LENGTH} characters", "invalidFilter")
    try:
        parsed = ScimFilter[model](text)  # type: ignore[index]
        return SqlFilter(attrs, urn).visit(parsed.ast)
    except (ScimError, SCIMException):
        raise
    except RecursionError:
        raise ScimError(400, "the filter is nested too deeply", "invalidFilter") from None
    except (ValueError, TypeError) as exc:
        raise ScimError(400, f"invalid filter: {exc}", "invalidFilter") from None


def _order_by(search: Search, sorts: dict[str, Attr], urn: str, tie: Any) -> list:
    order = (search.sort_order or "ascending").strip().lower()
    if order not in ("ascending", "descending"):
        raise ScimError(400, "sortOrder is ascending or descending", "invalidValue")
    if not search.sort_by or not search.sort_by.strip():
        return [tie.desc() if order == "descending" else tie.asc()]
    text = search.sort_by.strip()
    if text.lower().startswith(urn.lower() + ":"):
        text = text[len(urn) + 1 :]
    attr = sorts.get(text.lower())
    if attr is None:
        raise ScimError(400, f"cannot sort by {search.sort_by}", "invalidValue")
    column = func.lower(attr.expr) if attr.kind == "text" else attr.expr
    column = column.desc() if order == "descending" else column.asc()
    return [column.nulls_last(), tie.asc()]


def _page(search: Search, settings: Settings) -> int:
    if search.count is None:
        return settings.page_size
    return min(max(0, search.count), settings.max_page_size)  # RFC 7644 §3.4.2.4: negative means 0


def _run_search(db: DbSession, settings: Settings, kind: ResourceKind, search: Search) -> tuple[int, list[Any]]:
    """The total that match the filter, and the page of them that `startIndex` and `count` ask for."""
    query = kind.rows
    clause = _filter_clause(search.filter, kind.model, kind.attrs, kind.urn)
    if clause is not None:
        query = query.where(clause)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    size = _page(search, settings)
    if size == 0:
        return total, []
    order = _order_by(search, kind.sorts, kind.urn, kind.tie)
    rows = db.scalars(query.order_by(*order).offset(search.start_index - 1).limit(size))
    return total, list(rows)


def _list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


# --- Serving a resource type -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceKind:
    """One SCIM resource type, as the routes that Users and Groups share need it.

    Listing, searching, reading one resource and answering with a resource as it now is are the same steps
    for both types; only how a resource is written differs, and that stays in each type's own routes.
    """

    name: str  # "User": the resource type's id and name
    endpoint: str  # "/Users"
    description: str
    model: type[Resource[Any]]
    attrs: dict[str, Attr]  # what a filter may test
    sorts: dict[str, Attr]  # what sortBy may name
    rows: Any  # the SELECT of every resource of this type
    tie: Any  # the column that orders equal sort values, and the results when sortBy is absent
    find: Callable[[DbSession, str], Any]  # a row by its SCIM id, or a 404 ScimError
    scim_id: Callable[[Any], str]
    # Rows as resources; reads what related rows the response parameters leave in, for all rows at once.
    resources: Callable[[DbSession, list[Any], str, ResponseParameters | None], list[Resource[Any]]]

    @property
    def urn(self) -> str:
        return str(self.model.__schema__)

    def location(self, base: str, row: Any) -> str:
        return f"{base}{self.endpoint}/{self.scim_id(row)}"


def _list(kind: ResourceKind, call: ScimCall, search: Search) -> Response:
    """A ListResponse page of the resources that match a search (query string or POST .search body)."""
    params = _response_parameters(kind.model, search)
    total, rows = _run_search(call.db, call.settings, kind, search)
    found = [
        resource.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params)
        for resource in kind.resources(call.db, rows, call.base, params)
    ]
    return scim_response(_list_response(found, total, search.start_index))


def _answer(
    kind: ResourceKind, call: ScimCall, row: Any, ctx: Context, params: ResponseParameters | None, status: int = 200
) -> Response:
    """The resource as it now is; a created one (201) also says where it lives, in `Location`."""
    resource = kind.resources(call.db, [row], call.base, params)[0]
    content = resource.model_dump(scim_ctx=ctx, response_parameters=params)
    headers = {"Location": kind.location(call.base, row)} if status == 201 else None
    return scim_response(content, status, headers)


def _get(kind: ResourceKind, call: ScimCall, resource_id: str, search: Search) -> Response:
    params = _response_parameters(kind.model, search)  # a bad `attributes` is a 400 even for a missing id
    return _answer(kind, call, kind.find(call.db, resource_id), Context.RESOURCE_QUERY_RESPONSE, params)


# --- Users ----------------------------------------------------------------------------------------------

# An account deleted through SCIM: kept for the audit trail, invisible to SCIM.
LIVE_USER = or_(User.status != "revoked", User.status_reason.is_(None), User.status_reason != DELETED_REASON)
EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _annotation(key: str) -> ColumnElement[str]:
    return Entity.body[("metadata", "annotations", key)].as_string()


# The catalog entities that are SCIM groups.
SCIM_GROUPS = and_(Entity.location_id.is_(None), Entity.kind == "Group", _annotation(SCIM_ID).isnot(None))


def _is_deleted(user: User) -> bool:
    return user.status == "revoked" and user.status_reason == DELETED_REASON


def _in_group_with_id(value: str) -> ColumnElement[bool]:
    teams = select(Entity.ref).where(SCIM_GROUPS, _annotation(SCIM_ID) == value)
    return exists().where(Membership.user_id == User.id, Membership.source == "scim", Membership.team_ref.in_(teams))


USER_DISPLAY_NAME = func.nullif(User.display_name, "")
USER_ATTRS: dict[str, Attr] = {
    "id": Attr("int", User.id),
    "externalid": Attr("exact", User.external_id),
    "username": Attr("text", User.username),
    "displayname": Attr("text", USER_DISPLAY_NAME),
    "name.formatted": Attr("text", USER_DISPLAY_NAME),
    "name": Attr("text", USER_DISPLAY_NAME),
    "emails": Attr("text", User.email),
    "emails.value": Attr("text", User.email),
    "emails.type": Attr("const", const="work"),
    "active": Attr("active", User.status == "approved"),
    "meta.created": Attr("datetime", User.created_at),
    "meta.lastmodified": Attr("datetime", User.updated_at),
    "meta.resourcetype": Attr("const", const="User"),
    "groups": Attr(
        "related",
        related=_in_group_with_id,
        present=exists().where(Membership.user_id == User.id, Membership.source == "scim"),
    ),
}
USER_ATTRS["groups.value"] = USER_ATTRS["groups"]
USER_SORTS: dict[str, Attr] = {
    key: USER_ATTRS[key]
    for key in (
        "id",
        "externalid",
        "username",
        "displayname",
        "name.formatted",
        "emails",
        "emails.value",
        "meta.created",
        "meta.lastmodified",
    )
}


def _user_groups(db: DbSession, user_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The SCIM groups of these accounts: {user id: [(group id, title)]}."""
    found: dict[int, list[tuple[str, str]]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return found
    rows = db.execute(
        select(Membership.user_id, _annotation(SCIM_ID), Entity.title, Entity.name)
        .join(Entity, Entity.ref == Membership.team_ref)
        .where(Membership.source == "scim", Membership.user_id.in_(user_ids), SCIM_GROUPS)
        .order_by(Entity.name)
    )
    for user_id, group_id, title, name in rows:
        found[user_id].append((group_id, title or name))
    return found


def _user_resource(user: User, groups: list[tuple[str, str]], base: str) -> ScimUser:
    return ScimUser(
        id=str(user.id),
        external_id=user.external_id or None,
        user_name=user.username,
        name=UserName(formatted=user.display_name) if user.display_name else None,
        display_name=user.display_name or None,
        active=user.active,
        emails=[UserEmail(value=user.email, type="work")],
        groups=[UserGroup(value=group_id, ref=f"{base}/Groups/{group_id}", display=title) for group_id, title in groups]
        or None,
        meta=Meta(
            resource_type="User",
            created=user.created_at,
            last_modified=user.updated_at or user.created_at,
            location=f"{base}/Users/{user.id}",
        ),
    )


def _user_resources(db: DbSession, users: list[User], base: str, params: ResponseParameters | None) -> list[ScimUser]:
    groups = _user_groups(db, [user.id for user in users])
    return [_user_resource(user, groups[user.id], base) for user in users]


def _get_user(db: DbSession, user_id: str) -> User:
    user = db.get(User, int(user_id)) if re.fullmatch(r"[0-9]{1,18}", user_id) else None
    if user is None or _is_deleted(user):
        raise ScimError(404, f"no user with id {user_id}")
    return user


def _email_from_payload(data: dict[str, Any], creating: bool) -> None:
    """Reduce `emails` to the one address devhub keeps (primary, else work, else first), in place.

    A new account without `emails` takes its `userName` when that is an address.
    """
    emails = data.get("emails")
    entries = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)] if emails else []
    entries = [e for e in entries if e["value"].strip()]
    if entries:
        chosen = (
            next((e for e in entries if e.get("primary") is True), None)
            or next((e for e in entries if str(e.get("type", "")).lower() == "work"), None)
            or entries[0]
        )
        data["emails"] = [{"value": chosen["value"].strip(), "type": "work"}]
    elif creating and isinstance(data.get("userName"), str) and EMAIL_LIKE.match(data["userName"].strip()):
        data["emails"] = [{"value": data["userName"].strip(), "type": "work"}]


def _name_from_payload(data: dict[str, Any]) -> None:
    """Without a display name, `name.givenName name.familyName` gives one."""
    name = data.get("name")
    if not isinstance(name, dict) or data.get("displayName") or name.get("formatted"):
        return
    parts = [name.get(key) for key in ("givenName", "middleName", "familyName")]
    joined = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    if joined:
        data["name"] = {**name, "formatted": joined}


def _validate(model, data: dict[str, Any], ctx: Context):
    try:
        return model.model_validate(data, scim_ctx=ctx, scim_policy=POLICY)
    except ValidationError as exc:
        raise _as_scim_error(exc) from None


def _user_payload(data: dict[str, Any], ctx: Context, current: User | None) -> ScimUser:
    data = dict(data)
    _email_from_payload(data, creating=current is None)
    _name_from_payload(data)
    if current is not None and not data.get("emails"):  # devhub cannot do without: keep the address
        data["emails"] = [{"value": current.email, "type": "work"}]
    if data.get("active") is None:
        data["active"] = current.active if current is not None else True
    return _validate(ScimUser, data, ctx)


def _display_name_of(resource: ScimUser) -> str:
    return (resource.display_name or (resource.name.formatted if resource.name else None) or "").strip()


def _clean_user_name(value: str | None) -> str:
    user_name = (value or "").strip()
    if not user_name:
        raise ScimError(400, "userName is required", "invalidValue")
    if len(user_name) > 320:
        raise ScimError(400, "userName is limited to 320 characters", "invalidValue")
    return user_name


def _clean_email(value: str | None) -> str:
    try:
        return service.normalise_email(value or "")
    except Problem as problem:
        raise ScimError(400, f"emails: {problem.detail}", "invalidValue") from None


def _clean_text(value: str | None, name: str, limit: int = 255) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise ScimError(400, f"{name} is limited to {limit} characters", "invalidValue")
    return text or None


def _check_user_name_free(db: DbSession, user_name: str, user_id: int | None) -> None:
    query = select(User.id).where(func.lower(User.username) == user_name.lower())
    if user_id is not None:
        query = query.where(User.id != user_id)
    if db.scalar(query.limit(1)) is not None:
        raise ScimError(409, f"userName {user_name!r} is already taken", "uniqueness")


def _check_email_free(db: DbSession, email: str, user_id: int) -> None:
    if db.scalar(select(User.id).where(User.email == email, User.id != user_id).limit(1)) is not None:
        raise ScimError(409, f"another account already has the address {email}", "uniqueness")


def _set_active(db: DbSession, settings: Settings, user: User, active: bool, actor: Actor) -> None:
    if active != user.active:
        # Leaving `approved` ends every session and personal access token of the account (set_status).
        service.set_status(
            db, settings, user, "approved" if active else "revoked", actor, None if active else DEACTIVATED_REASON
        )


def _create_user(db: DbSession, settings: Settings, resource: ScimUser, actor: Actor) -> User:
    user_name = _clean_user_name(resource.user_name)
    email = _clean_email(resource.emails[0].value if resource.emails else None)
    display_name = _clean_text(_display_name_of(resource), "displayName") or ""
    external_id = _clean_text(resource.external_id, "externalId")
    active = resource.active is not False
    _check_user_name_free(db, user_name, None)
    existing = db.scalar(select(User).where(User.email == email))
    if existing is not None and not _is_deleted(existing):
        raise ScimError(409, f"an account with the address {email} already exists", "uniqueness")
    if existing is not None:  # deleted through SCIM earlier: the same person's account comes back
        user = existing
        user.username = user_name
        user.display_name = display_name or email.split("@")[0]
        status, reason = ("approved", None) if active else ("revoked", DEACTIVATED_REASON)
        service.set_status(db, settings, user, status, actor, reason)
    else:
        user = service.create_user(
            db,
            settings,
            email=email,
            username=user_name,
            display_name=display_name,
            status="approved" if active else "revoked",
            actor=actor,
        )
        if not active:
            user.status_reason = DEACTIVATED_REASON
    user.external_id = external_id
    user.email_verified_at = user.email_verified_at or utcnow()  # the identity provider vouches for it
    db.flush()
    audit.record(
        db,
        actor,
        "scim.user.create",
        email,
        id=user.id,
        userName=user_name,
        externalId=external_id,
        active=active,
        restored=existing is not None,
    )
    return user


def _update_user(
    db: DbSession, settings: Settings, user: User, resource: ScimUser, actor: Actor, display_name: str
) -> None:
    changes: dict[str, list[Any]] = {}
    user_name = _clean_user_name(resource.user_name)
    if user_name != user.username:
        _check_user_name_free(db, user_name, user.id)
        changes["userName"] = [user.username, user_name]
        user.username = user_name
    email = _clean_email(resource.emails[0].value if resource.emails else None)
    if email != user.email:
        _check_email_free(db, email, user.id)
        changes["email"] = [user.email, email]
        user.email = email
        user.email_verified_at = utcnow()
    display = _clean_text(display_name, "displayName") or ""
    if display != user.display_name:
        changes["displayName"] = [user.display_name, display]
        user.display_name = display
    external_id = _clean_text(resource.external_id, "externalId")
    if external_id != user.external_id:
        changes["externalId"] = [user.external_id, external_id]
        user.external_id = external_id
    db.flush()
    if changes:
        audit.record(db, actor, "scim.user.update", user.email, id=user.id, changes=changes)
    if resource.active is not None:
        _set_active(db, settings, user, resource.active, actor)


def _patched_email(entries: list[UserEmail] | None, current: str) -> str | None:
    """After a PATCH: an address that differs from the current one was just set (the last such wins)."""
    values = [entry.value.strip() for entry in entries or [] if entry.value and entry.value.strip()]
    changed = [value for value in values if value.lower() != current]
    return changed[-1] if changed else (values[0] if values else None)


def _delete_user(db: DbSession, settings: Settings, user: User, actor: Actor) -> None:
    user_name = user.username
    user.username = f"deleted-{user.id}-{user_name}"[:320]  # releases the userName for re-provisioning
    service.set_status(db, settings, user, "revoked", actor, DELETED_REASON)
    scim_memberships = select(Membership).where(Membership.user_id == user.id, Membership.source == "scim")
    for membership in db.scalars(scim_memberships).all():
        service.set_membership(db, user, membership.team_ref, None, actor, source="scim")
    audit.record(db, actor, "scim.user.delete", user.email, id=user.id, userName=user_name)


USERS = ResourceKind(
    name="User",
    endpoint="/Users",
    description="Accounts of the developer portal",
    model=ScimUser,
    attrs=USER_ATTRS,
    sorts=USER_SORTS,
    rows=select(User).where(LIVE_USER),
    tie=User.id,
    find=_get_user,
    scim_id=lambda user: str(user.id),
    resources=_user_resources,
)


# --- Groups ---------------------------------------------------------------------------------------------


def _members_of(db: DbSession, refs: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {ref: [] for ref in refs}
    if refs:
        rows = db.execute(
            select(Membership.team_ref, Membership.user_id)
            .where(Membership.team_ref.in_(refs), Membership.source == "scim")
            .order_by(Membership.user_id)
        )
        for ref, user_id in rows:
            found[ref].append(user_id)
    return found


def _has_member(value: str) -> ColumnElement[bool]:
    if not re.fullmatch(r"[0-9]{1,18}", value):
        return false()
    return exists().where(
        Membership.team_ref == Entity.ref, Membership.source == "scim", Membership.user_id == int(value)
    )


GROUP_ATTRS: dict[str, Attr] = {
    "id": Attr("exact", _annotation(SCIM_ID)),
    "externalid": Attr("exact", _annotation(SCIM_EXTERNAL_ID)),
    "displayname": Attr("text", Entity.title),
    "members": Attr(
        "related",
        related=_has_member,
        present=exists().where(Membership.team_ref == Entity.ref, Membership.source == "scim"),
    ),
    "members.type": Attr("const", const="User"),
    "meta.created": Attr("datetime", Entity.created_at),
    "meta.lastmodified": Attr("datetime", Entity.updated_at),
    "meta.resourcetype": Attr("const", const="Group"),
}
GROUP_ATTRS["members.value"] = GROUP_ATTRS["members"]
GROUP_SORTS = {
    key: GROUP_ATTRS[key] for key in ("id", "externalid", "displayname", "meta.created", "meta.lastmodified")
}


def _annotations(entity: Entity) -> dict[str, str]:
    return dict((entity.body.get("metadata") or {}).get("annotations") or {})


def _group_title(entity: Entity) -> str:
    return str((entity.body.get("metadata") or {}).get("title") or entity.name)


def _group_resource(entity: Entity, members: list[int] | None, base: str) -> ScimGroup:
    annotations = _annotations(entity)
    group_id = annotations[SCIM_ID]
    return ScimGroup(
        id=group_id,
        external_id=annotations.get(SCIM_EXTERNAL_ID) or None,
        display_name=_group_title(entity),
        members=[GroupMember(value=str(uid), ref=f"{base}/Users/{uid}", type="User") for uid in members or []] or None,
        meta=Meta(
            resource_type="Group",
            created=entity.created_at,
            last_modified=entity.updated_at or entity.created_at,
            location=f"{base}/Groups/{group_id}",
        ),
    )


def _wants_members(params: ResponseParameters | None) -> bool:
    """Whether the response carries members (they can be many: skip reading them when they are left out)."""
    if params is None:
        return True
    if params.attributes:
        return "members" in _top_level_names(params.attributes)
    return "members" not in _top_level_names(params.excluded_attributes)


def _top_level_names(paths) -> set[str]:
    return {str(path).split(".")[0].split(":")[-1].lower() for path in paths or []}


def _get_group(db: DbSession, group_id: str) -> Entity:
    entity = (
        db.scalar(select(Entity).where(SCIM_GROUPS, _annotation(SCIM_ID) == group_id)) if len(group_id) <= 64 else None
    )
    if entity is None:
        raise ScimError(404, f"no group with id {group_id}")
    return entity


def _group_resources(
    db: DbSession, entities: list[Entity], base: str, params: ResponseParameters | None
) -> list[ScimGroup]:
    members = _members_of(db, [entity.ref for entity in entities]) if _wants_members(params) else {}
    return [_group_resource(entity, members.get(entity.ref), base) for entity in entities]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:63].strip("-")


def _group_data(name: str, title: str, group_id: str, external_id: str | None) -> dict[str, Any]:
    annotations = {SCIM_ID: group_id}
    if external_id:
        annotations[SCIM_EXTERNAL_ID] = external_id
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name, "title": title, "annotations": annotations},
        "spec": {"type": "team", "children": []},
    }


def _member_ids(db: DbSession, members: list[GroupMember] | None) -> set[int]:
    ids: set[int] = set()
    for member in members or []:
        if member.type and member.type.lower() != "user":
            raise ScimError(400, "members are users: devhub has no nested groups", "invalidValue")
        value = (member.value or (str(member.ref).rstrip("/").rsplit("/", 1)[-1] if member.ref else "")).strip()
        if not re.fullmatch(r"[0-9]{1,18}", value):
            raise ScimError(400, f"members: {value!r} is not the id of a user", "invalidValue")
        ids.add(int(value))
    if ids:
        known = set(db.scalars(select(User.id).where(User.id.in_(ids), LIVE_USER)))
        if missing := sorted(ids - known):
            raise ScimError(400, f"members: no user with id {', '.join(map(str, missing))}", "invalidValue")
    return ids


def _sync_members(db: DbSession, ref: str, before: set[int], after: set[int], actor: Actor) -> None:
    changed = before ^ after
    if not changed:
        return
    users = {user.id: user for user in db.scalars(select(User).where(User.id.in_(changed)))}
    for user_id in sorted(after - before):
        service.set_membership(db, users[user_id], ref, "member", actor, source="scim")
    for user_id in sorted(before - after):
        if user_id in users:
            service.set_membership(db, users[user_id], ref, None, actor, source="scim")


def _clean_display_name(value: str | None) -> str:
    name = _clean_text(value, "displayName")
    if not name:
        raise ScimError(400, "displayName is required", "invalidValue")
    return name


def _put_entity(db: DbSession, data: dict[str, Any]) -> Entity:
    try:
        return catalog.put_managed_entity(db, data, managed_by="scim")
    except Problem as problem:
        raise ScimError(problem.status, problem.detail or problem.title, _scim_type_for(problem.status)) from None


def _create_group(db: DbSession, resource: ScimGroup, actor: Actor) -> Entity:
    title = _clean_display_name(resource.display_name)
    external_id = _clean_text(resource.external_id, "externalId")
    group_id = str(uuid.uuid4())
    name = _slug(title) or f"group-{group_id[:8]}"
    ref = f"group:default/{name}"
    taken = db.scalar(select(Entity).where(Entity.ref == ref))
    if taken is not None:
        where = "a catalog location" if taken.location_id is not None else "the portal"
        raise ScimError(409, f"the catalog already has {ref} (from {where})", "uniqueness")
    members = _member_ids(db, resource.members)
    entity = _put_entity(db, _group_data(name, title, group_id, external_id))
    _sync_members(db, entity.ref, set(), members, actor)
    audit.record(
        db,
        actor,
        "scim.group.create",
        entity.ref,
        id=group_id,
        displayName=title,
        externalId=external_id,
        members=sorted(members),
    )
    return entity


def _update_group(db: DbSession, entity: Entity, resource: ScimGroup, before: set[int], actor: Actor) -> Entity:
    title = _clean_display_name(resource.display_name)
    external_id = _clean_text(resource.external_id, "externalId")
    after = _member_ids(db, resource.members)
    annotations = _annotations(entity)
    group_id, ref = annotations[SCIM_ID], entity.ref
    changes: dict[str, Any] = {}
    if title != _group_title(entity):
        changes["displayName"] = [_group_title(entity), title]
    if external_id != (annotations.get(SCIM_EXTERNAL_ID) or None):
        changes["externalId"] = [annotations.get(SCIM_EXTERNAL_ID), external_id]
    if after != before:
        changes["added"], changes["removed"] = sorted(after - before), sorted(before - after)
    if not changes:
        return entity
    _sync_members(db, ref, before, after, actor)
    # Written again even when only members changed, so that meta.lastModified moves.
    entity = _put_entity(db, _group_data(entity.name, title, group_id, external_id))
    audit.record(db, actor, "scim.group.update", ref, id=group_id, changes=changes)
    return entity


def _delete_group(db: DbSession, entity: Entity, actor: Actor) -> None:
    ref, group_id, title = entity.ref, _annotations(entity)[SCIM_ID], _group_title(entity)
    for membership in db.scalars(select(Membership).where(Membership.team_ref == ref)).all():
        service.set_membership(db, membership.user, ref, None, actor, source=membership.source)
    catalog.delete_managed_entity(db, ref)
    audit.record(db, actor, "scim.group.delete", ref, id=group_id, displayName=title)


GROUPS = ResourceKind(
    name="Group",
    endpoint="/Groups",
    description="Teams: Group entities of the catalog",
    model=ScimGroup,
    attrs=GROUP_ATTRS,
    sorts=GROUP_SORTS,
    rows=select(Entity).where(SCIM_GROUPS),
    tie=Entity.id,
    find=_get_group,
    scim_id=lambda entity: _annotations(entity)[SCIM_ID],
    resources=_group_resources,
)


# --- PATCH ----------------------------------------------------------------------------------------------


def _apply_patch(model, resource, body: dict[str, Any]) -> None:
    """Apply a PatchOp message to a resource, atomically (scim2-models restores it on failure)."""
    try:
        patch = PatchOp[model].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY)
        patch.patch(resource, scim_policy=POLICY)
    except ValidationError as exc:
        raise _as_scim_error(exc) from None


# --- Discovery ------------------------------------------------------------------------------------------


RESOURCE_TYPES = (USERS, GROUPS)


@functools.cache
def _published_schemas() -> tuple[Schema, ...]:
    schemas = []
    for kind in RESOURCE_TYPES:
        schema = kind.model.to_schema()
        schema.name, schema.description = kind.name, kind.description
        schemas.append(schema)
    return (*schemas, ResourceType.to_schema(), ServiceProviderConfig.to_schema(), Schema.to_schema())


def _schemas(base: str) -> list[Schema]:
    return [
        schema.model_copy(update={"meta": Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")})
        for schema in _published_schemas()
    ]


def _resource_types(base: str) -> list[ResourceType]:
    return [
        ResourceType(
            id=kind.name,
            name=kind.name,
            description=kind.description,
            endpoint=kind.endpoint,
            schema_=kind.model.__schema__,
            meta=Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{kind.name}"),
        )
        for kind in RESOURCE_TYPES
    ]


def _dump(obj) -> dict[str, Any]:
    return obj.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


@router.get("/ServiceProviderConfig", summary="What this SCIM service supports")
def service_provider_config(settings: Settings = Depends(get_settings_dep)) -> Response:
    base = _base(settings)
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=settings.max_page_size),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="DEVHUB_SCIM_TOKEN, or a portal admin's personal access token with the scim scope",
                primary=True,
            )
        ],
        pagination=Pagination(
            cursor=False,
            index=True,
            default_pagination_method="index",
            default_page_size=settings.page_size,
            max_page_size=settings.max_page_size,
        ),
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    return scim_response(_dump(config))


def _discovery_list(items: list[ResourceType] | list[Schema]) -> Response:
    """A discovery list is short and whole: one page from 1, with no filter (RFC 7644 §4)."""
    found = [_dump(item) for item in items]
    return scim_response(_list_response(found, len(found), 1))


def _discovery_item(items: list[ResourceType] | list[Schema], item_id: str, missing: str) -> Response:
    for item in items:
        if item.id == item_id:
            return scim_response(_dump(item))
    raise ScimError(404, missing)


@router.get("/ResourceTypes", summary="The resource types: User and Group")
def resource_types(settings: Settings = Depends(get_settings_dep)) -> Response:
    return _discovery_list(_resource_types(_base(settings)))


@router.get("/ResourceTypes/{name}", summary="One resource type")
def resource_type(name: str, settings: Settings = Depends(get_settings_dep)) -> Response:
    return _discovery_item(_resource_types(_base(settings)), name, f"no resource type {name}")


@router.get("/Schemas", summary="The schemas of the resources, as devhub keeps them")
def schemas(settings: Settings = Depends(get_settings_dep)) -> Response:
    return _discovery_list(_schemas(_base(settings)))


@router.get("/Schemas/{schema_id}", summary="One schema, by its URN")
def schema(schema_id: str, settings: Settings = Depends(get_settings_dep)) -> Response:
    return _discovery_item(_schemas(_base(settings)), schema_id, f"no schema {schema_id}")


# --- User routes ----------------------------------------------------------------------------------------


@router.get("/Users", summary="List and filter users")
def list_users(search: SearchParameters, call: CurrentCall) -> Response:
    return _list(USERS, call, search)


@router.post("/Users/.search", summary="Search users (the query in the body)", openapi_extra=BODY_DOC)
def search_users(body: ScimBody, call: CurrentCall) -> Response:
    return _list(USERS, call, _search_from(body))


@router.post("/Users", status_code=201, summary="Create a user", openapi_extra=BODY_DOC)
def create_user(body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimUser, search)
    resource = _user_payload(body, Context.RESOURCE_CREATION_REQUEST, None)
    user = _create_user(call.db, call.settings, resource, call.actor)
    _commit(call.db)
    return _answer(USERS, call, user, Context.RESOURCE_CREATION_RESPONSE, params, 201)


@router.get("/Users/{user_id}", summary="One user")
def get_user(user_id: str, search: SearchParameters, call: CurrentCall) -> Response:
    return _get(USERS, call, user_id, search)


@router.put("/Users/{user_id}", summary="Replace a user", openapi_extra=BODY_DOC)
def replace_user(user_id: str, body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimUser, search)
    user = _get_user(call.db, user_id)
    resource = _user_payload(body, Context.RESOURCE_REPLACEMENT_REQUEST, user)
    _update_user(call.db, call.settings, user, resource, call.actor, _display_name_of(resource))
    _commit(call.db)
    return _answer(USERS, call, user, Context.RESOURCE_REPLACEMENT_RESPONSE, params)


@router.patch("/Users/{user_id}", summary="Change a user with PATCH operations", openapi_extra=BODY_DOC)
def patch_user(user_id: str, body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimUser, search)
    user = _get_user(call.db, user_id)
    before = _user_resource(user, [], call.base)
    after = before.model_copy(deep=True)
    _apply_patch(ScimUser, after, body)
    # displayName and name.formatted are one value in devhub: the one the operations changed wins.
    display_name = before.display_name or ""
    if after.display_name != before.display_name:
        display_name = after.display_name or ""
    elif (after.name.formatted if after.name else None) != (before.name.formatted if before.name else None):
        display_name = (after.name.formatted if after.name else None) or ""
    after.emails = [UserEmail(value=_patched_email(after.emails, user.email), type="work")]
    _update_user(call.db, call.settings, user, after, call.actor, display_name)
    _commit(call.db)
    return _answer(USERS, call, user, Context.RESOURCE_PATCH_RESPONSE, params)


@router.delete("/Users/{user_id}", status_code=204, summary="Delete a user (revoked and kept for the audit trail)")
def delete_user(user_id: str, call: CurrentCall) -> Response:
    _delete_user(call.db, call.settings, _get_user(call.db, user_id), call.actor)
    _commit(call.db)
    return Response(status_code=204)


# --- Group routes ---------------------------------------------------------------------------------------


@router.get("/Groups", summary="List and filter groups")
def list_groups(search: SearchParameters, call: CurrentCall) -> Response:
    return _list(GROUPS, call, search)


@router.post("/Groups/.search", summary="Search groups (the query in the body)", openapi_extra=BODY_DOC)
def search_groups(body: ScimBody, call: CurrentCall) -> Response:
    return _list(GROUPS, call, _search_from(body))


@router.post("/Groups", status_code=201, summary="Create a group (a team of the catalog)", openapi_extra=BODY_DOC)
def create_group(body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimGroup, search)
    entity = _create_group(call.db, _validate(ScimGroup, body, Context.RESOURCE_CREATION_REQUEST), call.actor)
    _commit(call.db)
    return _answer(GROUPS, call, entity, Context.RESOURCE_CREATION_RESPONSE, params, 201)


@router.get("/Groups/{group_id}", summary="One group")
def get_group(group_id: str, search: SearchParameters, call: CurrentCall) -> Response:
    return _get(GROUPS, call, group_id, search)


@router.put("/Groups/{group_id}", summary="Replace a group", openapi_extra=BODY_DOC)
def replace_group(group_id: str, body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimGroup, search)
    entity = _get_group(call.db, group_id)
    resource = _validate(ScimGroup, body, Context.RESOURCE_REPLACEMENT_REQUEST)
    before = set(_members_of(call.db, [entity.ref])[entity.ref])
    entity = _update_group(call.db, entity, resource, before, call.actor)
    _commit(call.db)
    return _answer(GROUPS, call, entity, Context.RESOURCE_REPLACEMENT_RESPONSE, params)


@router.patch(
    "/Groups/{group_id}", summary="Change a group with PATCH operations (members, displayName)", openapi_extra=BODY_DOC
)
def patch_group(group_id: str, body: ScimBody, search: SearchParameters, call: CurrentCall) -> Response:
    params = _response_parameters(ScimGroup, search)
    entity = _get_group(call.db, group_id)
    before = _members_of(call.db, [entity.ref])[entity.ref]
    resource = _group_resource(entity, before, call.base)
    _apply_patch(ScimGroup, resource, body)
    entity = _update_group(call.db, entity, resource, set(before), call.actor)
    _commit(call.db)
    return _answer(GROUPS, call, entity, Context.RESOURCE_PATCH_RESPONSE, params)


@router.delete("/Groups/{group_id}", status_code=204, summary="Delete a group: its catalog entity and memberships")
def delete_group(group_id: str, call: CurrentCall) -> Response:
    _delete_group(call.db, _get_group(call.db, group_id), call.actor)
    _commit(call.db)
    return Response(status_code=204)


# --- What devhub does not do, and paths that do not exist -----------------------------------------------


@router.post("/.search", summary="Search every resource type at once (not supported)")
def search_everything() -> Response:
    raise ScimError(
        501, "searching several resource types at once is not supported: use /Users/.search or /Groups/.search"
    )


@router.post("/Bulk", summary="Bulk operations (not supported)")
def bulk() -> Response:
    raise ScimError(501, "bulk operations are not supported")


@router.api_route("/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def me() -> Response:
    raise ScimError(501, "/Me is not supported: the SCIM client is not a user")


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
def not_found(request: Request, path: str) -> Response:
    """404 as a SCIM Error for unknown paths, 405 for a known path with another method."""
    allowed: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is not not_found:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                allowed |= route.methods or set()
    if allowed:
        headers = {"Allow": ", ".join(sorted(allowed))}
        raise ScimError(405, f"{request.method} is not allowed on {request.url.path}", headers=headers)
    raise ScimError(404, f"{request.url.path} does not exist")
