"""Publishing API definitions: versions of catalog APIs, immutable, with their operations.

`publish` reads (bundles, validates) a definition and stores it as one version of an API entity:
the same content again is a no-op, different content under an existing version is a conflict (versions
are immutable: publish a new version). `publish_catalog_definitions` does the same, set-based, for the
API entities a catalog import wrote, and turns what is wrong with their definitions into catalog
processing errors instead of exceptions. Nothing here knows about HTTP.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from devhub.catalog.kinds import RefError, parse_ref
from devhub.catalog.models import Entity
from devhub.db import utcnow
from devhub.pagination import Page, PageRequest
from devhub.problems import BadRequest, NotFound, Problem
from devhub.specs import extract
from devhub.specs.bundle import Bundle, bundle
from devhub.specs.errors import SpecError, SpecInvalid, to_pointer
from devhub.specs.limits import Limits
from devhub.specs.models import LIFECYCLES, SpecOperation, SpecVersion
from devhub.specs.parse import Source, looks_like_json, parse_source, plain_scalar
from devhub.specs.validate import Format, detect, validate

log = logging.getLogger(__name__)

SOURCE_KINDS = ("cli", "upload", "api", "catalog")
CATALOG_LIFECYCLES = {"production": "stable", "experimental": "beta", "deprecated": "deprecated"}
CATALOG_TYPES = {"openapi", "asyncapi", "swagger"}
CATALOG_FALLBACK_VERSION = "catalog"
RULE_INVALID = "invalid-definition"
RULE_CONFLICT = "definition-conflict"
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}\Z")
_VERSION_BAD_CHARS = re.compile(r"[^A-Za-z0-9._+~-]+")
_CHUNK = 500


# --- names and rules -------------------------------------------------------------------------------------


def normalise_api_ref(value: str) -> str:
    """`name`, `namespace/name` or `api:namespace/name` -> `api:namespace/name` (lower case)."""
    try:
        ref = parse_ref(value, default_kind="api")
    except RefError as exc:
        raise BadRequest(str(exc)) from None
    if ref.kind != "api":
        raise BadRequest(f"{value!r} names a {ref.kind}; definitions are published for API entities")
    return str(ref)


def api_entity(session: Session, api_ref: str) -> Entity:
    """The catalog API entity a version belongs to; 404 when the catalog has no such API."""
    ref = normalise_api_ref(api_ref)
    entity = session.scalar(select(Entity).where(Entity.ref == ref))
    if entity is None:
        raise NotFound(f"{ref} is not in the catalog: register the API entity (kind: API) before publishing")
    return entity


def check_version(version: str) -> str:
    if not isinstance(version, str) or not _VERSION.match(version):
        raise Problem(
            422,
            "Invalid version",
            f"{version!r} is not a valid version: 1 to 64 letters, digits and . _ + ~ -, starting with a letter "
            "or digit, without spaces (for example 1.2.0, 2.0.0-beta.1 or 2024-06-01)",
        )
    return version


def check_lifecycle(lifecycle: str) -> str:
    if lifecycle not in LIFECYCLES:
        raise Problem(422, "Invalid lifecycle", f"{lifecycle!r} is not a lifecycle; use one of {', '.join(LIFECYCLES)}")
    return lifecycle


class VersionConflict(Problem):
    def __init__(self, api_ref: str, version: str) -> None:
        super().__init__(
            409,
            "Version already published",
            f"version {version} of {api_ref} is already published with different content; published versions "
            "are immutable: publish this definition under a new version (bump info.version or --version)",
            api=api_ref,
            version=version,
        )


# --- reading a definition --------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A definition read, bundled and validated: everything a version row needs."""

    bundle: Bundle
    format: Format
    info: extract.Info
    operations: list[extract.Operation]
    content_hash: str
    warnings: list[SpecError] = field(default_factory=list)

    @property
    def document(self) -> dict:
        return self.bundle.document

    @property
    def original_text(self) -> str:
        return self.bundle.sources[self.bundle.main].text

    @property
    def original_files(self) -> dict[str, str] | None:
        files = self.bundle.files
        return files if len(files) > 1 else None


def content_hash(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def prepare(
    main: str,
    files: dict[str, str],
    *,
    limits: Limits | None = None,
    parsed: dict[str, Source] | None = None,
    url_refs: str = "keep",
) -> Prepared:
    """Bundle and validate; raise SpecInvalid with every error (file, line, JSON pointer, message)."""
    return check(bundle(main, files, limits, parsed=parsed, url_refs=url_refs))


def check(bundled: Bundle, digest: str | None = None) -> Prepared:
    """Validate a bundled definition and read what a version row needs from it."""
    try:
        fmt = detect(bundled.document)
    except SpecInvalid as exc:
        raise SpecInvalid([_locate(bundled, error) for error in exc.errors]) from None
    issues, omitted = validate(bundled.document, fmt)
    if issues:
        errors = [bundled.error(issue.path, issue.message) for issue in issues]
        errors.sort(key=lambda e: (e.file != bundled.main, e.file or "", e.line or 0))  # in reading order
        raise SpecInvalid(errors, omitted=omitted)
    return Prepared(
        bundle=bundled,
        format=fmt,
        info=extract.info(bundled.document),
        operations=extract.operations(bundled.document, fmt),
        content_hash=digest or content_hash(bundled.document),
        warnings=list(bundled.warnings),
    )


def _locate(bundled: Bundle, error: SpecError) -> SpecError:
    if error.file is not None:
        return error
    path = tuple(part for part in error.pointer.split("/")[1:]) if error.pointer else ()
    file, line = bundled.locate(path)
    return SpecError(error.message, pointer=error.pointer, line=line, file=file)


# --- publishing ------------------------------------------------------------------------------------------


@dataclass
class PublishResult:
    status: str  # created | unchanged
    version: SpecVersion
    warnings: list[SpecError] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.status == "created"


def publish(
    session: Session,
    *,
    api_ref: str,
    version: str,
    main_path: str,
    files: dict[str, str],
    source_kind: str,
    source_name: str,
    publisher: str,
    lifecycle: str = "stable",
    settings: Any = None,
    parsed: dict[str, Source] | None = None,
    allow_breaking: bool = False,
    actor: Any = None,
    guides: dict[str, str] | None = None,
) -> PublishResult:
    """Publish one version. Raises NotFound (no such API), Problem 422 (bad version or lifecycle),
    SpecInvalid (the definition; `.to_problem()` is a 422 with every error), VersionConflict (409) and
    governance's BreakingChangeRefused (409, with the findings) for a breaking change to a stable version
    that neither the policy nor `allow_breaking` lets through (an allowed one is audited as `actor`).

    `guides` are the markdown files of the `docs/` folder next to the definition: they replace the API's
    folder guides (an empty mapping removes them); None (a lone uploaded file) leaves them as they are."""
    entity = api_entity(session, api_ref)
    check_version(version)
    check_lifecycle(lifecycle)
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {SOURCE_KINDS}")
    bundled = bundle(main_path, files, Limits.from_settings(settings), parsed=parsed, url_refs=_url_refs(settings))
    digest = content_hash(bundled.document)
    existing = _find(session, entity.ref, version)
    if existing is not None:  # decided without validating: it was valid when published, and a change is refused
        if existing.content_hash == digest:
            _replace_folder_guides(session, entity.ref, guides)
            return PublishResult("unchanged", existing, list(bundled.warnings))
        raise VersionConflict(entity.ref, version)
    prepared = check(bundled, digest)
    from devhub.governance import service as governance

    gate = governance.check_publish(
        session,
        entity.ref,
        version,
        lifecycle,
        prepared,
        allow_breaking=allow_breaking,
        settings=settings,
        publisher=publisher,
    )
    result = store(
        session,
        entity.ref,
        version,
        prepared,
        source_kind=source_kind,
        source_name=source_name,
        publisher=publisher,
        lifecycle=lifecycle,
    )
    if result.created:
        governance.record_publish(session, result.version, gate, actor=actor, settings=settings, prepared=prepared)
    _replace_folder_guides(session, entity.ref, guides)
    return result


def _replace_folder_guides(session: Session, api_ref: str, guides: dict[str, str] | None) -> None:
    if guides is not None:
        from devhub.docs.service import import_folder_guides

        import_folder_guides(session, api_ref, guides)


def _url_refs(settings: Any) -> str:
    value = getattr(settings, "spec_url_refs", "keep") if settings is not None else "keep"
    return "refuse" if value == "refuse" else "keep"


def store(
    session: Session,
    api_ref: str,
    version: str,
    prepared: Prepared,
    *,
    source_kind: str,
    source_name: str,
    publisher: str,
    lifecycle: str,
) -> PublishResult:
    """Store a prepared definition as `version` of `api_ref`, or find it already there."""
    existing = _find(session, api_ref, version)
    if existing is not None:
        return _same_or_conflict(existing, prepared, api_ref, version)
    values = _row(api_ref, version, prepared, source_kind, source_name, publisher, lifecycle)
    try:
        with session.begin_nested():
            (version_id,) = _insert_versions(session, [(values, prepared.operations)])
    except IntegrityError:  # published by someone else a moment ago
        existing = _find(session, api_ref, version)
        if existing is None:
            raise
        return _same_or_conflict(existing, prepared, api_ref, version)
    row = session.get(SpecVersion, version_id)
    _index(session, row)
    return PublishResult("created", row, prepared.warnings)


def _find(session: Session, api_ref: str, version: str) -> SpecVersion | None:
    return session.scalar(select(SpecVersion).where(SpecVersion.api_ref == api_ref, SpecVersion.version == version))


def _same_or_conflict(existing: SpecVersion, prepared: Prepared, api_ref: str, version: str) -> PublishResult:
    if existing.content_hash == prepared.content_hash:
        return PublishResult("unchanged", existing, prepared.warnings)
    raise VersionConflict(api_ref, version)


def _row(
    api_ref: str,
    version: str,
    prepared: Prepared,
    source_kind: str,
    source_name: str,
    publisher: str,
    lifecycle: str,
) -> dict[str, Any]:
    return {
        "api_ref": api_ref,
        "version": version,
        "lifecycle": lifecycle,
        "format": prepared.format.format,
        "format_version": prepared.format.version[:16],
        "title": prepared.info.title[:255],
        "description": prepared.info.description,
        "content_hash": prepared.content_hash,
        "source_kind": source_kind,
        "source_name": (source_name or "")[:1024],
        "original_text": prepared.original_text,
        "original_files": prepared.original_files,
        "bundled": prepared.document,
        "operation_count": len(prepared.operations),
        "publisher": (publisher or "unknown")[:255],
        "published_at": utcnow(),
        "sunset_at": None,
    }


def _insert_versions(session: Session, rows: Sequence[tuple[dict, list[extract.Operation]]]) -> list[int]:
    """Bulk-insert versions and their operations; the ids of the versions, in order."""
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        result = session.execute(
            insert(SpecVersion).returning(SpecVersion.id, sort_by_parameter_order=True), [values for values, _ in chunk]
        )
        chunk_ids = list(result.scalars().all())
        ids.extend(chunk_ids)
        operations = [
            {
                "version_id": version_id,
                "anchor": operation.anchor,
                "method": operation.method,
                "path": operation.path,
                "operation_id": operation.operation_id,
                "summary": operation.summary,
                "tags": operation.tags,
                "deprecated": operation.deprecated,
            }
            for version_id, (_, found) in zip(chunk_ids, chunk, strict=True)
            for operation in found
        ]
        for op_start in range(0, len(operations), _CHUNK * 4):
            session.execute(insert(SpecOperation), operations[op_start : op_start + _CHUNK * 4])
    return ids


def _index(session: Session, version: SpecVersion) -> None:
    """Let search index the API's operations, when the search domain offers it."""
    from devhub.search import service as search_service

    index = getattr(search_service, "index_spec_version", None)
    if index is not None:
        index(session, version)


# --- reading versions ------------------------------------------------------------------------------------


def get_version(session: Session, api_ref: str, version: str, *, with_documents: bool = False) -> SpecVersion:
    ref = normalise_api_ref(api_ref)
    query = select(SpecVersion).where(SpecVersion.api_ref == ref, SpecVersion.version == version)
    if with_documents:
        query = query.options(
            undefer(SpecVersion.original_text), undefer(SpecVersion.original_files), undefer(SpecVersion.bundled)
        )
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"{ref} has no published version {version!r}")
    return found


def latest_version(session: Session, api_ref: str) -> SpecVersion | None:
    """The newest version (by publication) that is neither draft nor retired; else the newest of all."""
    ref = normalise_api_ref(api_ref)
    query = select(SpecVersion).where(SpecVersion.api_ref == ref)
    newest = (SpecVersion.published_at.desc(), SpecVersion.id.desc())
    listed = query.where(SpecVersion.lifecycle.not_in(("draft", "retired")))
    return session.scalar(listed.order_by(*newest).limit(1)) or session.scalar(query.order_by(*newest).limit(1))


def list_versions(session: Session, api_ref: str, page: PageRequest) -> Page[SpecVersion]:
    """Versions of an API, newest first."""
    ref = normalise_api_ref(api_ref)
    where = SpecVersion.api_ref == ref
    total = session.scalar(select(func.count()).select_from(SpecVersion).where(where)) or 0
    query = (
        select(SpecVersion)
        .where(where)
        .order_by(SpecVersion.published_at.desc(), SpecVersion.id.desc())
        .offset(page.offset)
        .limit(page.size)
    )
    return Page(list(session.scalars(query).all()), total, page)


def set_lifecycle(session: Session, api_ref: str, version: str, lifecycle: str) -> SpecVersion:
    """Move a version along draft, beta, stable, deprecated, retired (any order: it is a label)."""
    check_lifecycle(lifecycle)
    found = get_version(session, api_ref, version)
    if found.lifecycle != lifecycle:
        found.lifecycle = lifecycle
        if lifecycle == "retired" and found.sunset_at is None:
            found.sunset_at = utcnow()
        session.flush()
        _index(session, found)  # which version is the latest may have changed
    return found


def operations_of(session: Session, version: SpecVersion) -> list[SpecOperation]:
    return list(
        session.scalars(select(SpecOperation).where(SpecOperation.version_id == version.id).order_by(SpecOperation.id))
    )


# --- downloads -------------------------------------------------------------------------------------------


class _YamlDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Quote strings a YAML 1.2 reader would take for something else (`1e3`, `0o17`, `09`); PyYAML already
    quotes those that YAML 1.1 would misread (`yes`, `2024-01-01`). Multi-line text as a block."""
    style = None
    if not isinstance(plain_scalar(value), str):
        style = "'"
    elif "\n" in value and value.replace("\n", "").isprintable():
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_YamlDumper.add_representer(str, _represent_str)


def dump(document: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(document, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, width=120)


def original_is_json(version: SpecVersion) -> bool:
    text = version.original_text
    if not looks_like_json(version.source_name or "", text):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def definition_text(version: SpecVersion, *, bundled: bool, fmt: str) -> str:
    """The bundled document, or the main file as published (byte for byte when `fmt` is its own format;
    converted otherwise), as JSON or YAML."""
    if fmt not in ("json", "yaml"):
        raise BadRequest("format is json or yaml")
    if bundled:
        return dump(version.bundled, fmt)
    is_json = original_is_json(version)
    if is_json == (fmt == "json"):
        return version.original_text
    source = parse_source("original.json" if is_json else "original.yaml", version.original_text, Limits())
    return dump(source.data, fmt)


# --- the catalog's API entities --------------------------------------------------------------------------


def catalog_version_name(raw: str | None) -> str:
    """A version name from a definition's info.version: invalid characters become '-'."""
    if not raw:
        return CATALOG_FALLBACK_VERSION
    cleaned = _VERSION_BAD_CHARS.sub("-", raw.strip()).lstrip("._+~-")[:64]
    return cleaned if _VERSION.match(cleaned) else CATALOG_FALLBACK_VERSION


def _catalog_definition(item: Any) -> tuple[str, dict[str, str]] | None:
    """(main path, files) of an API entity's definition, or None when it has none to publish."""
    entity = item.entity
    if getattr(entity, "kind_key", str(entity.kind).lower()) != "api":
        return None
    spec = entity.data.get("spec") if isinstance(entity.data.get("spec"), dict) else {}
    if str(spec.get("type", "")).lower() not in CATALOG_TYPES:
        return None
    if item.definition_files and item.definition_path and item.definition_path in item.definition_files:
        return item.definition_path, dict(item.definition_files)
    definition = spec.get("definition")
    if isinstance(definition, str) and definition.strip():
        name = "definition.json" if definition.lstrip().startswith("{") else "definition.yaml"
        return name, {name: definition}
    if isinstance(definition, dict) and definition:
        return "definition.json", {"definition.json": json.dumps(definition, indent=2, default=str)}
    return None


def publish_catalog_definitions(session: Session, written: list, settings: Any = None) -> list:
    """Publish the definitions of API entities the catalog just added or changed.

    The version is the definition's `info.version` ("catalog" when it has none), the lifecycle follows
    the entity's (production: stable, experimental: beta, deprecated: deprecated, else stable).
    Identical definitions are validated once. Nothing raises: an invalid definition, or a changed one
    under an already published version, becomes a `catalog.ingest.ReadError` (rules `invalid-definition`
    and `definition-conflict`) in the returned list, for the catalog to store with the location's errors.
    """
    from devhub.catalog.ingest import ReadError

    errors: list[ReadError] = []
    limits = Limits.from_settings(settings)
    url_refs = _url_refs(settings)
    cache: dict[str, Prepared | SpecInvalid] = {}
    ready: list[tuple[Any, Prepared, str, str]] = []  # item, prepared, version, lifecycle
    for item in written:
        found = _catalog_definition(item)
        if found is None:
            continue
        main, files = found
        key = hashlib.sha256(json.dumps([main, sorted(files.items())]).encode("utf-8", "surrogatepass")).hexdigest()
        outcome = cache.get(key)
        if outcome is None:
            try:
                outcome = prepare(main, files, limits=limits, url_refs=url_refs)
            except SpecInvalid as exc:
                outcome = exc
            except Exception as exc:  # never let one definition break an import
                log.exception("definition of %s could not be read", item.entity.ref)
                outcome = SpecInvalid([SpecError(f"could not be read: {exc}")])
            cache[key] = outcome
        if isinstance(outcome, SpecInvalid):
            errors.append(_read_error(item, RULE_INVALID, f"the API definition is invalid: {outcome.summary(5)}"))
            continue
        spec = item.entity.data.get("spec") or {}
        lifecycle = CATALOG_LIFECYCLES.get(str(spec.get("lifecycle", "")).lower(), "stable")
        ready.append((item, outcome, catalog_version_name(outcome.info.version), lifecycle))
    if ready:
        errors.extend(_store_catalog(session, ready))
    return errors


def _read_error(item: Any, rule: str, message: str):
    from devhub.catalog.ingest import ReadError

    return ReadError(item.source, item.line, rule, message, item.entity.ref)


def _store_catalog(session: Session, ready: list[tuple[Any, Prepared, str, str]]) -> list:
    errors = []
    refs = [item.entity.ref for item, _, _, _ in ready]
    existing: dict[tuple[str, str], SpecVersion] = {}
    for start in range(0, len(refs), _CHUNK):
        rows = session.scalars(select(SpecVersion).where(SpecVersion.api_ref.in_(refs[start : start + _CHUNK])))
        existing.update(((row.api_ref, row.version), row) for row in rows)
    new: list[tuple[dict, list[extract.Operation]]] = []
    for item, prepared, version, lifecycle in ready:
        ref = item.entity.ref
        found = existing.get((ref, version))
        if found is None:
            values = _row(ref, version, prepared, "catalog", item.source, "catalog", lifecycle)
            new.append((values, prepared.operations))
        elif found.content_hash != prepared.content_hash:
            errors.append(
                _read_error(
                    item,
                    RULE_CONFLICT,
                    f"the API definition changed but its version {version} is already published with other "
                    "content; versions are immutable: bump info.version to publish the change",
                )
            )
        elif found.source_kind == "catalog" and found.lifecycle != lifecycle:
            found.lifecycle = lifecycle  # the catalog entity's lifecycle moved (e.g. to deprecated)
    if not new:
        session.flush()
        return errors
    try:
        with session.begin_nested():
            ids = _insert_versions(session, new)
    except IntegrityError:  # someone published one of them meanwhile: one at a time, then
        ids = []
        for values, operations in new:
            try:
                with session.begin_nested():
                    ids.extend(_insert_versions(session, [(values, operations)]))
            except IntegrityError:
                continue
    _index_many(session, ids, had_versions={ref for ref, _ in existing})
    return errors


def _index_many(session: Session, ids: list[int], had_versions: set[str]) -> None:
    """Index the operations of new versions: in one call when search offers `index_spec_versions`, else one
    call per version, skipping those with no operations of APIs that had no version before (nothing to
    add, nothing to replace)."""
    from devhub.search import service as search_service

    versions = []
    for start in range(0, len(ids), _CHUNK):
        versions.extend(session.scalars(select(SpecVersion).where(SpecVersion.id.in_(ids[start : start + _CHUNK]))))
    bulk = getattr(search_service, "index_spec_versions", None)
    if bulk is not None:
        bulk(session, versions)
        return
    for version in versions:
        if version.operation_count or version.api_ref in had_versions:
            _index(session, version)


def error_lines(error: SpecInvalid) -> list[str]:
    """Each error as `file:line pointer: message`."""
    lines = [item.describe() for item in error.errors]
    if error.omitted:
        lines.append(f"... and {error.omitted} more")
    return lines


__all__ = [
    "LIFECYCLES",
    "Prepared",
    "PublishResult",
    "SpecInvalid",
    "VersionConflict",
    "api_entity",
    "check_lifecycle",
    "check_version",
    "definition_text",
    "get_version",
    "latest_version",
    "list_versions",
    "normalise_api_ref",
    "operations_of",
    "prepare",
    "publish",
    "publish_catalog_definitions",
    "set_lifecycle",
    "to_pointer",
]
