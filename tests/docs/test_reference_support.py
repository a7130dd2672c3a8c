"""Helpers for the reference docs tests (no tests here): definitions from the corpus and published
versions written straight into the tables, so the pages can be tested without the publishing service."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from devhub.specs.models import SpecOperation, SpecVersion

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"  # copies of /work/shared/corpus, each folder with its LICENSE
HTML = {"accept": "text/html"}
MARKDOWN = {"accept": "text/markdown"}


def corpus_files() -> list[Path]:
    """Every definition in the corpus: single files, and the main file of each multi-file definition."""
    files = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        relative = path.relative_to(CORPUS)
        if len(relative.parts) > 2 and path.name != "asyncapi.yaml":  # multi-file: each service's main file
            continue
        files.append(path)
    return files


def _plain(value: Any) -> Any:
    """What the JSON column gives back: string keys, no dates."""
    return json.loads(json.dumps(value, default=str))


def load_definition(path: Path) -> dict:
    """A corpus definition as one document (multi-file ones bundled by the specs domain)."""
    text = path.read_text(encoding="utf-8")
    if "$ref: '../" in text or '$ref: "../' in text or "$ref: './" in text:
        from devhub.specs.bundle import bundle

        root = path.parent.parent
        files = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in root.rglob("*.y*ml")}
        return _plain(bundle(str(path.relative_to(root)), files).document)
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return _plain(data)


def format_of(doc: dict) -> tuple[str, str]:
    if "asyncapi" in doc:
        return "asyncapi", str(doc["asyncapi"])
    return "openapi", str(doc.get("openapi") or doc.get("swagger"))


def operation_rows(doc: dict) -> list[dict]:
    """The operations the publishing service stores, with its anchors."""
    from devhub.specs.extract import operations
    from devhub.specs.validate import detect

    return [
        {
            "anchor": op.anchor,
            "method": op.method,
            "path": op.path,
            "operation_id": op.operation_id,
            "summary": op.summary,
            "tags": op.tags,
            "deprecated": op.deprecated,
        }
        for op in operations(doc, detect(doc))
    ]


_clock = [datetime(2026, 1, 1, tzinfo=UTC)]


def insert_version(
    session: Session,
    api_ref: str,
    version: str,
    doc: dict,
    *,
    lifecycle: str = "stable",
    published_at: datetime | None = None,
) -> SpecVersion:
    """A published version as the specs service would store it (committed)."""
    doc = _plain(doc)
    fmt, format_version = format_of(doc)
    info = doc.get("info") or {}
    if published_at is None:
        _clock[0] += timedelta(minutes=1)
        published_at = _clock[0]
    text = json.dumps(doc, sort_keys=True)
    row = SpecVersion(
        api_ref=api_ref,
        version=version,
        lifecycle=lifecycle,
        format=fmt,
        format_version=format_version,
        title=str(info.get("title") or "Untitled")[:255],
        description=info.get("description"),
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        source_kind="cli",
        source_name="test",
        original_text=text,
        original_files=None,
        bundled=doc,
        publisher="tests",
        published_at=published_at,
    )
    rows = operation_rows(doc)
    row.operation_count = len(rows)
    row.operations = [SpecOperation(**op) for op in rows]
    session.add(row)
    session.commit()
    return row


def publish(db, api_ref: str, version: str, doc: dict, **kwargs: Any) -> None:
    with db.session() as session:
        insert_version(session, api_ref, version, doc, **kwargs)


def register_api(session: Session, settings, tmp_path: Path, name: str, *, namespace: str = "default") -> None:
    """An API entity in the catalog, with a definition the publishing service leaves alone (GraphQL)."""
    from devhub.catalog.service import register_location

    folder = tmp_path / f"catalog-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: API\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\n  title: {name.title()} API\n"
        "  annotations:\n    devhub.io/visibility: public\n"
        "spec:\n  type: graphql\n  lifecycle: production\n  owner: team-a\n  definition: 'type Query { ok: Boolean }'\n",
        encoding="utf-8",
    )
    register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)
    session.commit()
