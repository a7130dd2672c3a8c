"""The publish form and the versions page, used as a signed-in member of the owner team would."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_for, make_account, sign_in
from tests.specs.conftest import CORPUS

PETSTORE = (CORPUS / "oai" / "petstore.yaml").read_text()
FORM = "/apis/default/petstore/publish"


@pytest.fixture
def member(client, db, settings, apis):
    apis("petstore")
    sign_in(
        client, db, settings, make_account(db, settings, "dev@example.com", teams={"group:default/team-a": "member"})
    )
    return lambda data: {**data, "csrf_token": csrf_for(client, settings)}


def post(client, member, text=PETSTORE, filename="petstore.yaml", **fields):
    return client.post(
        FORM,
        data=member({"version": "1.0.0", "lifecycle": "stable", **fields}),
        files={"file": (filename, text.encode())},
        follow_redirects=False,
    )


def test_form_shows_labelled_fields_and_the_csrf_token(client, member):
    page = client.get(FORM)
    assert page.status_code == 200
    html = page.text
    for control in ("publish-file", "publish-version", "publish-lifecycle", "publish-main"):
        assert f'<label for="{control}"' in html and f'id="{control}"' in html
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert token is not None
    assert 'enctype="multipart/form-data"' in html and "<h1>" in html


def test_publish_redirects_to_the_docs_page_and_lists_the_version(client, member):
    response = post(client, member)
    assert response.status_code == 303
    assert response.headers["location"] == "/apis/default/petstore/v/1.0.0"
    again = post(client, member)  # same content: nothing changes, same destination
    assert again.status_code == 303
    versions = client.get("/apis/default/petstore/versions")
    assert versions.status_code == 200
    html = versions.text
    assert 'href="/apis/default/petstore/v/1.0.0"' in html and "dev@example.com" in html
    assert "/api/v1/apis/default/petstore/versions/1.0.0/definition?bundled=true&amp;format=yaml" in html
    assert "OpenAPI 3.0.0" in html and "latest" in html


def test_errors_are_shown_in_the_form_with_pointer_and_line(client, member):
    broken = PETSTORE.replace("      responses:\n        '200':", "      responsez:\n        '200':", 1)
    response = post(client, member, broken, version="2.0.0", lifecycle="beta")
    assert response.status_code == 422
    html = response.text
    assert "The definition was not published." in html
    assert "petstore.yaml:11" in html and "<code>/paths/~1pets/get</code>" in html
    assert "&#39;responses&#39; is a required property" in html
    assert 'value="2.0.0"' in html and '<option value="beta" selected>' in html  # what was typed is kept
    assert 'aria-invalid="true"' in html


def test_conflicts_and_bad_versions_are_explained_in_the_form(client, member):
    post(client, member)
    conflict = post(client, member, PETSTORE.replace("Swagger Petstore", "Petstore II"))
    assert conflict.status_code == 409 and "immutable" in conflict.text
    bad = post(client, member, version="1 0")
    assert bad.status_code == 422 and "not a valid version" in bad.text


def test_the_form_needs_the_owner_team(client, db, settings, apis):
    apis("petstore")
    assert client.get(FORM).status_code in (401, 404)
    outsider = make_account(db, settings, "out@example.com", teams={"group:default/other": "member"})
    sign_in(client, db, settings, outsider)
    assert client.get(FORM).status_code == 403
    assert "Publish a version" not in client.get("/apis/default/petstore/versions").text


def test_the_versions_page_of_an_api_without_versions(client, member):
    html = client.get("/apis/default/petstore/versions").text
    assert "No version published yet" in html and 'href="/apis/default/petstore/publish"' in html
