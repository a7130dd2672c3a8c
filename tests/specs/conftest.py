"""Fixtures for the definitions tests: API entities in the catalog to publish to, and the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devhub.catalog import service as catalog_service
from devhub.db import Database
from devhub.settings import Settings

CORPUS = Path(__file__).parent / "corpus"
OWNER = "team-a"


def catalog_file(folder: Path, names: list[str], *, owner: str = OWNER, visibility: str | None = None) -> Path:
    """A catalog file declaring one API entity per name. Backstage requires a definition; a type the specs
    domain does not publish from the catalog keeps these empty until the tests publish versions."""
    documents = []
    for name in names:
        metadata: dict = {"name": name}
        if visibility:
            metadata["annotations"] = {"devhub.io/visibility": visibility}
        documents.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "API",
                "metadata": metadata,
                "spec": {
                    "type": "other",
                    "lifecycle": "production",
                    "owner": owner,
                    "definition": "published separately",
                },
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "apis-catalog.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


def register_apis(db: Database, settings: Settings, folder: Path, names: list[str], **kwargs) -> None:
    path = catalog_file(folder, names, **kwargs)
    with db.session() as session:
        catalog_service.register_location(session, settings, str(path), "file", trusted=True)


@pytest.fixture
def apis(db: Database, settings: Settings, tmp_path: Path):
    """Register API entities by name: `apis("petstore", "orders")`."""

    calls = []

    def make(*names: str, **kwargs) -> None:
        calls.append(names)
        register_apis(db, settings, tmp_path / f"catalog-{len(calls)}", list(names), **kwargs)

    return make


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root
