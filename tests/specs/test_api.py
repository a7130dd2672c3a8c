"""The definitions REST API: publish (file, zip, JSON), list, detail, lifecycle, downloads, access rules."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import yaml

from devhub.specs.limits import Limits
from tests.conftest import bearer, make_account
from tests.specs.conftest import CORPUS

PETSTORE = (CORPUS / "oai" / "petstore.yaml").read_text()
BASE = "/api/v1/apis/default/petstore/versions"


@pytest.fixture
def owner(db, settings, apis):
    """Bearer headers of a member of the team that owns the APIs."""
    apis("petstore", "social")
    user = make_account(db, settings, "dev@example.com", teams={"group:default/team-a": "member"})
    return bearer(db, settings, user, scopes=("read", "write"))


def upload(client, headers, text=PETSTORE, version="1.0.0", filename="petstore.yaml", **fields):
    return client.post(
        BASE,
        headers=headers,
        files={"file": (filename, text.encode() if isinstance(text, str) else text)},
        data={"version": version, **fields},
    )


def test_publish_a_file_then_again_then_changed(client, owner):
    created = upload(client, owner)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "created" and body["warnings"] == []
    version = body["version"]
    assert (version["api_ref"], version["version"], version["format"], version["format_version"]) == (
        "api:default/petstore",
        "1.0.0",
        "openapi",
        "3.0.0",
    )
    assert version["publisher"] == "dev@example.com" and version["source_kind"] == "api"
    assert version["operation_count"] == 3 and version["links"]["docs"] == "/apis/default/petstore/v/1.0.0"
    assert created.headers["location"] == f"{BASE}/1.0.0"

    again = upload(client, owner)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"

    changed = upload(client, owner, PETSTORE.replace("Swagger Petstore", "Petstore II"))
    assert changed.status_code == 409
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert "immutable" in changed.json()["detail"]


def test_publish_as_json(client, owner):
    response = client.post(BASE, headers=owner, json={"version": "2.0.0", "lifecycle": "beta", "definition": PETSTORE})
    assert response.status_code == 201, response.text
    assert response.json()["version"]["lifecycle"] == "beta"
    bad = client.post(BASE, headers=owner, json={"version": "2.0.1"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/definition"


def test_invalid_definition_is_a_422_with_every_error(client, owner):
    broken = PETSTORE.replace("      responses:\n        '200':", "      responsez:\n        '200':", 1)
    response = upload(client, owner, broken)
    assert response.status_code == 422
    problem = response.json()
    assert problem["title"] == "Invalid API definition"
    first = problem["errors"][0]
    assert first["file"] == "petstore.yaml" and first["line"] == 11 and first["pointer"] == "/paths/~1pets/get"
    assert "responsez" in json.dumps(problem["errors"]) or "responses" in first["message"]


def test_bad_version_lifecycle_and_media_type(client, owner):
    assert upload(client, owner, version="1 0").status_code == 422
    assert upload(client, owner, lifecycle="gone").status_code == 422
    response = client.post(BASE, headers={**owner, "content-type": "text/plain"}, content=PETSTORE)
    assert response.status_code == 415


def test_uploads_over_the_limit_are_413_before_parsing(client, owner, monkeypatch):
    monkeypatch.setattr(Limits, "from_settings", classmethod(lambda cls, settings: Limits(max_bytes=4_000)))
    big = PETSTORE + "\n# padding\n" * 400
    response = upload(client, owner, big)
    assert response.status_code == 413 and "4,000 bytes" in response.json()["detail"]
    huge = "x" * 400_000
    response = client.post(BASE, headers=owner, json={"version": "1", "definition": huge})
    assert response.status_code == 413


def test_zip_upload_of_a_multi_file_definition(client, owner):
    social = CORPUS / "asyncapi" / "social-media"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in social.rglob("*.yaml"):
            archive.write(path, path.relative_to(social).as_posix())
    response = client.post(
        "/api/v1/apis/default/social/versions",
        headers=owner,
        files={"file": ("social.zip", buffer.getvalue(), "application/zip")},
        data={"version": "1.0.0", "main": "comments-service/asyncapi.yaml"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"]["format_version"] == "3.1.0"
    ambiguous = client.post(
        "/api/v1/apis/default/social/versions",
        headers=owner,
        files={"file": ("social.zip", buffer.getvalue(), "application/zip")},
        data={"version": "1.0.1"},
    )
    assert ambiguous.status_code == 422 and "several definition files" in ambiguous.json()["detail"]


def test_a_zip_brings_its_docs_folder_and_a_lone_file_leaves_the_guides_alone(client, owner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("petstore/openapi.yaml", PETSTORE)
        archive.writestr("petstore/docs/index.md", "# Petstore guide\n\n<script>alert(1)</script>Use a key.\n")
    response = client.post(
        BASE, headers=owner, files={"file": ("petstore.zip", buffer.getvalue())}, data={"version": "1.0.0"}
    )
    assert response.status_code == 201, response.text
    guide = client.get("/docs/default/api/petstore/index", headers={**owner, "accept": "text/html"})
    assert guide.status_code == 200 and "Use a key." in guide.text and "<script>alert" not in guide.text
    assert upload(client, owner, version="1.0.1").status_code == 201
    assert client.get("/docs/default/api/petstore/index", headers={**owner, "accept": "text/html"}).status_code == 200


def test_list_detail_lifecycle_and_downloads(client, owner):
    upload(client, owner)
    upload(client, owner, PETSTORE.replace("version: 1.0.0", "version: 1.1.0"), version="1.1.0")

    listed = client.get(BASE, headers=owner).json()
    assert [v["version"] for v in listed["items"]] == ["1.1.0", "1.0.0"] and listed["meta"]["total"] == 2

    detail = client.get(f"{BASE}/1.0.0", headers=owner).json()
    assert [o["anchor"] for o in detail["operations"]] == ["list-pets", "create-pets", "show-pet-by-id"]
    assert detail["description"] is None and detail["title"] == "Swagger Petstore"

    patched = client.patch(f"{BASE}/1.0.0", headers=owner, json={"lifecycle": "deprecated"})
    assert patched.status_code == 200 and patched.json()["lifecycle"] == "deprecated"
    assert client.patch(f"{BASE}/1.0.0", headers=owner, json={"lifecycle": "gone"}).status_code == 422
    assert client.get(f"{BASE}/9.9.9", headers=owner).status_code == 404

    as_json = client.get(f"{BASE}/1.0.0/definition?format=json", headers=owner)
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["content-disposition"] == 'attachment; filename="petstore-1.0.0.json"'
    as_yaml = client.get(f"{BASE}/1.0.0/definition?format=yaml", headers=owner)
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert json.loads(as_json.text) == yaml.safe_load(as_yaml.text) == yaml.safe_load(PETSTORE)
    original = client.get(f"{BASE}/1.0.0/definition?bundled=false", headers=owner)
    assert original.text == PETSTORE and "petstore-1.0.0-original.yaml" in original.headers["content-disposition"]
    assert client.get(f"{BASE}/1.0.0/definition?format=xml", headers=owner).status_code == 422


def test_access_rules(client, db, settings, apis):
    apis("petstore")
    apis("open", visibility="public")
    outsider_id = make_account(db, settings, "out@example.com", teams={"group:default/other": "member"})
    outsider = bearer(db, settings, outsider_id, scopes=("read", "write"))
    assert upload(client, {}).status_code == 403  # an anonymous form post without the CSRF token
    assert client.post(BASE, json={"version": "1", "definition": PETSTORE}).status_code == 404  # hidden API
    open_api = "/api/v1/apis/default/open/versions"
    assert client.post(open_api, json={"version": "1", "definition": PETSTORE}).status_code == 401
    assert upload(client, outsider).status_code == 403  # not in the owner team
    assert client.get(BASE).status_code == 404  # internal API: hidden from the anonymous
    assert client.get("/api/v1/apis/default/open/versions").status_code == 200  # public
    admin = bearer(db, settings, make_account(db, settings, "root@example.com", admin=True))
    assert upload(client, admin).status_code == 201
    assert client.patch(f"{BASE}/1.0.0", headers=outsider, json={"lifecycle": "retired"}).status_code == 403


def test_the_portal_openapi_document_describes_the_endpoints(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/apis/{namespace}/{name}/versions"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    from devhub.specs import service

    service.prepare("openapi.json", {"openapi.json": json.dumps(document)})  # and it is a valid definition
