"""The devhub command, run as a user would: import, list, refresh, search, remove, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from devhub import settings as settings_module
from devhub.cli import app
from tests.conftest import FIXTURES


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    monkeypatch.setenv("DEVHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(tmp_path / "data"))
    settings_module.get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    settings_module.get_settings.cache_clear()


def test_import_prints_counts_and_problems_and_exits_2_on_entity_errors(cli):
    result = cli("catalog", "import", str(FIXTURES / "org"))
    assert result.exit_code == 2, result.output
    assert "15 added" in result.output
    assert "bad.yaml:20: [invalid-name]" in result.output
    assert "bad.yaml:31: [missing-field]" in result.output


def test_clean_import_exits_0_and_json_output_parses(cli):
    result = cli("catalog", "import", str(FIXTURES / "unknown" / "catalog-info.yaml"), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["added"] == 1 and payload["problems"] == []


def test_missing_path_is_a_clear_error(cli, tmp_path):
    result = cli("catalog", "import", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_list_search_refresh_and_remove(cli):
    cli("catalog", "import", str(FIXTURES / "org"))

    listed = cli("catalog", "list", "--kind", "API", "--json")
    assert sorted(i["ref"] for i in json.loads(listed.output)["items"]) == [
        "api:default/ledger-events",
        "api:default/ledger-schema",
        "api:default/payments-api",
    ]

    found = cli("search", "paym", "--json")
    assert json.loads(found.output)[0]["ref"].startswith(
        ("api:default/payments", "component:default/payments", "group:default/payments", "resource:default/payments")
    )

    refreshed = cli("catalog", "refresh")
    assert "15 unchanged" in refreshed.output

    locations = json.loads(cli("catalog", "locations", "--json").output)
    assert [loc["entities"] for loc in locations] == [15]
    removed = cli("catalog", "remove", str(locations[0]["id"]))
    assert removed.exit_code == 0
    assert json.loads(cli("catalog", "list", "--json").output)["total"] == 0
    assert cli("catalog", "remove", "999").exit_code == 1


def test_db_upgrade_is_idempotent(cli):
    assert cli("db", "upgrade").exit_code == 0
    assert cli("db", "upgrade").exit_code == 0
