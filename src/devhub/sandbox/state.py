"""Stateful resources: what a developer creates through the sandbox, later calls see.

A path is resource-style when the definition has both a collection and an item path under it:
`/pets` and `/pets/{petId}`, or Twilio's `/Accounts/{Sid}/Messages.json` and `.../Messages/{Sid}.json`
(the item's last segment is one parameter, with the collection's suffix). Then, per API version and per
credential (the key or client the gateway authenticated; unsigned calls share "anonymous"):

- POST to the collection creates an item: the generated response body, overlaid with the request body,
  with a fresh id (the next integer, or a new value of the id's own schema: uuid, pattern...). 409 when the
  body names an id that exists.
- GET, PUT (replace), PATCH (JSON merge patch, RFC 7396), POST (an update, as Twilio's APIs do: merged
  like PATCH) and DELETE on the item path see it. Request fields take the item's spelling of their name
  when only case or underscores differ (a form's `StatusCallback` is the item's `status_callback`).
- GET on the collection lists the items (as the array of the response, or in its first array property).
- Once a collection has had an item created, it is stateful: unknown items are 404 there. Before that, and
  on paths that are not resource-style, answers are generated from the definition as usual. A marker row
  (empty item id) records that a collection has become stateful, and outlives its items.

Bounded: at most `Limits.max_items` rows (items and markers) per credential and API version, the least
recently written evicted first, and bodies of at most `Limits.max_item_bytes` (413 beyond). Reset with
`reset` (REST `DELETE /api/v1/sandbox/data`, CLI `devhub sandbox reset`). Rows are read and written with
SQLAlchemy Core: this is the sandbox's hot path.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from devhub.db import utcnow
from devhub.sandbox.compile import CompiledSpec, Operation
from devhub.sandbox.generate import Generator
from devhub.sandbox.models import sandbox_items as items
from devhub.sandbox.respond import Answer, Preferences, body_for, choose_media, choose_response, seed_of
from devhub.sandbox.validate import FieldError, Rejection, ValidRequest

MARKER = ""  # item_id of the row saying a collection is stateful
_ITEM_SEGMENT = re.compile(r"^\{([^}/]+)\}([^{}/]*)$")


@dataclass(frozen=True)
class Limits:
    max_items: int = 500
    max_item_bytes: int = 65536


@dataclass(frozen=True)
class Call:
    api_ref: str
    version: str
    credential: str
    path: str  # concrete
    operation: Operation
    valid: ValidRequest
    prefer: Preferences
    accept: str | None = None


@dataclass(frozen=True)
class Resource:
    collection: str  # concrete path of the collection
    item_id: str | None  # None: the call is on the collection
    id_name: str  # the item path's parameter name


def resource_of(spec: CompiledSpec, operation: Operation, path: str) -> Resource | None:
    """Where a call falls in the collection/item pattern, or None for other paths."""
    shapes = _shapes(spec)
    template = operation.template.rstrip("/")
    path = path.rstrip("/")
    if template in shapes["items"]:
        _collection, id_name, suffix = shapes["items"][template]
        parent, _, last = path.rpartition("/")
        if suffix and not last.endswith(suffix):
            return None
        item_id = last[: len(last) - len(suffix)] if suffix else last
        return Resource(parent + suffix, item_id, id_name)
    if template in shapes["collections"]:
        return Resource(path, None, shapes["collections"][template])
    return None


def _shapes(spec: CompiledSpec) -> dict[str, dict]:
    """Item templates (with their collection) and collection templates of a definition, computed once."""
    cached = getattr(spec, "_resource_shapes", None)
    if cached is not None:
        return cached
    templates = {candidate.template.rstrip("/") for candidate in spec.paths}
    found: dict[str, dict] = {"items": {}, "collections": {}}
    for template in templates:
        parent, _, last = template.rpartition("/")
        match = _ITEM_SEGMENT.match(last)
        if match and parent + match.group(2) in templates:
            found["items"][template] = (parent + match.group(2), match.group(1), match.group(2))
            found["collections"][parent + match.group(2)] = match.group(1)
    spec._resource_shapes = found  # type: ignore[attr-defined]
    return found


# --- Answering -------------------------------------------------------------------------------------------


def answer(connection: Connection, spec: CompiledSpec, call: Call, limits: Limits) -> Answer | None:
    """The answer from remembered state, or None when the call is not stateful (the caller generates).
    `connection` is for reads (the caller's, in autocommit); writes take their own transaction."""
    resource = resource_of(spec, call.operation, call.path)
    if resource is None:
        return None
    method = call.operation.method
    if resource.item_id is None:
        if method == "post":
            return _create(connection, spec, call, resource, limits)
        if method == "get":
            return _list(connection, spec, call, resource)
        return None
    if method in ("get", "put", "patch", "post", "delete"):
        return _on_item(connection, spec, call, resource, limits)
    return None


def _owner(call: Call):
    return and_(items.c.api_ref == call.api_ref, items.c.version == call.version, items.c.credential == call.credential)


def _in_collection(call: Call, resource: Resource):
    return and_(_owner(call), items.c.collection == resource.collection)


def _template_answer(spec: CompiledSpec, call: Call) -> tuple[int, Any, Any]:
    status, response = choose_response(call.operation, call.prefer)
    media = choose_media(response, call.accept)
    return status, response, media


def _create(connection: Connection, spec: CompiledSpec, call: Call, resource: Resource, limits: Limits) -> Answer:
    status, _, media = _template_answer(spec, call)
    generated = body_for(spec, media, Preferences(), seed_of(call.api_ref, call.operation.template)) if media else None
    sent = _onto(generated, call.valid.body if isinstance(call.valid.body, dict) else {})
    body = {**generated, **sent} if isinstance(generated, dict) else dict(sent)
    id_field = _id_field(body, resource.id_name)
    _check_size(body, limits)
    for _attempt in range(3):
        try:
            with connection.engine.begin() as transaction:  # the reads before were outside any transaction
                item_id = _new_id(transaction, call, resource, body, id_field, sent, spec, media)
                body[id_field] = item_id if id_field in sent else _typed_like(body.get(id_field), item_id)
                _write(transaction, call, resource, str(item_id), body, limits)
            break
        except IntegrityError:  # the same id taken by a concurrent call: draw again
            if id_field in sent:
                raise Rejection(409, "Conflict", f"an item with {id_field} {sent[id_field]!r} exists") from None
    else:
        raise Rejection(409, "Conflict", "concurrent calls took every id tried; try again")
    return Answer(status, body if media else None, media.name if media else None)


def _id_field(body: dict[str, Any], id_name: str) -> str:
    for candidate in (id_name, "id", "sid", "uuid", "key", "name"):
        if candidate in body:
            return candidate
    lowered = {key.lower(): key for key in body}
    return lowered.get(id_name.lower()) or "id"


def _new_id(connection: Connection, call, resource, body, id_field, sent, spec, media) -> Any:
    if id_field in sent:
        exists = connection.scalar(
            select(items.c.id).where(_in_collection(call, resource), items.c.item_id == str(sent[id_field]))
        )
        if exists is not None:
            raise Rejection(409, "Conflict", f"an item with {id_field} {sent[id_field]!r} exists")
        return sent[id_field]
    current = body.get(id_field)
    if (isinstance(current, int) and not isinstance(current, bool)) or current is None:
        ids = connection.scalars(
            select(items.c.item_id).where(_in_collection(call, resource), items.c.item_id != MARKER)
        ).all()
        numbers = [int(value) for value in ids if value.lstrip("-").isdigit()]
        return max(numbers, default=0) + 1
    schema = _id_schema(spec, media, id_field)
    if schema:
        value = Generator(spec.response_document, random.getrandbits(63), dynamic=True).value(schema)
        if isinstance(value, str) and value:
            return value
    return str(uuid.uuid4())


def _id_schema(spec: CompiledSpec, media, id_field: str) -> dict[str, Any] | None:
    schema = spec.resolve(media.schema) if media and media.schema else None
    properties = schema.get("properties") if isinstance(schema, dict) else None
    found = spec.resolve(properties.get(id_field)) if isinstance(properties, dict) else None
    return found if isinstance(found, dict) else None


def _typed_like(example: Any, item_id: Any) -> Any:
    if isinstance(example, int) and not isinstance(example, bool) and str(item_id).lstrip("-").isdigit():
        return int(item_id)
    return item_id


def _check_size(body: Any, limits: Limits) -> None:
    size = len(json.dumps(body, default=str))
    if size > limits.max_item_bytes:
        raise Rejection(
            413,
            "Too large for the sandbox",
            f"the sandbox keeps items of at most {limits.max_item_bytes} bytes; this one is {size}",
            [FieldError("body", "", "too large", "size")],
        )


def _write(connection: Connection, call: Call, resource: Resource, item_id: str, body: Any, limits: Limits) -> None:
    now = utcnow()
    owner = {"api_ref": call.api_ref, "version": call.version, "credential": call.credential}
    has_marker = connection.scalar(select(items.c.id).where(_in_collection(call, resource), items.c.item_id == MARKER))
    rows = [{**owner, "collection": resource.collection, "item_id": item_id, "body": body}]
    if has_marker is None:
        rows.append({**owner, "collection": resource.collection, "item_id": MARKER, "body": {}})
    connection.execute(insert(items), [{**row, "created_at": now, "updated_at": now} for row in rows])
    _evict(connection, call, limits)


def _evict(connection: Connection, call: Call, limits: Limits) -> None:
    """Keep at most `max_items` rows for this credential and version: the least recently written go."""
    count = connection.scalar(select(func.count()).select_from(items).where(_owner(call)))
    excess = (count or 0) - limits.max_items
    if excess > 0:
        oldest = select(items.c.id).where(_owner(call)).order_by(items.c.updated_at, items.c.id).limit(excess)
        ids = list(connection.scalars(oldest))
        connection.execute(delete(items).where(items.c.id.in_(ids)))


def _list(connection: Connection, spec: CompiledSpec, call: Call, resource: Resource) -> Answer | None:
    rows = connection.execute(
        select(items.c.item_id, items.c.body).where(_in_collection(call, resource)).order_by(items.c.id)
    ).all()
    if not rows:
        return None  # never created here: generated as usual
    bodies = [_loaded(body) for item_id, body in rows if item_id != MARKER]
    status, _, media = _template_answer(spec, call)
    if media is None or media.schema is None:
        return None
    schema = spec.resolve(media.schema)
    if isinstance(schema, dict) and (schema.get("type") == "array" or "items" in schema):
        return Answer(status, bodies, media.name)
    generated = body_for(spec, media, Preferences(), seed_of(call.api_ref, call.operation.template, status))
    field = _array_property(spec, schema)
    if not isinstance(generated, dict) or field is None:
        return None
    envelope = {**generated, field: bodies}
    return Answer(status, envelope, media.name)


def _array_property(spec: CompiledSpec, schema: Any) -> str | None:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for name, subschema in (properties or {}).items():
        resolved = spec.resolve(subschema)
        if isinstance(resolved, dict) and (resolved.get("type") == "array" or "items" in resolved):
            return name
    return None


def _loaded(body: Any) -> Any:
    return json.loads(body) if isinstance(body, str) else body


def _on_item(
    connection: Connection, spec: CompiledSpec, call: Call, resource: Resource, limits: Limits
) -> Answer | None:
    method = call.operation.method
    rows = dict(
        connection.execute(
            select(items.c.item_id, items.c.body).where(
                _in_collection(call, resource), items.c.item_id.in_([MARKER, resource.item_id])
            )
        ).all()
    )
    if MARKER not in rows:
        return None  # nothing created in this collection yet: generated as usual
    if resource.item_id not in rows:
        raise Rejection(404, "Not found", f"no item {resource.item_id} in {resource.collection} (sandbox data)")
    stored = _loaded(rows[resource.item_id])
    where = and_(_in_collection(call, resource), items.c.item_id == resource.item_id)
    if method == "delete":
        with connection.engine.begin() as transaction:
            transaction.execute(delete(items).where(where))
    elif method in ("put", "patch", "post"):
        stored = _changed(stored, call, resource.id_name)
        _check_size(stored, limits)
        with connection.engine.begin() as transaction:
            transaction.execute(update(items).where(where).values(body=stored, updated_at=utcnow()))
    status, _, media = _template_answer(spec, call)
    if media is None or (method == "delete" and status == 204):
        return Answer(status)
    return Answer(status, stored, media.name)


def _changed(stored: Any, call: Call, id_name: str) -> Any:
    """The item after a PUT (the body replaces it) or a PATCH (merged into it); its id stays the path's."""
    sent = call.valid.body
    if call.operation.method == "put":
        changed = dict(sent) if isinstance(sent, dict) else sent
    else:
        changed = merge_patch(stored, _onto(stored, sent) if isinstance(sent, dict) else sent)
    id_field = _id_field(stored, id_name) if isinstance(stored, dict) else id_name
    if isinstance(changed, dict) and isinstance(stored, dict) and id_field in stored:
        changed[id_field] = stored[id_field]
    return changed


def _onto(item: Any, sent: dict[str, Any]) -> dict[str, Any]:
    """Request fields renamed to the response's own spelling of them when only case or underscores differ
    (Twilio's form field `StatusCallback` is the resource's `status_callback`); others kept as sent."""
    if not isinstance(item, dict):
        return dict(sent)
    spelled = {_plain(key): key for key in item}
    return {spelled.get(_plain(key), key): value for key, value in sent.items()}


def _plain(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- Reset -----------------------------------------------------------------------------------------------


def reset(engine: Engine, credentials: list[str], api_ref: str | None = None, version: str | None = None) -> int:
    """Forget what these credentials created (in one API, or one version of it); returns rows deleted."""
    if not credentials:
        return 0
    condition = items.c.credential.in_(credentials)
    if api_ref is not None:
        condition = and_(condition, items.c.api_ref == api_ref)
    if version is not None:
        condition = and_(condition, items.c.version == version)
    with engine.begin() as connection:
        return connection.execute(delete(items).where(condition)).rowcount or 0


def summary(engine: Engine, credentials: list[str]) -> list[dict[str, Any]]:
    """Items remembered per credential and API version (markers not counted), and when one last changed."""
    if not credentials:
        return []
    query = (
        select(items.c.credential, items.c.api_ref, items.c.version, func.count(), func.max(items.c.updated_at))
        .where(items.c.credential.in_(credentials), items.c.item_id != MARKER)
        .group_by(items.c.credential, items.c.api_ref, items.c.version)
        .order_by(items.c.api_ref, items.c.version, items.c.credential)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{"credential": c, "api": a, "version": v, "items": n, "last_change": t} for c, a, v, n, t in rows]
