"""Fixtures for the sandbox: published API versions to call, and the gateway's signature of a caller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from devhub.db import Database
from devhub.sandbox.trust import CREDENTIAL_HEADER, SIGNATURE_HEADER, gateway_signature
from devhub.settings import Settings
from devhub.specs import service as specs
from tests.specs.conftest import register_apis

CORPUS = Path(__file__).parents[1] / "docs" / "corpus"


def publish(db: Database, settings: Settings, api: str, document: dict | str, version: str = "1.0.0") -> str:
    """Publish `document` as version `version` of API `api` (default namespace); returns its api_ref."""
    text = document if isinstance(document, str) else json.dumps(document)
    name = "openapi.json" if text.lstrip().startswith("{") else "openapi.yaml"
    with db.session() as session:
        specs.publish(
            session,
            api_ref=api,
            version=version,
            main_path=name,
            files={name: text},
            source_kind="cli",
            source_name=name,
            publisher="sandbox-tests",
            settings=settings,
            allow_breaking=True,
        )
    return f"api:default/{api}"


@pytest.fixture
def published(db: Database, settings: Settings, tmp_path: Path):
    """`published("petstore", document, visibility="public")`: an API entity with one published version."""
    count = [0]

    def make(api: str, document: dict | str, version: str = "1.0.0", visibility: str = "public") -> str:
        count[0] += 1
        register_apis(db, settings, tmp_path / f"catalog-{count[0]}", [api], visibility=visibility)
        return publish(db, settings, api, document, version)

    return make


def signed(settings: Settings, credential: str, api_ref: str, version: str = "1.0.0") -> dict[str, str]:
    """The headers the gateway adds to a sandbox call it authenticated."""
    signature = gateway_signature(settings.resolved_secret_key, credential, api_ref, version)
    return {CREDENTIAL_HEADER: credential, SIGNATURE_HEADER: signature}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
