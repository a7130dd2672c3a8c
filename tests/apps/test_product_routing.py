"""How the gateway reaches a product, set by its owners: API entries with their own path (two versions of one
API side by side) and host names, through the REST API, the product form and the CLI."""

from __future__ import annotations

from devhub.gateway.routing import gateway_base_path
from tests.apps.test_cli import serve
from tests.conftest import csrf_for, sign_in
from tests.specs.conftest import register_apis

TEAM = "group:default/team-a"


def _product(client, headers, **changes) -> dict:
    response = client.patch("/api/v1/products/payments", headers=headers, json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def test_owners_serve_two_versions_side_by_side_and_route_host_names(db, settings, access, client, tmp_path):
    register_apis(db, settings, tmp_path / "apis", ["charges", "refunds"])
    owner = access.owner
    apis = [
        {"api": "charges", "version": "1.0", "path": "/V1/"},
        {"api": "api:default/charges", "version": "2.0", "path": "v2"},
        {"api": "refunds"},
    ]
    product = _product(client, owner, apis=apis, hosts=["Payments.Example.com.", "pay.example.com"])
    assert product["hosts"] == ["payments.example.com", "pay.example.com"]
    assert [(a["api_ref"], a["version"], a["path"], a["gateway_prefix"]) for a in product["apis"]] == [
        ("api:default/charges", "1.0", "v1", "/payments/v1"),
        ("api:default/charges", "2.0", "v2", "/payments/v2"),
        ("api:default/refunds", None, None, "/payments"),
    ]
    with db.session() as session:
        from devhub.apps.models import Product

        product_id = session.query(Product.id).filter_by(slug="payments").scalar()
        assert gateway_base_path(session, product_id, "api:default/charges", "2.0") == "/payments/v2"
        assert gateway_base_path(session, product_id, "api:default/refunds", "3.1") == "/payments"
        assert gateway_base_path(session, product_id, "api:default/other", "1.0") == "/payments"

    # what cannot be routed is refused with a problem document
    def refused(status: int, text: str, **body) -> None:
        response = client.patch("/api/v1/products/payments", headers=owner, json=body)
        assert response.status_code == status, response.text
        assert text in response.json()["detail"], response.text

    twice = [{"api": "charges", "version": "1.0"}, {"api": "charges", "version": "2.0"}]
    refused(422, "its own path", apis=twice)
    refused(422, "offered twice", apis=[{"api": "charges", "path": "a"}, {"api": "charges", "path": "b"}])
    refused(422, "not a usable API path", apis=[{"api": "charges", "path": "v 1"}])
    refused(422, "not a host name", hosts=["pay.example.com:8080"])
    other = {"slug": "ledger", "name": "Ledger", "owner": "team-a", "gateway_path": "/payments/v2"}
    response = client.post("/api/v1/products", headers=owner, json=other)
    assert response.status_code == 409 and "/payments/v2" in response.json()["detail"]
    other = {"slug": "ledger", "name": "Ledger", "owner": "team-a", "hosts": ["pay.example.com"]}
    response = client.post("/api/v1/products", headers=owner, json=other)
    assert response.status_code == 409 and "pay.example.com" in response.json()["detail"]
    assert _product(client, owner, hosts=[])["hosts"] == []
    # an empty sandbox URL means devhub's built-in sandbox
    assert _product(client, owner, sandbox_url=None)["sandbox_url"] is None


def test_the_product_form_takes_paths_and_hosts(db, settings, access, client, tmp_path):
    register_apis(db, settings, tmp_path / "apis", ["charges"])
    owner_id = db_user(db, "owner@example.com")
    sign_in(client, db, settings, owner_id)
    form = {
        "name": "Payments",
        "description": "",
        "visibility": "public",
        "apis": "charges 1.0 /v1\ncharges 2.0 /v2",
        "hosts": "payments.example.com",
        "sandbox_url": "",
        "production_url": "",
        "status": "active",
        "csrf_token": csrf_for(client, settings),
    }
    saved = client.post("/products/payments/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = client.get("/products/payments")
    assert "/payments/v1" in page.text and "/payments/v2" in page.text and "payments.example.com" in page.text
    assert "built-in sandbox" in page.text
    edit = client.get("/products/payments/edit")
    assert "api:default/charges 1.0 /v1" in edit.text and "built-in sandbox" in edit.text
    clash = client.post("/products/payments/edit", data={**form, "apis": "charges 1.0\ncharges 2.0"})
    assert clash.status_code == 422 and "its own path" in clash.text


def db_user(db, email: str) -> int:
    from sqlalchemy import select

    from devhub.identity.models import User

    with db.session() as session:
        return session.scalar(select(User.id).where(User.email == email))


def test_owners_route_a_product_from_the_terminal(db, settings, access, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from devhub.cli import app as cli_app

    register_apis(db, settings, tmp_path / "apis", ["charges"])
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    token = access.owner["Authorization"].split()[1]
    with serve(settings) as url:
        assert runner.invoke(cli_app, ["login", "--url", url, "--token", token]).exit_code == 0
        args = ["products", "route", "payments", "--api", "charges 1.0 /v1", "--api", "charges 2.0 /v2"]
        routed = runner.invoke(cli_app, [*args, "--host", "pay.example.com", "--sandbox-url", ""])
        assert routed.exit_code == 0, routed.output
        assert "/payments/v2" in routed.output and "api:default/charges 2.0" in routed.output
        assert "pay.example.com" in routed.output and "the built-in sandbox" in routed.output
        shown = runner.invoke(cli_app, ["products", "show", "payments"]).output
        assert "/payments/v1" in shown
        bad = runner.invoke(cli_app, ["products", "route", "payments", "--api", "charges 1.0", "--api", "charges 2.0"])
        assert bad.exit_code == 1 and "its own path" in bad.output
        assert runner.invoke(cli_app, ["products", "route", "payments"]).exit_code == 2
        cleared = runner.invoke(cli_app, ["products", "route", "payments", "--no-hosts"])
        assert "hosts:" not in cleared.output
