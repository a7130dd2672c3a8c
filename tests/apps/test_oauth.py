"""OAuth2 client credentials: the token endpoint, JWKS, metadata, secret and signing-key rotation."""

from __future__ import annotations

import base64

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet

from tests.conftest import bearer, make_account


@pytest.fixture
def partner(db, settings, access):
    """A developer's application on the OAuth2 plan, and its sandbox client credentials."""
    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev)
    access.subscribe(dev, app["id"], "partner")
    return dev, app, app["sandbox_client"]["client_id"], app["sandbox_client"]["client_secret"]


def token(client, client_id, secret, basic=True, **form):
    data = {"grant_type": "client_credentials", **form}
    if basic:
        encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return client.post("/oauth2/token", data=data, headers={"Authorization": f"Basic {encoded}"})
    return client.post("/oauth2/token", data={**data, "client_id": client_id, "client_secret": secret})


def claims_of(client, access_token: str) -> dict:
    keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    return jwt.decode(access_token, keys, algorithms=["ES256"]).claims


def test_client_credentials_give_a_signed_token_the_jwks_verifies(client, settings, partner):
    _, app, client_id, secret = partner
    response = token(client, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.oauth_token_seconds
    assert body["scope"] == "payments:read payments:write"
    claims = claims_of(client, body["access_token"])
    assert claims["sub"] == client_id and claims["app"] == app["id"] and claims["env"] == "sandbox"
    assert claims["aud"] == "devhub-gateway" and claims["exp"] - claims["iat"] == settings.oauth_token_seconds
    assert jwt.decode(body["access_token"], KeySet.import_key_set(client.get("/.well-known/jwks.json").json())).header[
        "kid"
    ]
    narrowed = token(client, client_id, secret, basic=False, scope="payments:read").json()
    assert narrowed["scope"] == "payments:read"
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"].endswith("/oauth2/token") and metadata["grant_types_supported"] == [
        "client_credentials"
    ]
    assert "payments:write" in metadata["scopes_supported"]


def test_token_errors_follow_rfc_6749(client, partner):
    _, _, client_id, secret = partner
    wrong = token(client, client_id, secret + "x")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert token(client, client_id, secret, grant_type="password").json()["error"] == "unsupported_grant_type"
    invalid_scope = token(client, client_id, secret, scope="payments:admin")
    assert invalid_scope.status_code == 400 and invalid_scope.json()["error"] == "invalid_scope"
    assert token(client, "", "").status_code == 401


def test_secret_rotation_keeps_the_old_secret_for_the_grace_period_and_revocation_ends_it(
    db, settings, client, partner
):
    dev, app, client_id, secret = partner
    rotated = client.post(f"/api/v1/apps/{app['id']}/clients/{client_id}/rotate", headers=dev).json()
    assert token(client, client_id, rotated["client_secret"]).status_code == 200
    assert token(client, client_id, secret).status_code == 200  # still in its grace period
    settings.key_rotation_grace_hours = 0
    again = client.post(f"/api/v1/apps/{app['id']}/clients/{client_id}/rotate", headers=dev).json()
    assert token(client, client_id, rotated["client_secret"]).status_code == 401  # no grace now
    assert client.delete(f"/api/v1/apps/{app['id']}/clients/{client_id}", headers=dev).status_code == 204
    assert token(client, client_id, again["client_secret"]).status_code == 401


def test_signing_keys_rotate_and_retire(db, settings, client, partner):
    _, _, client_id, secret = partner
    admin = bearer(db, settings, make_account(db, settings, "root@example.com", admin=True))
    first = token(client, client_id, secret).json()["access_token"]
    keys = client.post("/api/v1/admin/signing-keys", headers=admin).json()
    assert [k["current"] for k in keys] == [True, False]
    second = token(client, client_id, secret).json()["access_token"]
    assert (
        jwt.decode(second, KeySet.import_key_set(client.get("/.well-known/jwks.json").json())).header["kid"]
        == (keys[0]["kid"])
    )
    assert claims_of(client, first)  # signed by the old key, still published
    refused = client.delete(f"/api/v1/admin/signing-keys/{keys[0]['kid']}", headers=admin)
    assert refused.status_code == 409
    assert client.delete(f"/api/v1/admin/signing-keys/{keys[1]['kid']}", headers=admin).status_code == 204
    with pytest.raises(InvalidKeyIdError):  # the old key's tokens no longer verify: its key left the JWKS
        claims_of(client, first)
    with pytest.raises(BadSignatureError):
        jwt.decode(
            second[:-4] + ("AAAA" if not second.endswith("AAAA") else "BBBB"),
            KeySet.import_key_set(client.get("/.well-known/jwks.json").json()),
        )


def test_a_client_without_an_oauth_plan_gets_no_scopes_and_production_needs_approval(db, settings, access, client):
    dev = access.developer(db, settings, "dev2@example.com")
    app = access.new_app(dev)
    client_id, secret = app["sandbox_client"]["client_id"], app["sandbox_client"]["client_secret"]
    assert "scope" not in token(client, client_id, secret).json()
    production = client.post(f"/api/v1/apps/{app['id']}/clients", headers=dev, json={"environment": "production"})
    assert production.status_code == 409
