"""Settings from the environment: comma-separated lists are lists, as the README documents."""

from __future__ import annotations

from pathlib import Path

from devhub.settings import Settings


def test_comma_separated_lists_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEVHUB_ADMIN_EMAILS", "a@example.com, b@example.com")
    monkeypatch.setenv("DEVHUB_GATEWAY_KEY_HEADERS", "x-key,x-api-key")
    monkeypatch.setenv("DEVHUB_IMPORT_ROOTS", f"{tmp_path},/srv/catalog")
    settings = Settings(data_dir=tmp_path)
    assert settings.admin_emails == ["a@example.com", "b@example.com"]
    assert settings.gateway_key_headers == ["x-key", "x-api-key"]
    assert settings.import_roots == [tmp_path, Path("/srv/catalog")]
