"""Search: keeping the index in step with the catalog, and answering queries with facets.

Matching is part-of-word and back-end specific, ranking is the same everywhere:

* every query term must occur somewhere in a document's `haystack` (AND), as a plain substring;
  the haystack and the terms are both lowercase, so the tests below are case-insensitive;
* SQLite: terms of 3+ characters go through the FTS5 trigram table `search_fts` (`MATCH "term"`);
  shorter ones are `instr(haystack, t) > 0`, which scans, but only the one narrow table;
* PostgreSQL: `haystack LIKE '%term%'` (escaped), served by the pg_trgm GIN index for 3+ characters;
* rank: exact name, name prefix, name contains the first term, title contains it, the rest;
  ties by shorter name, then name (byte order).

Visibility: given a `viewer` (the principal of the request), documents of entities it may not see are left
out before anything is counted (`identity.policy.visible_entities`); operations of an API that is not in the
catalog (no entity) are open, like their reference pages. Without a viewer nothing is filtered: for the CLI
on the portal's host, tests and benchmarks.

Filters: any of the given kinds, any of the given owners, all of the given tags. Facets of `kind` and
`owner` are counted with every filter but their own (so choosing one kind still shows the others'
counts); `tag` is counted with every filter applied, top 20.

Three kinds of documents (`doc_type`):

* `entity`: a catalog entity (`index_entities`). Its tags are filtered and counted through
  `catalog_entity_tags`; the `tags` column holds them space-separated, for display.
* `operation`: an operation of the latest published version of an API (`index_spec_version`), kind
  `operation`, `ref` the API's ref, `entity_id` the API entity when it is in the catalog. Its `text` is
  `"METHOD path"`, a newline, then the description as plain text (the hit shows both apart).
* `guide`: a guide page of an entity (`index_guides`), kind `guide`, `ref` the entity's ref.

Operations and guides keep their tags in the `tags` column as a JSON array (OpenAPI tags may hold spaces),
read with `json_each` (SQLite) or `json_array_elements_text` (PostgreSQL) for the tag filter and facet.
Re-indexing an entity replaces only its `entity` document, and refreshes the owner of the operations and
guides hanging off it (restoring them when the entity was re-created).

Everything here takes a `Session` and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    JSON,
    ColumnElement,
    CompoundSelect,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
    union_all,
    update,
)
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity, EntityTag
from devhub.docs.models import Guide
from devhub.identity.policy import Principal, visible_entities
from devhub.markdown import plain_text
from devhub.pagination import PageRequest
from devhub.search.models import SearchDocument
from devhub.search.schemas import SearchHit, SearchResults
from devhub.specs.models import SpecOperation, SpecVersion

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
MAX_QUERY_LENGTH = 200  # the API refuses longer queries; the service just cuts them
SNIPPET_LENGTH = 160
TAG_FACET_SIZE = 20
FACET_SIZE = 50  # kind and owner: plenty for a sidebar
CHUNK = 500  # entity ids per IN list
TRIGRAM = 3  # shortest term the trigram indexes can serve
MAX_DOCUMENT_TEXT = 100_000  # characters of a guide or description kept for search
ENTITY = "entity"
OPERATION = "operation"
GUIDE = "guide"
ATTACHED = (OPERATION, GUIDE)  # documents that hang off an entity by ref
HIDDEN_LIFECYCLES = ("draft", "retired")  # not "latest" while another version is published
LIKE_ESCAPE = "\\"

_search_fts = table("search_fts", sql_column("rowid", Integer), sql_column("search_fts"))
_doc = SearchDocument.__table__.c
# SQLite learned `AS MATERIALIZED` in 3.35; PostgreSQL in 12, the oldest version we support.
_SQLITE_MATERIALIZED = sqlite3.sqlite_version_info >= (3, 35, 0)


# --- Documents ----------------------------------------------------------------------------------


def entity_url(entity: Entity) -> str:
    return f"/catalog/{entity.namespace}/{entity.kind.lower()}/{entity.name}"


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _strings(values: Iterable[Any]) -> list[str]:
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def document_for_entity(entity: Entity) -> dict[str, Any]:
    """The `search_documents` column values of one entity (without `id`)."""
    metadata = _mapping(_mapping(entity.body).get("metadata"))
    raw_tags = metadata.get("tags") or []
    tags = _strings(raw_tags if isinstance(raw_tags, list) else [])
    annotations = _mapping(metadata.get("annotations"))
    labels = _mapping(metadata.get("labels"))
    # `text` is what a hit shows: the description as plain text. The haystack also holds annotation and
    # label values, but not their keys (`github.com/project-slug` is on every entity and matches nothing useful).
    text = plain_text(str(entity.description or metadata.get("description") or ""))
    values = [str(v) for v in (*annotations.values(), *labels.values()) if v is not None and str(v).strip()]
    title = entity.title or ""
    tag_text = " ".join(tags)
    haystack = " ".join(part for part in (entity.name, title, tag_text, text, *values) if part).lower()
    return {
        "doc_type": "entity",
        "entity_id": entity.id,
        "ref": entity.ref,
        "kind": entity.kind.lower(),
        "name": entity.name,
        "title": title,
        "owner_ref": entity.owner_ref,
        "tags": tag_text,
        "text": text,
        "url": entity_url(entity),
        "haystack": haystack,
    }


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def remove_entities(session: Session, entity_ids: Iterable[int], *, doc_type: str | None = None) -> None:
    """Drop the documents of these entities, all of them (their operations and guides too) unless `doc_type`
    names one kind of document. Deleting an entity drops them all too, by ON DELETE CASCADE."""
    ids = sorted({i for i in entity_ids if i is not None})
    only = [SearchDocument.doc_type == doc_type] if doc_type else []
    for chunk in _chunks(ids):
        session.execute(delete(SearchDocument).where(SearchDocument.entity_id.in_(chunk), *only))


def index_entities(session: Session, entities: Sequence[Entity]) -> None:
    """Replace the `entity` documents of these entities with fresh ones (idempotent); their operation and
    guide documents stay, with the owner brought up to date."""
    if not entities:
        return
    if any(entity.id is None for entity in entities):
        session.flush()
    latest = {entity.id: entity for entity in entities}  # the last copy of a repeated entity wins
    if None in latest:
        raise ValueError("index_entities needs entities that are in the session (they have no id)")
    remove_entities(session, latest.keys(), doc_type=ENTITY)
    rows = [document_for_entity(entity) for entity in latest.values()]
    for start in range(0, len(rows), CHUNK * 4):
        session.execute(insert(SearchDocument), rows[start : start + CHUNK * 4])
    _refresh_attached(session, [entity.ref for entity in latest.values()])


def _refresh_attached(session: Session, refs: Sequence[str]) -> None:
    """Operations and guides of these (re-indexed) entities: point them at the entity and its owner, and
    index them again where they are missing (an entity deleted and re-created loses them by cascade)."""
    for chunk in _chunks(list(dict.fromkeys(refs))):
        of_ref = Entity.ref == SearchDocument.ref
        session.execute(
            update(SearchDocument)
            .where(SearchDocument.doc_type.in_(ATTACHED), SearchDocument.ref.in_(chunk))
            .values(
                entity_id=select(Entity.id).where(of_ref).scalar_subquery(),
                owner_ref=select(Entity.owner_ref).where(of_ref).scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        )
        guided = set(session.scalars(select(Guide.entity_ref).where(Guide.entity_ref.in_(chunk)).distinct()))
        published = set(session.scalars(select(SpecVersion.api_ref).where(SpecVersion.api_ref.in_(chunk)).distinct()))
        if not guided and not published:
            continue
        present = {
            (doc_type, ref)
            for doc_type, ref in session.execute(
                select(SearchDocument.doc_type, SearchDocument.ref)
                .where(SearchDocument.doc_type.in_(ATTACHED), SearchDocument.ref.in_(guided | published))
                .distinct()
            )
        }
        for ref in sorted(guided):
            if (GUIDE, ref) not in present:
                index_guides(session, ref)
        for ref in sorted(published):
            if (OPERATION, ref) not in present:
                _index_operations(session, ref)


# --- Operations and guides ----------------------------------------------------------------------


def _json_tags(values: Iterable[Any]) -> str:
    return json.dumps(list(dict.fromkeys(_strings(values))), ensure_ascii=False)


def _ref_name(ref: str) -> tuple[str, str]:
    """(namespace, name) of a `kind:namespace/name` ref."""
    rest = ref.split(":", 1)[-1]
    namespace, _, name = rest.rpartition("/")
    return namespace or "default", name


def operation_url(api_ref: str, version: str, anchor: str) -> str:
    namespace, name = _ref_name(api_ref)
    parts = [quote(namespace, safe=""), quote(name, safe=""), quote(version, safe=""), quote(anchor, safe="")]
    return "/apis/{}/{}/v/{}/operations/{}".format(*parts)


def latest_version(session: Session, api_ref: str) -> SpecVersion | None:
    """The newest published version of an API that is neither draft nor retired; else the newest one."""
    query = select(SpecVersion).where(SpecVersion.api_ref == api_ref)
    newest = (SpecVersion.published_at.desc(), SpecVersion.id.desc())
    found = session.scalar(query.where(SpecVersion.lifecycle.not_in(HIDDEN_LIFECYCLES)).order_by(*newest).limit(1))
    return found or session.scalar(query.order_by(*newest).limit(1))


def _operation_description(document: Any, operation: SpecOperation) -> str:
    """The operation's description in the bundled document (OpenAPI paths, AsyncAPI 2 channels or 3
    operations); empty when it cannot be found."""
    if not isinstance(document, dict):
        return ""
    method = (operation.method or "").lower()
    for container in ("paths", "channels"):
        items = document.get(container)
        item = items.get(operation.path) if isinstance(items, dict) else None
        found = item.get(method) if isinstance(item, dict) else None
        if isinstance(found, dict):
            return str(found.get("description") or "")
    operations = document.get("operations")
    found = operations.get(operation.operation_id) if isinstance(operations, dict) and operation.operation_id else None
    return str(found.get("description") or "") if isinstance(found, dict) else ""


def document_for_operation(
    version: SpecVersion, operation: SpecOperation, entity: Entity | None, description: str = ""
) -> dict[str, Any]:
    """The `search_documents` column values of one operation (without `id`)."""
    method = (operation.method or "").upper()
    label = f"{method} {operation.path}".strip()
    tags = _strings(operation.tags if isinstance(operation.tags, list) else [])
    text = plain_text(description)[:MAX_DOCUMENT_TEXT]
    parts = (method, operation.path, operation.operation_id or "", operation.summary or "", " ".join(tags), text)
    return {
        "doc_type": OPERATION,
        "entity_id": entity.id if entity is not None else None,
        "ref": version.api_ref,
        "kind": OPERATION,
        "name": (operation.operation_id or label)[:255],
        "title": " ".join((operation.summary or label).split())[:512],
        "owner_ref": entity.owner_ref if entity is not None else None,
        "tags": _json_tags(tags),
        "text": f"{method} {operation.path}\n{text}",
        "url": operation_url(version.api_ref, version.version, operation.anchor),
        "haystack": " ".join(part for part in parts if part).lower(),
    }


def index_spec_version(session: Session, version: SpecVersion) -> None:
    """Index the operations of the latest published version of `version`'s API (see `latest_version`), in
    place of that API's previous operation documents. Call it after every publish (or removal)."""
    session.flush()
    _index_operations(session, version.api_ref)


def _index_operations(session: Session, api_ref: str) -> None:
    session.execute(delete(SearchDocument).where(SearchDocument.doc_type == OPERATION, SearchDocument.ref == api_ref))
    version = latest_version(session, api_ref)
    if version is None:
        return
    operations = session.scalars(
        select(SpecOperation).where(SpecOperation.version_id == version.id).order_by(SpecOperation.id)
    ).all()
    if not operations:
        return
    entity = session.scalar(select(Entity).where(Entity.ref == api_ref.lower()))
    document = version.bundled
    rows = [
        document_for_operation(version, operation, entity, _operation_description(document, operation))
        for operation in operations
    ]
    for start in range(0, len(rows), CHUNK * 4):
        session.execute(insert(SearchDocument), rows[start : start + CHUNK * 4])


def document_for_guide(guide: Guide, entity: Entity) -> dict[str, Any]:
    from devhub.docs.service import guide_url

    text = plain_text(guide.body)[:MAX_DOCUMENT_TEXT]
    return {
        "doc_type": GUIDE,
        "entity_id": entity.id,
        "ref": entity.ref,
        "kind": GUIDE,
        "name": guide.slug[:255],
        "title": guide.title[:512],
        "owner_ref": entity.owner_ref,
        "tags": "[]",
        "text": text,
        "url": guide_url(entity.ref, guide.slug),
        "haystack": " ".join(part for part in (guide.title, guide.slug, text) if part).lower(),
    }


def index_guides(session: Session, entity_ref: str) -> None:
    """Replace the guide documents of an entity. Guides of an entity that is not in the catalog are not
    searchable (their pages answer 404); they are indexed when it comes (see `index_entities`)."""
    session.flush()
    ref = entity_ref.lower()
    session.execute(delete(SearchDocument).where(SearchDocument.doc_type == GUIDE, SearchDocument.ref == ref))
    entity = session.scalar(select(Entity).where(Entity.ref == ref))
    if entity is None:
        return
    guides = session.scalars(select(Guide).where(Guide.entity_ref == ref).order_by(Guide.position, Guide.id)).all()
    rows = [document_for_guide(guide, entity) for guide in guides]
    if rows:
        session.execute(insert(SearchDocument), rows)


def index_entity(session: Session, entity: Entity) -> None:
    index_entities(session, [entity])


# --- Queries ------------------------------------------------------------------------------------


def query_terms(query: str) -> list[str]:
    """Lowercase whitespace-separated terms, deduplicated, at most 8 of at most 64 characters."""
    terms: list[str] = []
    for raw in query[: MAX_QUERY_LENGTH * 2].replace("\x00", " ").lower().split():
        term = raw[:MAX_TERM_LENGTH]
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms


def _like_escape(value: str) -> str:
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def _fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Shape:
    """What the SQL of a search depends on; the values all go in as bound parameters."""

    dialect: str
    fts: bool  # SQLite: some terms of 3+ characters, ANDed in one FTS5 expression
    scans: int  # SQLite: terms too short for trigrams; PostgreSQL: every term
    kinds: bool
    owners: bool
    tags: int
    visibility: tuple | None = None  # the viewer's `visibility_key`; None: no visibility filter


def _match_condition(shape: _Shape) -> list[ColumnElement[bool]]:
    if shape.dialect == "sqlite":
        conditions: list[ColumnElement[bool]] = []
        if shape.fts:
            matched = select(_search_fts.c.rowid).where(_search_fts.c.search_fts.op("MATCH")(bindparam("fts")))
            conditions.append(_doc.id.in_(matched))
        # Too short for trigrams: scan. The haystack is lowercase, so a plain substring test will do.
        conditions += [func.instr(_doc.haystack, bindparam(f"scan_{i}", type_=String)) > 0 for i in range(shape.scans)]
        return conditions
    # LIKE rather than ILIKE: the haystack and the terms are both lowercase, and LIKE rechecks faster.
    return [_doc.haystack.like(bindparam(f"scan_{i}", type_=String), escape=LIKE_ESCAPE) for i in range(shape.scans)]


def _rank(dialect: str) -> ColumnElement[int]:
    """0 exact name, 1 name prefix, 2 name contains the first term, 3 title contains it, 4 the rest.

    Both the full query and its first term are lowercase, and a name that equals or starts with the
    query contains its first term: testing that first keeps the common case (4) to two look-ups.
    """
    position = func.instr if dialect == "sqlite" else func.strpos
    first = bindparam("first", type_=String)
    phrase = bindparam("phrase", type_=String)
    name = func.lower(_doc.name)
    in_title = case((position(func.lower(_doc.title), first) > 0, 3), else_=4)
    return case(
        (position(name, first) == 0, in_title),
        (name == phrase, 0),
        (func.substr(name, 1, bindparam("phrase_length", type_=Integer)) == phrase, 1),
        else_=2,
    )


def _attached_tags(doc_type: ColumnElement, tags: ColumnElement) -> ColumnElement[str]:
    """The JSON array of tags of an operation or guide; `[]` for entities (their tags are in their own table)."""
    return case((and_(doc_type != ENTITY, tags.like("[%")), tags), else_=literal("[]"))


def _tag_values(dialect: str, tags_json: ColumnElement) -> Any:
    """A table-valued function over a JSON array of strings, with one column `value`."""
    if dialect == "sqlite":
        return func.json_each(tags_json).table_valued("value")
    return func.json_array_elements_text(cast(tags_json, JSON)).table_valued("value")


def _tagged(dialect: str, parameter: str) -> ColumnElement[bool]:
    """The document carries this tag: through `catalog_entity_tags` for entities, its JSON tags otherwise."""
    tag = bindparam(parameter, type_=String)
    values = _tag_values(dialect, _attached_tags(_doc.doc_type, _doc.tags))
    return or_(
        and_(_doc.doc_type == ENTITY, _doc.entity_id.in_(select(EntityTag.entity_id).where(EntityTag.tag == tag))),
        and_(_doc.doc_type != ENTITY, exists(select(literal(1)).select_from(values).where(values.c.value == tag))),
    )


def _null(type_: Any) -> ColumnElement:
    return cast(null(), type_)


def _row(facet: str, value: Any, n: Any, rank: Any = None, length: Any = None) -> list[ColumnElement]:
    """A row of the one result set that carries the total, the facets and the page's ids."""
    return [
        literal_column(f"'{facet}'", String).label("facet"),  # a constant of ours, not user input
        (value if value is not None else _null(String)).label("value"),
        n.label("n"),
        (rank if rank is not None else _null(Integer)).label("rank"),
        (length if length is not None else _null(Integer)).label("name_length"),
    ]


_STATEMENTS: OrderedDict[_Shape, CompoundSelect] = OrderedDict()
_STATEMENTS_LOCK = Lock()
STATEMENT_CACHE_SIZE = 512


def _statement(shape: _Shape, viewer: Principal | None = None) -> CompoundSelect:
    """The statement of a shape, built once: the visibility condition depends only on the viewer's
    `visibility_key`, which is part of the shape."""
    with _STATEMENTS_LOCK:
        found = _STATEMENTS.get(shape)
        if found is not None:
            _STATEMENTS.move_to_end(shape)
            return found
    built = _build_statement(shape, viewer)
    with _STATEMENTS_LOCK:
        _STATEMENTS[shape] = built
        while len(_STATEMENTS) > STATEMENT_CACHE_SIZE:
            _STATEMENTS.popitem(last=False)
    return built


def _visible(viewer: Principal) -> ColumnElement[bool]:
    """Documents of entities the viewer may see, and documents of no entity (operations of an API that has
    left the catalog, whose reference pages stay open)."""
    return or_(_doc.entity_id.is_(None), _doc.entity_id.in_(select(Entity.id).where(visible_entities(viewer))))


def _build_statement(shape: _Shape, viewer: Principal | None) -> CompoundSelect:
    """Find the matched set once (materialised) and from it: the total, the kind and owner facets
    (each without its own filter), the tag facet, and the ids of the page, best first."""
    columns = [
        _doc.id,
        _doc.entity_id,
        _doc.doc_type,
        _attached_tags(_doc.doc_type, _doc.tags).label("attached_tags"),
        _doc.kind,
        _doc.owner_ref,
        _doc.name,
        _rank(shape.dialect).label("rank"),
        func.length(_doc.name).label("name_length"),
    ]
    if shape.kinds:
        kinds = bindparam("kinds", expanding=True, type_=String)
        columns.append(case((_doc.kind.in_(kinds), 1), else_=0).label("in_kind"))
    if shape.owners:
        owners = bindparam("owners", expanding=True, type_=String)
        columns.append(case((_doc.owner_ref.in_(owners), 1), else_=0).label("in_owner"))
    tagged = [_tagged(shape.dialect, f"tag_{i}") for i in range(shape.tags)]
    visible = [_visible(viewer)] if shape.visibility is not None and viewer is not None else []
    matched = select(*columns).where(*_match_condition(shape), *tagged, *visible).cte("matched")
    if shape.dialect != "sqlite" or _SQLITE_MATERIALIZED:
        matched = matched.prefix_with("MATERIALIZED")
    in_kind = [matched.c.in_kind == 1] if shape.kinds else []
    in_owner = [matched.c.in_owner == 1] if shape.owners else []
    # Byte order on both back-ends, whatever the collation of the PostgreSQL database.
    name_order = matched.c.name if shape.dialect == "sqlite" else matched.c.name.collate("C")

    count = func.count()
    entity_tags = select(EntityTag.tag.label("tag")).where(
        EntityTag.entity_id.in_(select(matched.c.entity_id).where(matched.c.doc_type == ENTITY, *in_kind, *in_owner))
    )
    values = _tag_values(shape.dialect, matched.c.attached_tags)
    attached_tags = (
        select(values.c.value.label("tag"))
        .select_from(matched)
        .join(values, true())
        .where(matched.c.doc_type != ENTITY, *in_kind, *in_owner)
    )
    all_tags = union_all(entity_tags, attached_tags).subquery("all_tags")
    tag_counts = (
        select(*_row("tag", all_tags.c.tag, count))
        .group_by(all_tags.c.tag)
        .order_by(count.desc(), all_tags.c.tag)
        .limit(TAG_FACET_SIZE)
        .subquery()
    )
    page_ids = (
        select(*_row("hit", matched.c.name, matched.c.id, matched.c.rank, matched.c.name_length))
        .where(*in_kind, *in_owner)
        .order_by(matched.c.rank, matched.c.name_length, name_order, matched.c.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery()
    )
    return union_all(
        select(*_row("total", None, count)).select_from(matched).where(*in_kind, *in_owner),
        select(*_row("kind", matched.c.kind, count)).where(*in_owner).group_by(matched.c.kind),
        select(*_row("owner", matched.c.owner_ref, count))
        .where(*in_kind, matched.c.owner_ref.is_not(None))
        .group_by(matched.c.owner_ref),
        select(tag_counts),
        select(page_ids),
    )


def _clean(values: list[str] | None, *, lower: bool = False) -> list[str]:
    cleaned = []
    for value in values or []:
        value = (value or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
        if lower:
            value = value.lower()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def search(
    session: Session,
    query: str,
    *,
    kinds: list[str] | None = None,
    owners: list[str] | None = None,
    tags: list[str] | None = None,
    page: PageRequest,
    viewer: Principal | None = None,
) -> SearchResults:
    """One page of documents matching every term of `query`, best first, with facet counts; only what
    `viewer` may see when one is given (routes always give it).

    Two statements: one over the matched set for the total, the facets and the page's ids; one
    fetching those documents by primary key. The SQL is built once per shape of query and reused.
    """
    terms = query_terms(query)
    results = SearchResults(hits=[], total=0, request=page, terms=terms)
    if not terms:
        return results
    kinds = _clean(kinds, lower=True)
    owners = _clean(owners)
    tags = _clean(tags)
    dialect = session.get_bind().dialect.name

    phrase = " ".join(terms)
    params: dict[str, Any] = {
        "first": terms[0],
        "phrase": phrase,
        "phrase_length": len(phrase),
        "limit": page.size,
        "offset": page.offset,
    }
    if dialect == "sqlite":
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        scans = [t for t in terms if len(t) < TRIGRAM]
        if long_terms:
            params["fts"] = " AND ".join(_fts_string(t) for t in long_terms)
    else:
        long_terms = []
        scans = [f"%{_like_escape(t)}%" for t in terms]
    params.update({f"scan_{i}": value for i, value in enumerate(scans)})
    params.update({f"tag_{i}": value for i, value in enumerate(tags)})
    if kinds:
        params["kinds"] = kinds
    if owners:
        params["owners"] = owners
    # An admin sees everything: no condition at all, rather than one that is always true.
    unfiltered = viewer is None or (viewer.is_admin and viewer.signed_in)
    visibility = None if unfiltered else viewer.visibility_key
    shape = _Shape(dialect, bool(long_terms), len(scans), bool(kinds), bool(owners), len(tags), visibility)

    hits: list[tuple[int, int, str, int]] = []
    for facet, value, n, rank, length in session.execute(_statement(shape, viewer), params):
        if facet == "total":
            results.total = n
        elif facet == "hit":
            hits.append((rank, length, value, n))
        elif value is not None and n:
            results.facets[facet].append((value, n))
    for facet, pairs in results.facets.items():
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        del pairs[TAG_FACET_SIZE if facet == "tag" else FACET_SIZE :]
    if hits:
        hits.sort()  # a union keeps no order: sort the page again, by the same key
        results.hits = _load_hits(session, [doc_id for *_, doc_id in hits], terms)
    return results


_LOAD_HITS = select(
    _doc.id,
    _doc.ref,
    _doc.kind,
    _doc.name,
    _doc.title,
    _doc.owner_ref,
    _doc.url,
    _doc.text,
    _doc.doc_type,
    _doc.tags,
).where(_doc.id.in_(bindparam("ids", expanding=True)))


def _hit_tags(doc_type: str, tags: str | None) -> list[str]:
    if doc_type == ENTITY:
        return (tags or "").split()
    try:
        values = json.loads(tags or "[]")
    except ValueError:
        return []
    return [str(v) for v in values] if isinstance(values, list) else []


def _hit(row: Any, terms: list[str]) -> SearchHit:
    text, method, path = row.text or "", None, None
    if row.doc_type == OPERATION:
        label, _, text = text.partition("\n")
        method, _, path = label.partition(" ")
    return SearchHit(
        ref=row.ref,
        kind=row.kind,
        name=row.name,
        title=row.title or "",
        owner_ref=row.owner_ref,
        url=row.url,
        snippet=make_snippet(text, terms),
        doc_type=row.doc_type,
        tags=_hit_tags(row.doc_type, row.tags),
        method=method or None,
        path=path or None,
    )


def _load_hits(session: Session, ids: list[int], terms: list[str]) -> list[SearchHit]:
    rows = {row.id: row for row in session.execute(_LOAD_HITS, {"ids": ids})}
    return [_hit(row, terms) for row in (rows.get(doc_id) for doc_id in ids) if row is not None]


# --- Snippets -----------------------------------------------------------------------------------


def make_snippet(text: str, terms: list[str], length: int = SNIPPET_LENGTH) -> str:
    """A plain-text excerpt of at most `length` characters around the earliest match of any term."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    positions = [m.start() for t in terms if (m := re.search(re.escape(t), text, re.IGNORECASE))]
    first = min(positions, default=0)
    start = 0 if first < length // 3 else first - length // 4
    if start:
        space = text.find(" ", start, first)  # begin on a word when one starts close enough
        start = space + 1 if space != -1 else start
    start = min(start, max(0, len(text) - (length - 1)))
    prefix = "…" if start else ""
    budget = length - len(prefix)
    end = start + budget
    if end >= len(text):
        return prefix + text[start:]
    cut = text.rfind(" ", start, end - 1)
    end = cut if cut > start + budget // 2 else end - 1
    return prefix + text[start:end].rstrip() + "…"
