"""Search: keeping the index in step with the catalog, and answering queries with facets.

Matching is part-of-word and back-end specific, ranking is the same everywhere:

* every query term must occur somewhere in a document's `haystack` (AND), as a plain substring;
* SQLite: terms of 3+ characters go through the FTS5 trigram table `search_fts` (`MATCH "term"`);
  shorter terms fall back to `haystack LIKE '%t%'`, which scans, but only the one small table;
* PostgreSQL: `haystack ILIKE '%term%'`, served by the pg_trgm GIN index for 3+ characters;
* rank: exact name, name prefix, name contains the first term, title contains it, the rest;
  ties by shorter name, then name.

Filters: any of the given kinds, any of the given owners, all of the given tags. Facets of `kind` and
`owner` are counted with every filter but their own (so choosing one kind still shows the others'
counts); `tag` is counted with every filter applied, top 20.

Everything here takes a `Session` and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    table,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity, EntityTag
from devhub.pagination import PageRequest
from devhub.search.models import SearchDocument
from devhub.search.schemas import FACET_NAMES, SearchHit, SearchResults

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
MAX_QUERY_LENGTH = 200  # the API refuses longer queries; the service just cuts them
SNIPPET_LENGTH = 160
TAG_FACET_SIZE = 20
FACET_SIZE = 50  # kind and owner: plenty for a sidebar
CHUNK = 500  # entity ids per IN list
TRIGRAM = 3  # shortest term the trigram indexes can serve
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
    description = entity.description or metadata.get("description") or ""
    text_parts = [str(description)]
    for key, value in annotations.items():
        text_parts += [str(key), "" if value is None else str(value)]
    text_parts += ["" if value is None else str(value) for value in labels.values()]
    text = " ".join(part.strip() for part in text_parts if part and part.strip())
    title = entity.title or ""
    tag_text = " ".join(tags)
    haystack = " ".join(part for part in (entity.name, title, tag_text, text) if part).lower()
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


def remove_entities(session: Session, entity_ids: Iterable[int]) -> None:
    """Drop the documents of these entities (deleting an entity does it too, by ON DELETE CASCADE)."""
    ids = sorted({i for i in entity_ids if i is not None})
    for chunk in _chunks(ids):
        session.execute(delete(SearchDocument).where(SearchDocument.entity_id.in_(chunk)))


def index_entities(session: Session, entities: Sequence[Entity]) -> None:
    """Replace the documents of these entities with fresh ones (idempotent)."""
    if not entities:
        return
    if any(entity.id is None for entity in entities):
        session.flush()
    latest = {entity.id: entity for entity in entities}  # the last copy of a repeated entity wins
    remove_entities(session, latest.keys())
    rows = [document_for_entity(entity) for entity in latest.values()]
    for start in range(0, len(rows), CHUNK * 4):
        session.execute(insert(SearchDocument), rows[start : start + CHUNK * 4])


def index_entity(session: Session, entity: Entity) -> None:
    index_entities(session, [entity])


# --- Queries ------------------------------------------------------------------------------------


def query_terms(query: str) -> list[str]:
    """Lowercase whitespace-separated terms, deduplicated, at most 8 of at most 64 characters."""
    terms: list[str] = []
    for raw in query[: MAX_QUERY_LENGTH * 2].lower().split():
        term = raw[:MAX_TERM_LENGTH]
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms


def _like_escape(value: str) -> str:
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def _contains(column: ColumnElement, term: str) -> ColumnElement[bool]:
    return column.like(f"%{_like_escape(term)}%", escape=LIKE_ESCAPE)


def _fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _match_condition(session: Session, terms: list[str]) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "sqlite":
        conditions: list[ColumnElement[bool]] = []
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        if long_terms:
            expression = " AND ".join(_fts_string(t) for t in long_terms)
            matched = select(_search_fts.c.rowid).where(_search_fts.c.search_fts.op("MATCH")(expression))
            conditions.append(_doc.id.in_(matched))
        conditions += [_contains(_doc.haystack, t) for t in terms if len(t) < TRIGRAM]
        return and_(*conditions)
    return and_(*(_doc.haystack.ilike(f"%{_like_escape(t)}%", escape=LIKE_ESCAPE) for t in terms))


def _clean(values: list[str] | None, *, lower: bool = False) -> list[str]:
    cleaned = []
    for value in values or []:
        value = (value or "").strip()
        if lower:
            value = value.lower()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def _tag_conditions(tags: list[str]) -> list[ColumnElement[bool]]:
    return [
        _doc.entity_id.in_(select(EntityTag.entity_id).where(EntityTag.tag == tag).scalar_subquery()) for tag in tags
    ]


def _rank(terms: list[str], dialect: str) -> list[ColumnElement]:
    phrase = " ".join(terms)
    first = terms[0]
    name = func.lower(_doc.name)
    rank = case(
        (name == phrase, 0),
        (name.like(_like_escape(phrase) + "%", escape=LIKE_ESCAPE), 1),
        (_contains(name, first), 2),
        (_contains(func.lower(_doc.title), first), 3),
        else_=4,
    )
    # Byte order on both back-ends, whatever the PostgreSQL database's collation.
    by_name = _doc.name if dialect == "sqlite" else _doc.name.collate("C")
    return [rank, func.length(_doc.name), by_name, _doc.id]


def search(
    session: Session,
    query: str,
    *,
    kinds: list[str] | None = None,
    owners: list[str] | None = None,
    tags: list[str] | None = None,
    page: PageRequest,
) -> SearchResults:
    """One page of documents matching every term of `query`, best first, with facet counts."""
    terms = query_terms(query)
    results = SearchResults(hits=[], total=0, request=page, terms=terms)
    if not terms:
        return results
    kinds = _clean(kinds, lower=True)
    owners = _clean(owners)
    tags = _clean(tags)

    match = _match_condition(session, terms)
    kind_filter = _doc.kind.in_(kinds) if kinds else None
    owner_filter = _doc.owner_ref.in_(owners) if owners else None

    results.total, results.facets = _count(session, match, tags, kind_filter, owner_filter)
    if results.total == 0 or page.offset >= results.total:
        return results

    statement = (
        select(
            _doc.ref,
            _doc.kind,
            _doc.name,
            _doc.title,
            _doc.owner_ref,
            _doc.url,
            _doc.text,
            _doc.doc_type,
            _doc.tags,
        )
        .where(match, *_tag_conditions(tags))
        .order_by(*_rank(terms, session.get_bind().dialect.name))
        .limit(page.size)
        .offset(page.offset)
    )
    for condition in (kind_filter, owner_filter):
        if condition is not None:
            statement = statement.where(condition)
    results.hits = [
        SearchHit(
            ref=row.ref,
            kind=row.kind,
            name=row.name,
            title=row.title or "",
            owner_ref=row.owner_ref,
            url=row.url,
            snippet=make_snippet(row.text or "", terms),
            doc_type=row.doc_type,
            tags=(row.tags or "").split(),
        )
        for row in session.execute(statement)
    ]
    return results


def _flag(condition: ColumnElement[bool] | None, name: str) -> ColumnElement:
    if condition is None:
        return literal(1, Integer).label(name)
    return case((condition, 1), else_=0).label(name)


def _count(
    session: Session,
    match: ColumnElement[bool],
    tags: list[str],
    kind_filter: ColumnElement[bool] | None,
    owner_filter: ColumnElement[bool] | None,
) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """The total and the three facets, in one statement over the matched set."""
    matched = select(
        _doc.entity_id,
        _doc.kind,
        _doc.owner_ref,
        _flag(kind_filter, "in_kind"),
        _flag(owner_filter, "in_owner"),
    ).where(match, *_tag_conditions(tags))
    cte = matched.cte("matched")
    if session.get_bind().dialect.name != "sqlite" or _SQLITE_MATERIALIZED:
        cte = cte.prefix_with("MATERIALIZED")
    in_kind = cte.c.in_kind == 1
    in_owner = cte.c.in_owner == 1

    def part(name: str, value: Any, *where: ColumnElement[bool]) -> Select:
        statement = select(literal(name).label("facet"), value.label("value"), func.count().label("n"))
        statement = statement.select_from(cte).where(*where)
        return statement.group_by(value) if name != "total" else statement

    tag_counts = (
        select(literal("tag").label("facet"), EntityTag.tag.label("value"), func.count().label("n"))
        .select_from(cte.join(EntityTag, EntityTag.entity_id == cte.c.entity_id))
        .where(in_kind, in_owner)
        .group_by(EntityTag.tag)
        .order_by(func.count().desc(), EntityTag.tag)
        .limit(TAG_FACET_SIZE)
        .subquery()
    )
    statement = union_all(
        part("total", literal(None, SearchDocument.kind.type), in_kind, in_owner),
        part("kind", cte.c.kind, in_owner),
        part("owner", cte.c.owner_ref, in_kind, cte.c.owner_ref.is_not(None)),
        select(tag_counts.c.facet, tag_counts.c.value, tag_counts.c.n),
    )
    total = 0
    facets: dict[str, list[tuple[str, int]]] = {name: [] for name in FACET_NAMES}
    for name, value, count in session.execute(statement):
        if name == "total":
            total = count
        elif value is not None and count:
            facets[name].append((value, count))
    for name, pairs in facets.items():
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        del pairs[TAG_FACET_SIZE if name == "tag" else FACET_SIZE :]
    return total, facets


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
