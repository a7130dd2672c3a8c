"""Catalog logic: registering and refreshing locations, and every query the pages and the API make.

Writes are set-based (bulk inserts and updates keyed by id) so a location of 10,000 entities imports in
seconds, and a refresh only rewrites entities whose content hash changed.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from devhub.catalog import ingest
from devhub.catalog.kinds import RefError, parse_ref
from devhub.catalog.models import (
    CatalogState,
    Entity,
    EntityAccess,
    EntityTag,
    Location,
    ProcessingError,
    Relation,
    VisibilityOverride,
)
from devhub.catalog.schemas import FACET_FIELDS, CatalogFilters
from devhub.db import utcnow
from devhub.identity.policy import Principal, entity_visible, visible_entities
from devhub.pagination import Page, PageRequest
from devhub.problems import BadRequest, NotFound, Problem
from devhub.search import service as search
from devhub.settings import Settings

CHUNK = 500
CATALOG_CACHE_SIZE = 1024
T = TypeVar("T")
_catalog_cache: dict[tuple, Any] = {}


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def catalog_version(session: Session) -> int:
    return session.scalar(select(CatalogState.version).where(CatalogState.id == 1)) or 0


def bump_catalog_version(session: Session) -> None:
    """Mark every cache of catalog-derived data stale, in every process. A random token (not a counter),
    so a database that is emptied and refilled never repeats a version a cache has seen."""
    token = secrets.randbits(62)
    if session.execute(update(CatalogState).where(CatalogState.id == 1).values(version=token)).rowcount == 0:
        session.add(CatalogState(id=1, version=token))
        session.flush()


# --- Locations ------------------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    location_id: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: int = 0
    failed: str | None = None


def normalise_target(location_type: str, target: str) -> str:
    target = target.strip()
    if not target:
        raise BadRequest("a location needs a target")
    if location_type == "file":
        return str(ingest.Path(target).expanduser().resolve())
    if location_type == "url" and not target.startswith(("http://", "https://")):
        raise BadRequest("url locations start with http:// or https://")
    if location_type == "git":
        try:
            ingest.parse_git_target(target)
        except ingest.LocationError as exc:
            raise BadRequest(str(exc)) from None
    if location_type not in ingest.LOCATION_TYPES:
        raise BadRequest(f"unknown location type {location_type!r}; use one of {', '.join(ingest.LOCATION_TYPES)}")
    return target


def guess_location_type(target: str) -> str:
    if target.startswith("git+"):
        return "git"
    if target.startswith(("http://", "https://")):
        return "url"
    return "file"


def register_location(
    session: Session,
    settings: Settings,
    target: str,
    location_type: str | None = None,
    *,
    trusted: bool,
    actor=None,
) -> tuple[Location, RefreshReport]:
    """Register a location (or find the one already registered) and read it now."""
    location_type = location_type or guess_location_type(target)
    target = normalise_target(location_type, target)
    location = session.scalar(select(Location).where(Location.type == location_type, Location.target == target))
    if location is None:
        location = Location(type=location_type, target=target, status="pending", entity_count=0, error_count=0)
        session.add(location)
        session.flush()
    report = refresh_location(session, settings, location, trusted=trusted)
    if report.failed and location.last_refresh_at is None and location.entity_count == 0:
        # A location that never read anything is not kept: the caller gets the error instead.
        session.delete(location)
        session.flush()
        raise Problem(422, "Location could not be read", report.failed)
    if actor is not None:
        from devhub.audit import service as audit

        audit.record(
            session,
            actor,
            "catalog.import",
            f"{location.type}:{location.target}",
            added=report.added,
            errors=report.errors,
        )
    return location, report


def refresh_location(session: Session, settings: Settings, location: Location, *, trusted: bool) -> RefreshReport:
    """Read the location again and bring the catalog in line with it."""
    report = RefreshReport(location_id=location.id)
    now = utcnow()
    origin = f"{location.type}:{location.target}"
    try:
        with ingest.open_location(location.type, location.target, settings, trusted=trusted) as (tree, entry):
            result = ingest.read_tree(tree, entry, settings, origin=origin)
    except ingest.LocationError as exc:
        report.failed = str(exc)
        location.status = "error"
        location.last_error = str(exc)
        location.next_refresh_at = _next_refresh(settings)
        session.flush()
        return report
    apply_read(session, location, result, report, default_visibility=settings.default_visibility, settings=settings)
    location.status = "error" if result.errors else "ok"
    location.last_error = None
    location.last_refresh_at = now
    location.next_refresh_at = _next_refresh(settings)
    session.flush()
    return report


def _next_refresh(settings: Settings):
    if settings.catalog_refresh_seconds <= 0:
        return None
    return utcnow() + timedelta(seconds=settings.catalog_refresh_seconds)


VISIBILITY_ANNOTATION = "devhub.io/visibility"
VISIBLE_TO_ANNOTATION = "devhub.io/visible-to"
VISIBILITIES = ("public", "internal", "private")


@dataclass
class Visibility:
    level: str
    teams: list[str]


def _visibility(item: ingest.ReadEntity, default: str, override: VisibilityOverride | None) -> Visibility:
    """Portal override first, then the file's annotations, then the default."""
    if override is not None:
        return Visibility(override.visibility, list(override.teams or []))
    annotations = item.entity.data.get("metadata", {}).get("annotations", {})
    level = str(annotations.get(VISIBILITY_ANNOTATION, default)).strip().lower()
    teams = []
    for name in str(annotations.get(VISIBLE_TO_ANNOTATION, "")).split(","):
        if name.strip():
            teams.append(_normalise_ref(name.strip(), "group"))
    return Visibility(level if level in VISIBILITIES else "private", teams)


def apply_read(
    session: Session,
    location: Location,
    result: ingest.ReadResult,
    report: RefreshReport,
    default_visibility: str = "internal",
    settings: Settings | None = None,
) -> None:
    errors = list(result.errors)
    existing = {
        ref: (entity_id, content_hash, location_id)
        for ref, entity_id, content_hash, location_id in session.execute(
            select(Entity.ref, Entity.id, Entity.content_hash, Entity.location_id).where(
                Entity.location_id == location.id
            )
        )
    }
    incoming = _drop_conflicts(session, location, result.entities, existing, errors)
    overrides = {o.entity_ref: o for o in session.scalars(select(VisibilityOverride))}
    for item in incoming:
        item.visibility = _visibility(item, default_visibility, overrides.get(item.entity.ref))
    now = utcnow()
    new_rows, changed_rows = [], []
    for item in incoming:
        known = existing.get(item.entity.ref)
        if known is None:
            new_rows.append(item)
        elif known[1] != item.content_hash:
            changed_rows.append((known[0], item))
        else:
            report.unchanged += 1
    incoming_refs = {item.entity.ref for item in incoming}
    gone = [entity_id for ref, (entity_id, _, _) in existing.items() if ref not in incoming_refs]

    for ids in _chunks(gone):
        session.execute(delete(Entity).where(Entity.id.in_(ids)))
    new_ids = _insert_entities(session, location, new_rows, now)
    _update_entities(session, changed_rows, now)
    written = list(zip(new_ids, new_rows, strict=True)) + changed_rows
    _replace_relations_and_tags(session, written)
    _reindex(session, [entity_id for entity_id, _ in written])
    written_items = [item for _, item in written]
    errors += _notify_domains(session, written_items, [r for r in existing if r not in incoming_refs], settings)
    errors += _kept_domain_errors(session, location, incoming_refs - {item.entity.ref for item in written_items})

    session.execute(delete(ProcessingError).where(ProcessingError.location_id == location.id))
    if errors:
        session.execute(
            insert(ProcessingError),
            [
                {
                    "location_id": location.id,
                    "source": e.source[:2048],
                    "line": e.line,
                    "rule": e.rule,
                    "message": e.message,
                    "entity_ref": e.entity_ref,
                    "created_at": now,
                }
                for e in errors
            ],
        )
    report.added, report.updated, report.removed, report.errors = (
        len(new_rows),
        len(changed_rows),
        len(gone),
        len(errors),
    )
    location.entity_count = len(incoming)
    location.error_count = len(errors)


DOMAIN_RULES = ("invalid-definition", "definition-conflict")


def _notify_domains(
    session: Session, written: list[ingest.ReadEntity], gone_refs: list[str], settings: Settings | None
) -> list[ingest.ReadError]:
    """Hand new and changed entities to the domains built on them: API definitions are published, docs-as-code
    folders become guides. Their problems come back as the entities' processing errors. Imported late:
    those domains import the catalog."""
    from devhub.docs import service as docs_service
    from devhub.specs import service as specs_service

    problems = specs_service.publish_catalog_definitions(session, written, settings) or []
    docs_service.sync_techdocs(session, written, gone_refs)
    return list(problems)


def _kept_domain_errors(session: Session, location: Location, unchanged_refs: set[str]) -> list[ingest.ReadError]:
    """Unchanged entities are not handed on again, so their definition errors are carried over as they were."""
    if not unchanged_refs:
        return []
    rows = session.scalars(
        select(ProcessingError).where(
            ProcessingError.location_id == location.id, ProcessingError.rule.in_(DOMAIN_RULES)
        )
    )
    return [
        ingest.ReadError(e.source, e.line, e.rule, e.message, e.entity_ref)
        for e in rows
        if e.entity_ref in unchanged_refs
    ]


def _drop_conflicts(session, location, entities, existing, errors) -> list[ingest.ReadEntity]:
    """Entities already provided by another location stay with it; this one gets an error instead."""
    candidates = [item.entity.ref for item in entities if item.entity.ref not in existing]
    owners: dict[str, int] = {}
    for refs in _chunks(candidates):
        owners.update(session.execute(select(Entity.ref, Entity.location_id).where(Entity.ref.in_(refs))).all())
    kept = []
    for item in entities:
        other = owners.get(item.entity.ref)
        if other is not None and other != location.id:
            errors.append(
                ingest.ReadError(
                    item.source,
                    item.line,
                    "conflict",
                    f"{item.entity.ref} is already provided by location {other}",
                    item.entity.ref,
                )
            )
            continue
        kept.append(item)
    return kept


def _columns(item: ingest.ReadEntity) -> dict:
    entity = item.entity
    metadata, spec = entity.data.get("metadata", {}), entity.data.get("spec") or {}
    return {
        "ref": entity.ref,
        "kind": entity.kind,
        "namespace": entity.namespace,
        "name": entity.name,
        "api_version": entity.data["apiVersion"],
        "title": (metadata.get("title") or None) and str(metadata["title"])[:255],
        "sort_key": str(metadata.get("title") or entity.name)[:255].lower(),
        "description": metadata.get("description"),
        "spec_type": str(spec["type"])[:63] if isinstance(spec.get("type"), str) else None,
        "lifecycle": str(spec["lifecycle"])[:63] if isinstance(spec.get("lifecycle"), str) else None,
        "owner_ref": entity.spec_ref("owner", "group"),
        "visibility": item.visibility.level if getattr(item, "visibility", None) else "internal",
        "system_ref": entity.spec_ref("system", "system"),
        "body": entity.data,
        "content_hash": item.content_hash,
        "source": item.source[:2048],
        "source_line": item.line,
    }


def _insert_entities(session, location, rows: list[ingest.ReadEntity], now) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(rows):
        location_id = location.id if location is not None else None
        values = [
            {**_columns(item), "location_id": location_id, "created_at": now, "updated_at": now} for item in chunk
        ]
        result = session.execute(insert(Entity).returning(Entity.id, sort_by_parameter_order=True), values)
        ids.extend(result.scalars().all())
    return ids


def _update_entities(session, rows: list[tuple[int, ingest.ReadEntity]], now) -> None:
    for chunk in _chunks(rows):
        session.execute(
            update(Entity), [{"id": entity_id, **_columns(item), "updated_at": now} for entity_id, item in chunk]
        )


def _replace_relations_and_tags(session, written: list[tuple[int, ingest.ReadEntity]]) -> None:
    ids = [entity_id for entity_id, _ in written]
    for chunk in _chunks(ids):
        session.execute(delete(Relation).where(Relation.origin_id.in_(chunk)))
        session.execute(delete(EntityTag).where(EntityTag.entity_id.in_(chunk)))
        session.execute(delete(EntityAccess).where(EntityAccess.entity_id.in_(chunk)))
    access = [
        {"entity_id": entity_id, "team_ref": team}
        for entity_id, item in written
        if getattr(item, "visibility", None)
        for team in dict.fromkeys(item.visibility.teams)
    ]
    for chunk in _chunks(access, 2000):
        session.execute(insert(EntityAccess), list(chunk))
    relations = [
        {"source_ref": s, "type": t, "target_ref": d, "origin_id": entity_id}
        for entity_id, item in written
        for s, t, d in item.entity.relations
    ]
    tags = [
        {"entity_id": entity_id, "tag": tag}
        for entity_id, item in written
        for tag in dict.fromkeys(item.entity.data.get("metadata", {}).get("tags") or [])
    ]
    for chunk in _chunks(relations, 2000):
        session.execute(insert(Relation), list(chunk))
    for chunk in _chunks(tags, 2000):
        session.execute(insert(EntityTag), list(chunk))


def _reindex(session, entity_ids: list[int]) -> None:
    for chunk in _chunks(entity_ids):
        entities = session.scalars(select(Entity).where(Entity.id.in_(chunk))).all()
        search.index_entities(session, list(entities))


def put_managed_entity(session: Session, data: dict, managed_by: str) -> Entity:
    """Create or replace one entity that no location provides (e.g. a team provisioned through SCIM).

    It is validated like a file's entity; `managed_by` is recorded as its source. An entity that a
    location provides cannot be replaced this way (409).
    """
    from devhub.catalog.kinds import validate_entity

    validated = validate_entity(data)
    if isinstance(validated, list):
        raise BadRequest("; ".join(p.describe() for p in validated))
    ingest._annotate(validated, f"{managed_by}:{validated.ref}", managed_by)
    item = ingest.ReadEntity(validated, f"{managed_by}:{validated.ref}", 0, "")
    item.content_hash = ingest._content_hash(validated, item.source, 0, item)
    item.visibility = _visibility(item, "internal", session.get(VisibilityOverride, validated.ref))
    existing = session.scalar(select(Entity).where(Entity.ref == validated.ref))
    now = utcnow()
    if existing is not None and existing.location_id is not None:
        raise Problem(409, "Conflict", f"{validated.ref} comes from catalog location {existing.location_id}")
    if existing is None:
        (entity_id,) = _insert_entities(session, None, [item], now)
    else:
        entity_id = existing.id
        _update_entities(session, [(entity_id, item)], now)
    _replace_relations_and_tags(session, [(entity_id, item)])
    _reindex(session, [entity_id])
    bump_catalog_version(session)
    session.expire_all()
    return session.get(Entity, entity_id)


def set_visibility(session: Session, entity: Entity, visibility: str, teams: list[str], actor) -> None:
    """Set an entity's visibility in the portal; it wins over the file's annotation from now on."""
    from devhub.audit import service as audit

    if visibility not in VISIBILITIES:
        raise BadRequest(f"visibility must be one of {', '.join(VISIBILITIES)}")
    # Teams only mean something for private entities; for the others they are dropped, not an error.
    team_refs = (
        []
        if visibility != "private"
        else list(dict.fromkeys(_normalise_ref(team, "group") for team in teams if team.strip()))
    )
    override = session.get(VisibilityOverride, entity.ref)
    previous = entity.visibility
    if override is None:
        override = VisibilityOverride(entity_ref=entity.ref, visibility=visibility, teams=team_refs, set_by=actor.name)
        session.add(override)
    else:
        override.visibility, override.teams, override.set_by, override.set_at = (
            visibility,
            team_refs,
            actor.name,
            utcnow(),
        )
    entity.visibility = visibility
    session.execute(delete(EntityAccess).where(EntityAccess.entity_id == entity.id))
    for team in team_refs:
        session.add(EntityAccess(entity_id=entity.id, team_ref=team))
    session.flush()
    bump_catalog_version(session)
    audit.record(
        session, actor, "entity.visibility", entity.ref, previous=previous, visibility=visibility, teams=team_refs
    )


def delete_managed_entity(session: Session, ref: str) -> None:
    entity = session.scalar(select(Entity).where(Entity.ref == ref, Entity.location_id.is_(None)))
    if entity is None:
        raise NotFound(f"{ref} is not a portal-managed entity")
    session.delete(entity)
    session.flush()
    bump_catalog_version(session)


def list_locations(session: Session, page: PageRequest) -> Page[Location]:
    total = session.scalar(select(func.count()).select_from(Location)) or 0
    items = session.scalars(select(Location).order_by(Location.id).offset(page.offset).limit(page.size)).all()
    return Page(list(items), total, page)


def get_location(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    return location


def location_errors(session: Session, location_id: int) -> list[ProcessingError]:
    query = select(ProcessingError).where(ProcessingError.location_id == location_id)
    return list(session.scalars(query.order_by(ProcessingError.source, ProcessingError.line)).all())


def delete_location(session: Session, location_id: int, actor=None) -> None:
    """Unregister a location; its entities go with it."""
    location = get_location(session, location_id)
    target = f"{location.type}:{location.target}"
    refs = list(session.scalars(select(Entity.ref).where(Entity.location_id == location_id)))
    from devhub.docs import service as docs_service

    docs_service.sync_techdocs(session, [], refs)  # their docs-as-code guides go with them
    session.delete(location)
    session.flush()
    bump_catalog_version(session)
    if actor is not None:
        from devhub.audit import service as audit

        audit.record(session, actor, "catalog.location_delete", target)


def due_locations(session: Session) -> list[int]:
    now = utcnow()
    query = select(Location.id).where(Location.next_refresh_at.is_not(None), Location.next_refresh_at <= now)
    return list(session.scalars(query.order_by(Location.next_refresh_at)).all())


def claim_location(session: Session, location_id: int, settings: Settings) -> bool:
    """Move the location's next refresh forward atomically; only the process that did so refreshes it."""
    now = utcnow()
    claimed = session.execute(
        update(Location)
        .where(Location.id == location_id, Location.next_refresh_at <= now)
        .values(next_refresh_at=_next_refresh(settings))
    )
    return claimed.rowcount == 1


# --- Entities -------------------------------------------------------------------------------------------


def _normalise_ref(value: str, default_kind: str) -> str:
    try:
        return str(parse_ref(value, default_kind=default_kind))
    except RefError:
        return value.lower()


def _kind_spellings(session: Session, kinds: list[str]) -> list[str]:
    """The stored spellings of the kinds asked for: kinds match case-insensitively, and comparing the
    stored column (not `lower(kind)`) lets the database use its index."""
    wanted = {kind.lower() for kind in kinds}
    stored = session.scalars(select(Entity.kind).distinct()).all()
    return [kind for kind in stored if kind.lower() in wanted] or list(wanted)


def _filter_clauses(session: Session, filters: CatalogFilters, skip: str | None = None) -> list:
    clauses = []
    simple = {
        "type": (Entity.spec_type, str),
        "lifecycle": (Entity.lifecycle, str),
        "namespace": (Entity.namespace, lambda v: v.lower()),
        "owner": (Entity.owner_ref, lambda v: _normalise_ref(v, "group")),
        "system": (Entity.system_ref, lambda v: _normalise_ref(v, "system")),
    }
    if filters.kind and skip != "kind":
        clauses.append(Entity.kind.in_(_kind_spellings(session, filters.kind)))
    for name, (column, normalise) in simple.items():
        values = getattr(filters, name)
        if values and name != skip:
            clauses.append(column.in_([normalise(v) for v in values]))
    if filters.tag and skip != "tag":
        for tag in filters.tag:
            clauses.append(Entity.id.in_(select(EntityTag.entity_id).where(EntityTag.tag == tag)))
    if filters.location is not None:
        clauses.append(Entity.location_id == filters.location)
    if filters.text:
        pattern = "%" + filters.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            func.lower(Entity.name).like(pattern, escape="\\") | func.lower(Entity.title).like(pattern, escape="\\")
        )
    return clauses


SORTS = {
    "name": (Entity.sort_key,),
    "-name": (Entity.sort_key.desc(),),
    "kind": (Entity.kind, Entity.sort_key),
    "updated": (Entity.updated_at, Entity.id),
    "-updated": (Entity.updated_at.desc(), Entity.id.desc()),
}


def list_entities(session: Session, filters: CatalogFilters, page: PageRequest, viewer: Principal) -> Page[Entity]:
    clauses = [*_filter_clauses(session, filters), visible_entities(viewer)]
    total = _cached_for_catalog(
        session,
        ("count", repr(replace(filters, sort="")), viewer.visibility_key),
        lambda: session.scalar(select(func.count()).select_from(Entity).where(*clauses)) or 0,
    )
    order = SORTS.get(filters.sort, SORTS["name"])
    query = select(Entity).where(*clauses).order_by(*order, Entity.id).offset(page.offset).limit(page.size)
    return Page(list(session.scalars(query).all()), total, page)


def facets(
    session: Session, filters: CatalogFilters, viewer: Principal, limit: int = 50
) -> dict[str, list[tuple[str, int]]]:
    """Values of each filter with counts, each counted with the other filters applied (cached, as counts)."""
    return _cached_for_catalog(
        session,
        ("facets", repr(filters), viewer.visibility_key, limit),
        lambda: _compute_facets(session, filters, viewer, limit),
    )


def _cached_for_catalog(session: Session, key: tuple, compute: Callable[[], T]) -> T:
    """Counts derived from the catalog, cached per process and keyed by the catalog's version token.

    A count for a non-admin viewer reads every row's visibility (the admin's is answered from an index), and
    the seven facet GROUP BYs cost tens of milliseconds at 10,000 entities; the catalog changes only when a
    location is read or a visibility is set, both of which bump the version, so these are computed once.
    """
    version = catalog_version(session)
    if version == 0:  # no token yet (rows written without one, or an emptied database): nothing to key on
        return compute()
    full_key = (str(session.get_bind().url), version, *key)
    if full_key not in _catalog_cache:
        if len(_catalog_cache) >= CATALOG_CACHE_SIZE:
            _catalog_cache.clear()
        _catalog_cache[full_key] = compute()
    return _catalog_cache[full_key]


def _compute_facets(
    session: Session, filters: CatalogFilters, viewer: Principal, limit: int
) -> dict[str, list[tuple[str, int]]]:
    columns = {
        "kind": Entity.kind,
        "type": Entity.spec_type,
        "lifecycle": Entity.lifecycle,
        "owner": Entity.owner_ref,
        "system": Entity.system_ref,
        "namespace": Entity.namespace,
    }
    out: dict[str, list[tuple[str, int]]] = {}
    unrestricted = viewer.is_admin and viewer.signed_in
    for name in FACET_FIELDS:
        clauses = _filter_clauses(session, filters, skip=name)
        if not unrestricted:
            clauses.append(visible_entities(viewer))
        if name == "tag":
            count = func.count(EntityTag.entity_id)
            query = select(EntityTag.tag, count).group_by(EntityTag.tag)
            if clauses:
                query = query.where(EntityTag.entity_id.in_(select(Entity.id).where(*clauses)))
        else:
            column = columns[name]
            count = func.count(Entity.id)
            query = select(column, count).where(column.is_not(None), *clauses).group_by(column)
        rows = session.execute(query.order_by(count.desc(), query.selected_columns[0]).limit(limit)).all()
        out[name] = [(str(value), int(n)) for value, n in rows]
    for name in ("owner", "system"):  # these values are entity refs: never name one the viewer may not see
        hidden = hidden_refs(session, [value for value, _ in out[name]], viewer)
        out[name] = [(value, n) for value, n in out[name] if value not in hidden]
    return out


def hidden_refs(session: Session, refs: Iterable[str], viewer: Principal) -> set[str]:
    """Of these refs, those naming entities in the catalog that the viewer may not see."""
    refs = list(dict.fromkeys(refs))
    if not refs or (viewer.is_admin and viewer.signed_in):
        return set()
    hidden: set[str] = set()
    visible = visible_entities(viewer)
    for chunk in _chunks(refs):
        rows = session.execute(select(Entity.ref, visible).where(Entity.ref.in_(chunk)))
        hidden |= {ref for ref, seen in rows if not seen}
    return hidden


def redacted_body(session: Session, entity: Entity, viewer: Principal) -> dict:
    """The entity's body without references to entities the viewer may not see (relation fields of spec)."""
    from devhub.catalog.kinds import RELATION_RULES

    body = entity.body
    if not (viewer.is_admin and viewer.signed_in):  # where it was read from names the server's files
        metadata = dict(body.get("metadata") or {})
        annotations = {
            k: v
            for k, v in (metadata.get("annotations") or {}).items()
            if k not in (ingest.MANAGED_BY_LOCATION, ingest.MANAGED_BY_ORIGIN)
        }
        body = {**body, "metadata": {**metadata, "annotations": annotations}}
    spec = body.get("spec")
    rules = RELATION_RULES.get(entity.kind.lower(), [])
    if not isinstance(spec, dict) or not rules:
        return body
    fields = {rule.field: rule.default_kind for rule in rules if rule.field in spec}
    named = {
        name: [
            (value, _normalise_ref(value, kind or "component"))
            for value in (spec[name] if isinstance(spec[name], list) else [spec[name]])
            if isinstance(value, str)
        ]
        for name, kind in fields.items()
    }
    hidden = hidden_refs(session, [ref for pairs in named.values() for _, ref in pairs], viewer)
    if not hidden:
        return body
    clean_spec = dict(spec)
    for name, pairs in named.items():
        kept = [value for value, ref in pairs if ref not in hidden]
        if isinstance(spec[name], list):
            clean_spec[name] = kept
        elif not kept:
            clean_spec.pop(name)
    return {**body, "spec": clean_spec}


def get_entity(session: Session, kind: str, namespace: str, name: str) -> Entity:
    """Any entity, visible or not: for internal use. Routes use `visible_entity`."""
    ref = f"{kind}:{namespace}/{name}".lower()
    entity = session.scalar(select(Entity).where(Entity.ref == ref))
    if entity is None:
        raise NotFound(f"{ref} is not in the catalog")
    return entity


def visible_entity(session: Session, kind: str, namespace: str, name: str, viewer: Principal) -> Entity:
    """The entity if the viewer may see it; otherwise the same 404 as for one that does not exist."""
    entity = get_entity(session, kind, namespace, name)
    if not entity_visible(viewer, entity, set(access_teams(session, entity.id))):
        raise NotFound(f"{entity.ref} is not in the catalog")
    return entity


def access_teams(session: Session, entity_id: int) -> list[str]:
    return list(session.scalars(select(EntityAccess.team_ref).where(EntityAccess.entity_id == entity_id)))


def get_entity_by_ref(session: Session, ref: str) -> Entity:
    try:
        parsed = parse_ref(ref)
    except RefError as exc:
        raise BadRequest(str(exc)) from None
    return get_entity(session, parsed.kind, parsed.namespace, parsed.name)


@dataclass
class RelatedEntity:
    ref: str
    entity: Entity | None  # None when the target is not (or not yet) in the catalog

    @property
    def label(self) -> str:
        if self.entity is not None:
            return self.entity.display_name
        return self.ref.split("/", 1)[-1]


@dataclass
class Relations:
    by_type: dict[str, list[RelatedEntity]] = field(default_factory=dict)

    def of(self, *types: str) -> list[RelatedEntity]:
        return [item for t in types for item in self.by_type.get(t, [])]


def relations_of(session: Session, ref: str, viewer: Principal) -> Relations:
    """Relations from `ref`; targets the viewer may not see are left out (their names never show)."""
    rows = session.execute(
        select(Relation.type, Relation.target_ref).where(Relation.source_ref == ref).distinct()
    ).all()
    hidden = hidden_refs(session, {target for _, target in rows}, viewer)
    rows = [(relation_type, target) for relation_type, target in rows if target not in hidden]
    targets = {target for _, target in rows}
    entities = entities_by_ref(session, targets)
    grouped: dict[str, list[RelatedEntity]] = defaultdict(list)
    for relation_type, target in sorted(rows):
        grouped[relation_type].append(RelatedEntity(target, entities.get(target)))
    return Relations(dict(grouped))


def entities_by_ref(session: Session, refs: Iterable[str]) -> dict[str, Entity]:
    refs = list(refs)
    found: dict[str, Entity] = {}
    for chunk in _chunks(refs):
        found.update((e.ref, e) for e in session.scalars(select(Entity).where(Entity.ref.in_(chunk))))
    return found


def entity_errors(session: Session, ref: str) -> list[ProcessingError]:
    return list(session.scalars(select(ProcessingError).where(ProcessingError.entity_ref == ref)).all())


def related_page(
    session: Session, ref: str, relation_type: str, page: PageRequest, viewer: Principal, kind: str | None = None
) -> Page[Entity]:
    """Entities at the other end of one relation type (for example all that a team owns), paginated."""
    targets = select(Relation.target_ref).where(Relation.source_ref == ref, Relation.type == relation_type)
    clauses = [Entity.ref.in_(targets), visible_entities(viewer)]
    if kind:
        clauses.append(func.lower(Entity.kind) == kind.lower())
    total = session.scalar(select(func.count()).select_from(Entity).where(*clauses)) or 0
    query = select(Entity).where(*clauses).order_by(Entity.kind, Entity.sort_key)
    return Page(list(session.scalars(query.offset(page.offset).limit(page.size)).all()), total, page)


def kind_counts(session: Session, viewer: Principal) -> list[tuple[str, int]]:
    query = select(Entity.kind, func.count()).where(visible_entities(viewer)).group_by(Entity.kind)
    rows = session.execute(query.order_by(func.count().desc()))
    return [(kind, count) for kind, count in rows]


def recently_changed(session: Session, viewer: Principal, limit: int = 10) -> list[Entity]:
    query = select(Entity).where(visible_entities(viewer)).order_by(Entity.updated_at.desc(), Entity.id.desc())
    return list(session.scalars(query.limit(limit)))


def owned_by_teams(session: Session, viewer: Principal, limit: int = 10) -> list[Entity]:
    """What the viewer's teams own: the home page's "my team" list."""
    if not viewer.teams:
        return []
    query = select(Entity).where(Entity.owner_ref.in_(sorted(viewer.teams)), visible_entities(viewer))
    return list(session.scalars(query.order_by(Entity.kind, Entity.sort_key).limit(limit)))


@dataclass
class TeamSummary:
    entity: Entity
    owned: int
    members: int


def team_summaries(session: Session, viewer: Principal, limit: int = 12) -> list[TeamSummary]:
    """Groups with what they own, most-owning first: the home page's "who owns what"."""
    owned = func.count(func.distinct(Relation.target_ref))
    rows = session.execute(
        select(Relation.source_ref, owned)
        .where(Relation.type == "ownerOf", Relation.source_ref.like("group:%"))
        .group_by(Relation.source_ref)
        .order_by(owned.desc())
        .limit(limit)
    ).all()
    hidden = hidden_refs(session, [ref for ref, _ in rows], viewer)
    entities = entities_by_ref(session, [ref for ref, _ in rows if ref not in hidden])
    members = dict(
        session.execute(
            select(Relation.source_ref, func.count(func.distinct(Relation.target_ref)))
            .where(Relation.type == "hasMember", Relation.source_ref.in_(list(entities)))
            .group_by(Relation.source_ref)
        ).all()
    )
    return [TeamSummary(entities[ref], count, members.get(ref, 0)) for ref, count in rows if ref in entities]
