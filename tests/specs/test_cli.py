"""`devhub publish` as an operator runs it: files, folders, zips and git paths, with its exit codes."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from devhub import settings as settings_module
from devhub.cli import app
from tests.specs.conftest import CORPUS, catalog_file
from tests.specs.test_sources import make_repository

PETSTORE = CORPUS / "oai" / "petstore.yaml"
SOCIAL = CORPUS / "asyncapi" / "social-media"


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    monkeypatch.setenv("DEVHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(tmp_path / "data"))
    settings_module.get_settings.cache_clear()
    runner = CliRunner()
    run = lambda *args: runner.invoke(app, list(args))  # noqa: E731
    result = run("catalog", "import", str(catalog_file(tmp_path / "catalog", ["petstore", "social"])))
    assert result.exit_code == 0, result.output
    yield run
    settings_module.get_settings.cache_clear()


def test_publish_a_file_then_again_then_changed(cli, tmp_path):
    first = cli("publish", str(PETSTORE), "--api", "petstore", "--version", "1.0.0", "--publisher", "alice")
    assert first.exit_code == 0, first.output
    assert "api:default/petstore 1.0.0: published; openapi 3.0.0, 3 operations, stable" in first.output
    assert "/apis/default/petstore/v/1.0.0" in first.output

    again = cli("publish", str(PETSTORE), "--api", "petstore", "--version", "1.0.0", "--json")
    assert again.exit_code == 0 and json.loads(again.output)["status"] == "unchanged"

    changed = tmp_path / "petstore.yaml"
    changed.write_text(PETSTORE.read_text().replace("Swagger Petstore", "Petstore II"))
    conflict = cli("publish", str(changed), "--api", "petstore", "--version", "1.0.0")
    assert conflict.exit_code == 3 and "immutable" in conflict.output


def test_validation_errors_are_printed_as_file_line_pointer_message(cli, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /x:\n    get: {}\n")
    result = cli("publish", str(broken), "--api", "petstore", "--version", "1.0.0")
    assert result.exit_code == 1
    assert "broken.yaml:5 /paths/~1x/get: 'responses' is a required property" in result.output
    as_json = cli("publish", str(broken), "--api", "petstore", "--version", "1.0.0", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.output)["errors"][0]["line"] == 5


def test_other_errors_exit_1(cli, tmp_path):
    assert cli("publish", str(tmp_path / "missing.yaml"), "--api", "petstore", "--version", "1").exit_code == 1
    unknown = cli("publish", str(PETSTORE), "--api", "nope", "--version", "1")
    assert unknown.exit_code == 1 and "not in the catalog" in unknown.output
    bad = cli("publish", str(PETSTORE), "--api", "petstore", "--version", "1 0")
    assert bad.exit_code == 1 and "not a valid version" in bad.output


def test_publish_a_folder_a_zip_and_a_git_path(cli, tmp_path):
    folder = cli("publish", str(SOCIAL), "--api", "social", "--version", "1", "--main", "backend/asyncapi.yaml")
    assert folder.exit_code == 0, folder.output
    assert "asyncapi 3.1.0, 4 operations" in folder.output

    ambiguous = cli("publish", str(SOCIAL), "--api", "social", "--version", "1")
    assert ambiguous.exit_code == 1 and "several definition files" in ambiguous.output

    archive = tmp_path / "social.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in SOCIAL.rglob("*.yaml"):
            handle.write(path, path.relative_to(SOCIAL).as_posix())
    zipped = cli("publish", str(archive), "--api", "social", "--version", "2", "--main", "frontend/asyncapi.yaml")
    assert zipped.exit_code == 0, zipped.output

    repository = make_repository(tmp_path)
    target = f"git+file://{repository}//specs/social-media/public-api/asyncapi.yaml?ref=main"
    from_git = cli("publish", target, "--api", "social", "--version", "3", "--json")
    assert from_git.exit_code == 0, from_git.output
    assert json.loads(from_git.output)["operations"] == 1


def test_a_single_file_cannot_reach_outside_its_folder(cli, tmp_path):
    copy = tmp_path / "social"
    shutil.copytree(SOCIAL, copy)
    result = cli("publish", str(copy / "backend" / "asyncapi.yaml"), "--api", "social", "--version", "1")
    assert result.exit_code == 1 and "leaves the uploaded files" in result.output


def test_help_is_there():
    result = CliRunner().invoke(app, ["publish", "--help"])
    assert result.exit_code == 0 and "--version" in result.output and "git+URL" in result.output


def test_publishing_a_folder_brings_the_guides_of_its_docs_folder(cli, tmp_path, client, admin_headers):
    root = tmp_path / "petstore"
    (root / "docs").mkdir(parents=True)
    shutil.copy(PETSTORE, root / "openapi.yaml")
    (root / "docs" / "getting-started.md").write_text("# Getting started\n\nAsk for a sandbox key.\n")
    (root / "docs" / "errors.md").write_text("# Errors\n\nEvery error is a problem document.\n")
    (root / "mkdocs.yml").write_text("nav:\n  - Start here: getting-started.md\n  - errors.md\n")
    result = cli("publish", str(root), "--api", "petstore", "--version", "1.0.0")
    assert result.exit_code == 0, result.output
    html = {**admin_headers, "accept": "text/html"}
    page = client.get("/docs/default/api/petstore/getting-started", headers=html)
    assert page.status_code == 200 and "Ask for a sandbox key." in page.text
    assert '<a href="/docs/default/api/petstore/errors"' in page.text  # the navigation, in mkdocs order

    (root / "docs" / "errors.md").unlink()
    again = cli("publish", str(root), "--api", "petstore", "--version", "1.0.0", "--json")
    assert json.loads(again.output)["status"] == "unchanged"  # the definition is the same; the guides follow
    assert client.get("/docs/default/api/petstore/errors", headers=html).status_code == 404
