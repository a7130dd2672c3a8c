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

import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    table,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity, EntityTag
from devhub.pagination import PageRequest
from devhub.search.models import SearchDocument
from devhub.search.schemas import SearchHit, SearchResults

MAX_TERMS = 8
MAX_TERM_LENGTH = 64
MAX_QUERY_LENGTH = 200  # the API refuses longer queries; the service just cuts them
SNIPPET_LENGTH = 160
TAG_FACET_SIZE = 20
FACET_SIZE = 50  # kind and owner: plenty for a sidebar
CHUNK = 500  # entity ids per IN list
TRIGRAM = 3  # shortest term the trigram indexes can serve
TRIGRAM_INDEX = "ix_search_documents_haystack_trgm"  # PostgreSQL, made by migration 0001
LIKE_ESCAPE = "\\"

_search_fts = table("search_fts", sql_column("rowid", Integer), sql_column("search_fts"))
_doc = SearchDocument.__table__.c
_gin_merge_refused = False
log = logging.getLogger(__name__)
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
    if None in latest:
        raise ValueError("index_entities needs entities that are in the session (they have no id)")
    remove_entities(session, latest.keys())
    rows = [document_for_entity(entity) for entity in latest.values()]
    for start in range(0, len(rows), CHUNK * 4):
        session.execute(insert(SearchDocument), rows[start : start + CHUNK * 4])
    if session.get_bind().dialect.name == "postgresql":
        _merge_gin_pending_list(session)


def _merge_gin_pending_list(session: Session) -> None:
    """Move fresh entries of the trigram index out of its pending list and into the index proper.

    A GIN index built with `fastupdate` (the default) queues new entries in a pending list that every
    search reads through, until autovacuum merges it: right after a large import (or for good, where
    autovacuum is off) the planner prices the index so high that searches scan the whole table. The
    merge costs about what the inserts did. It needs ownership of the index; without it, it is skipped.
    """
    global _gin_merge_refused
    if _gin_merge_refused:
        return
    try:
        with session.begin_nested():
            session.execute(select(func.gin_clean_pending_list(func.to_regclass(TRIGRAM_INDEX))))
    except DBAPIError as error:
        _gin_merge_refused = True
        log.warning("search: cannot merge the pending list of %s (%s); relying on autovacuum", TRIGRAM_INDEX, error)


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


def _fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _match_condition(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    if dialect == "sqlite":
        conditions: list[ColumnElement[bool]] = []
        long_terms = [t for t in terms if len(t) >= TRIGRAM]
        if long_terms:
            expression = " AND ".join(_fts_string(t) for t in long_terms)
            matched = select(_search_fts.c.rowid).where(_search_fts.c.search_fts.op("MATCH")(expression))
            conditions.append(_doc.id.in_(matched))
        # Too short for trigrams: scan. The haystack is lowercase, so a plain substring test will do.
        conditions += [func.instr(_doc.haystack, t) > 0 for t in terms if len(t) < TRIGRAM]
        return and_(*conditions)
    # LIKE rather than ILIKE: the haystack and the terms are both lowercase, and LIKE rechecks faster.
    return and_(*(_doc.haystack.like(f"%{_like_escape(t)}%", escape=LIKE_ESCAPE) for t in terms))


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
    return [_doc.entity_id.in_(select(EntityTag.entity_id).where(EntityTag.tag == tag)) for tag in tags]


def _rank(dialect: str, terms: list[str]) -> ColumnElement[int]:
    """0 exact name, 1 name prefix, 2 name contains the first term, 3 title contains it, 4 the rest."""
    phrase = " ".join(terms)
    first = terms[0]
    position = func.instr if dialect == "sqlite" else func.strpos
    name = func.lower(_doc.name)
    return case(
        (name == phrase, 0),
        (func.substr(name, 1, len(phrase)) == phrase, 1),
        (position(name, first) > 0, 2),
        (position(func.lower(_doc.title), first) > 0, 3),
        else_=4,
    )


def _null(type_: Any) -> ColumnElement:
    return cast(null(), type_)


def search(
    session: Session,
    query: str,
    *,
    kinds: list[str] | None = None,
    owners: list[str] | None = None,
    tags: list[str] | None = None,
    page: PageRequest,
) -> SearchResults:
    """One page of documents matching every term of `query`, best first, with facet counts.

    One statement finds the matched set once (materialised), and from it counts the total and the
    facets and picks the page's document ids; a second fetches those documents by primary key.
    """
    terms = query_terms(query)
    results = SearchResults(hits=[], total=0, request=page, terms=terms)
    if not terms:
        return results
    kinds = _clean(kinds, lower=True)
    owners = _clean(owners)
    tags = _clean(tags)
    dialect = session.get_bind().dialect.name

    columns = [
        _doc.id,
        _doc.entity_id,
        _doc.kind,
        _doc.owner_ref,
        _doc.name,
        _rank(dialect, terms).label("rank"),
        func.length(_doc.name).label("name_length"),
    ]
    if kinds:
        columns.append(case((_doc.kind.in_(kinds), 1), else_=0).label("in_kind"))
    if owners:
        columns.append(case((_doc.owner_ref.in_(owners), 1), else_=0).label("in_owner"))
    matched = select(*columns).where(_match_condition(dialect, terms), *_tag_conditions(tags)).cte("matched")
    if dialect != "sqlite" or _SQLITE_MATERIALIZED:
        matched = matched.prefix_with("MATERIALIZED")
    in_kind = [matched.c.in_kind == 1] if kinds else []
    in_owner = [matched.c.in_owner == 1] if owners else []
    name_order = matched.c.name if dialect == "sqlite" else matched.c.name.collate("C")  # byte order

    def row(facet: str, value: Any, n: Any, rank: Any = None, length: Any = None) -> list[ColumnElement]:
        return [
            literal(facet, String).label("facet"),
            (value if value is not None else _null(String)).label("value"),
            n.label("n"),
            (rank if rank is not None else _null(Integer)).label("rank"),
            (length if length is not None else _null(Integer)).label("name_length"),
        ]

    count = func.count()
    tag_counts = (
        select(*row("tag", EntityTag.tag, count))
        .where(EntityTag.entity_id.in_(select(matched.c.entity_id).where(*in_kind, *in_owner)))
        .group_by(EntityTag.tag)
        .order_by(count.desc(), EntityTag.tag)
        .limit(TAG_FACET_SIZE)
        .subquery()
    )
    page_ids = (
        select(*row("hit", matched.c.name, matched.c.id, matched.c.rank, matched.c.name_length))
        .where(*in_kind, *in_owner)
        .order_by(matched.c.rank, matched.c.name_length, name_order, matched.c.id)
        .limit(page.size)
        .offset(page.offset)
        .subquery()
    )
    statement = union_all(
        select(*row("total", None, count)).select_from(matched).where(*in_kind, *in_owner),
        select(*row("kind", matched.c.kind, count)).where(*in_owner).group_by(matched.c.kind),
        select(*row("owner", matched.c.owner_ref, count))
        .where(*in_kind, matched.c.owner_ref.is_not(None))
        .group_by(matched.c.owner_ref),
        select(tag_counts),
        select(page_ids),
    )

    hits: list[tuple[int, int, str, int]] = []
    for facet, value, n, rank, length in session.execute(statement):
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
        results.hits = _load_hits([doc_id for *_, doc_id in hits], terms, session)
    return results


def _load_hits(ids: list[int], terms: list[str], session: Session) -> list[SearchHit]:
    statement = select(
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
    ).where(_doc.id.in_(ids))
    rows = {row.id: row for row in session.execute(statement)}
    return [
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
        for row in (rows.get(doc_id) for doc_id in ids)
        if row is not None
    ]


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
