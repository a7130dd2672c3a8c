"""The portal in its own catalog: a System, a Component and an API whose definition is its OpenAPI.

Written as ordinary catalog files into the data directory and imported like any location, so the
portal's API is found, documented and refreshed the same way as everyone else's.
"""

from __future__ import annotations

import json

import yaml
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devhub import __version__
from devhub.catalog import service
from devhub.settings import Settings

OWNER = "devhub-admins"


def self_entities(base_url: str) -> list[dict]:
    common = {"apiVersion": "backstage.io/v1alpha1"}
    links = [
        {"url": base_url, "title": "Portal", "icon": "web"},
        {"url": f"{base_url}/api/v1/openapi.json", "title": "OpenAPI document", "icon": "docs"},
    ]
    return [
        {
            **common,
            "kind": "Group",
            "metadata": {"name": OWNER, "title": "devhub administrators", "description": "Who runs this portal."},
            "spec": {"type": "team", "children": []},
        },
        {
            **common,
            "kind": "System",
            "metadata": {
                "name": "devhub",
                "title": "devhub developer portal",
                "description": "This developer portal.",
                "links": links,
            },
            "spec": {"owner": OWNER},
        },
        {
            **common,
            "kind": "Component",
            "metadata": {
                "name": "devhub-portal",
                "title": "devhub portal",
                "tags": ["python", "portal"],
                "description": f"The portal itself, version {__version__}.",
                "links": links,
            },
            "spec": {
                "type": "service",
                "lifecycle": "production",
                "owner": OWNER,
                "system": "devhub",
                "providesApis": ["devhub-api"],
            },
        },
        {
            **common,
            "kind": "API",
            "metadata": {
                "name": "devhub-api",
                "title": "devhub REST API",
                "tags": ["rest", "portal"],
                "description": "Everything the portal's pages do, as JSON under `/api/v1`.",
                "links": links,
            },
            "spec": {
                "type": "openapi",
                "lifecycle": "production",
                "owner": OWNER,
                "system": "devhub",
                "definition": {"$text": "./openapi.json"},
            },
        },
    ]


def register_self(session: Session, settings: Settings, app: FastAPI) -> service.RefreshReport:
    """Write the portal's catalog files and OpenAPI document, then import or refresh them."""
    folder = settings.data_dir / "self-catalog"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "openapi.json").write_text(json.dumps(app.openapi(), indent=2, sort_keys=True))
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump_all(self_entities(settings.base_url), sort_keys=False))
    try:
        _, report = service.register_location(
            session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True
        )
    except IntegrityError:  # another process registered it at the same moment; it will be refreshed
        session.rollback()
        report = service.RefreshReport(location_id=0)
    return report
