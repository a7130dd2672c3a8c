"""Authentication at the gateway: API keys, OAuth2 access tokens and keyless plans, against the snapshot."""

from __future__ import annotations

import time

import pytest

from devhub.apps import credentials
from devhub.apps.models import Application
from devhub.audit.service import SYSTEM
from devhub.gateway.auth import Authenticator, Consumer, Rejection, identity_headers, limit_key
from devhub.settings import Settings

HOUR = 3600.0


def call(world, auth, path="/payments/charges", headers=None, query=None, now=None, snapshot=None):
    snapshot = snapshot or world.snapshot()
    route, _ = snapshot.route_for(path)
    return auth.authenticate(snapshot, route, "GET", headers or {}, query or {}, now or time.time())


def refused(result, status: int, detail: str = "") -> bool:
    assert isinstance(result, Rejection), result
    assert result.status == status, result
    assert detail in result.detail, result
    return True


@pytest.fixture
def auth(settings) -> Authenticator:
    return Authenticator(settings)


def test_api_keys_in_headers_are_accepted_with_the_grant_and_identity(world, auth):
    ok = call(world, auth, headers={"x-api-key": world.keys["keys-test"]})
    assert isinstance(ok, Consumer)
    assert (ok.app_id, ok.environment, ok.credential) == (world.apps["keys"], "sandbox", world.key_id("keys-test"))
    assert ok.grant.plan.slug == "free" and ok.grant.state == "approved"
    assert limit_key(ok, "10.0.0.1") == f"s{ok.grant.subscription_id}"
    names = dict(identity_headers(ok))
    assert names["x-devhub-app"] == ok.app_uid and names["x-devhub-plan"] == "free"
    assert isinstance(call(world, auth, headers={"authorization": f"ApiKey {world.keys['keys-live']}"}), Consumer)
    live = call(world, auth, headers={"authorization": f"Bearer {world.keys['keys-live']}"})
    assert isinstance(live, Consumer) and live.environment == "production"


def test_unknown_malformed_and_wrong_keys_are_401_with_a_challenge(world, auth):
    key = world.keys["keys-test"]
    key_id = world.key_id("keys-test")
    for presented in ["dh_test_000000000000_secret", key[:-2] + "xx", "nonsense", f"dh_live_{key_id}_x", "dh_test_"]:
        result = call(world, auth, headers={"x-api-key": presented})
        assert refused(result, 401, "not valid") and result.www_authenticate == 'ApiKey realm="devhub"'
    missing = call(world, auth)
    assert refused(missing, 401, "needs credentials") and missing.www_authenticate.startswith("Bearer")


def test_configured_key_headers(world, db):
    custom = Authenticator(Settings(database_url=db.url, gateway_key_headers="x-key, x-other", secret_key="s"))
    assert isinstance(call(world, custom, headers={"x-other": world.keys["keys-test"]}), Consumer)
    assert refused(call(world, custom, headers={"x-api-key": world.keys["keys-test"]}), 401)
    headers, query = custom.strip(
        {"x-other": "k", "accept": "*/*", "x-devhub-app": "forged"}, {"api_key": "k", "q": "1"}
    )
    assert headers == {"accept": "*/*"} and query == {"q": "1"}
    basic = {"authorization": "Basic dXNlcjpwdw==", "x-api-key": "k"}  # not the gateway's: the upstream's business
    assert custom.strip(basic, {})[0] == {"authorization": "Basic dXNlcjpwdw==", "x-api-key": "k"}
    assert custom.strip({"authorization": "Bearer abc"}, {})[0] == {}


def test_expired_revoked_and_rotated_keys(world, auth, settings):
    now = time.time()
    with world.db.session() as session:
        app = session.get(Application, world.apps["keys"])
        short = credentials.create_key(session, app, "sandbox", "short", SYSTEM, expires_in_days=1).secret
        rotated = credentials.rotate_key(session, settings, app, world.key_row("keys-test", session), SYSTEM).secret
        credentials.revoke_key(session, settings, app, world.key_row("keys-live", session), SYSTEM)
    snapshot = world.snapshot()
    assert isinstance(call(world, auth, headers={"x-api-key": short}, now=now, snapshot=snapshot), Consumer)
    assert refused(
        call(world, auth, headers={"x-api-key": short}, now=now + 25 * HOUR, snapshot=snapshot), 401, "expired"
    )
    old = {"x-api-key": world.keys["keys-test"]}
    assert isinstance(call(world, auth, headers=old, now=now + HOUR, snapshot=snapshot), Consumer)  # within grace
    assert refused(call(world, auth, headers=old, now=now + 25 * HOUR, snapshot=snapshot), 401, "rotated")
    assert isinstance(
        call(world, auth, headers={"x-api-key": rotated}, now=now + 25 * HOUR, snapshot=snapshot), Consumer
    )
    live = {"x-api-key": world.keys["keys-live"]}
    assert refused(call(world, auth, headers=live, snapshot=snapshot), 401, "revoked")


def test_grants_decide_by_subscription_state_and_environment(world, auth):
    snapshot = world.snapshot()
    # waiting: gold is pending: the sandbox key works, the production key must wait for approval
    assert isinstance(call(world, auth, headers={"x-api-key": world.keys["waiting-test"]}, snapshot=snapshot), Consumer)
    live = {"x-api-key": world.keys["waiting-live"]}
    waiting = call(world, auth, headers=live, snapshot=snapshot)
    assert refused(waiting, 403, "awaits approval") and waiting.www_authenticate == 'ApiKey realm="devhub"'
    empty = {"x-api-key": "", "accept": "*/*"}  # an empty header is no key: the query's is used
    on_query = call(world, auth, "/weather/x", headers=empty, query={"api_key": world.keys["waiting-test"]})
    assert isinstance(on_query, Consumer)
    assert isinstance(call(world, auth, "/weather/today", headers=live, snapshot=snapshot), Consumer)  # approved there
    # keys has no subscription to weather
    no_grant = call(world, auth, "/weather/today", headers={"x-api-key": world.keys["keys-test"]}, snapshot=snapshot)
    assert refused(no_grant, 403, "no subscription")
    # an api_key on an oauth2 plan
    assert refused(
        call(world, auth, headers={"x-api-key": world.keys["partner-test"]}, snapshot=snapshot), 403, "OAuth2"
    )
    world.decide("keys", "suspend")
    suspended = world.snapshot()
    for name in ("keys-test", "keys-live"):
        assert refused(call(world, auth, headers={"x-api-key": world.keys[name]}, snapshot=suspended), 403, "suspended")
    world.decide("keys", "resume")
    world.decide("keys", "revoke")
    assert refused(call(world, auth, headers={"x-api-key": world.keys["keys-test"]}), 403, "no subscription")
    world.decide("waiting", "approve")
    assert isinstance(call(world, auth, headers=live), Consumer)


def test_keys_in_the_query_only_where_the_plan_allows_it(world, auth):
    snapshot = world.snapshot()
    on_weather = call(world, auth, "/weather/x", query={"api_key": world.keys["waiting-test"]}, snapshot=snapshot)
    assert isinstance(on_weather, Consumer) and on_weather.grant.plan.slug == "open"
    on_payments = call(world, auth, query={"api_key": world.keys["keys-test"]}, snapshot=snapshot)
    assert refused(on_payments, 401, "query string")


def test_keyless_calls_pass_as_anonymous_bound_to_the_keyless_plan(world, auth):
    anonymous = call(world, auth, "/weather/today")
    assert isinstance(anonymous, Consumer) and anonymous.app_id is None and anonymous.credential == "anonymous"
    assert anonymous.grant.plan.slug == "anon" and anonymous.grant.plan.rate_per_second == 3
    assert limit_key(anonymous, "10.0.0.1") == f"k{world.products['weather']}:10.0.0.1"


def test_oauth2_tokens_are_verified_cached_and_checked_against_the_plan(world, auth):
    token = world.token()
    snapshot = world.snapshot()  # after issuing: the signing key is in the JWKS
    ok = call(world, auth, headers={"authorization": f"Bearer {token}"}, snapshot=snapshot)
    assert isinstance(ok, Consumer) and ok.credential == world.clients["partner"][0]
    assert ok.scopes == {"payments:read", "payments:write"} and ok.grant.plan.slug == "partner"
    assert len(auth._tokens) == 1
    again = call(world, auth, headers={"authorization": f"Bearer {token}"}, snapshot=snapshot)
    assert isinstance(again, Consumer) and len(auth._tokens) == 1
    late = call(
        world, auth, headers={"authorization": f"Bearer {token}"}, now=time.time() + 3 * HOUR, snapshot=snapshot
    )
    assert refused(late, 401, "expired") and 'error="invalid_token"' in late.www_authenticate

    def bearer(value, snap=snapshot):
        return call(world, auth, headers={"authorization": f"Bearer {value}"}, snapshot=snap)

    body, signature = token.rsplit(".", 1)
    tampered = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert refused(bearer(tampered), 401, "not valid")
    assert refused(bearer(tampered), 401, "not valid") and isinstance(auth._tokens[tampered], Rejection)
    assert refused(bearer("not-a-jwt"), 401, "not valid")
    assert refused(bearer(world.sign(exp=int(time.time()) - 10)), 401, "expired")
    assert refused(bearer(world.sign(exp=int(time.time()) - 3600)), 401, "not valid")
    assert refused(bearer(world.sign(aud="somebody-else")), 401, "not valid")
    early = world.sign(nbf=int(time.time()) + 600)  # from a clock ahead of ours: refused, not remembered
    assert refused(bearer(early), 401, "not valid yet") and early not in auth._tokens
    assert refused(bearer(world.sign(iss="https://evil.example.com")), 401, "not valid")
    narrow = bearer(world.sign(scope="other:thing"))
    assert refused(narrow, 403, "scopes") and 'error="insufficient_scope"' in narrow.www_authenticate
    assert isinstance(bearer(world.token(scope="payments:read")), Consumer)
    # a token of a client revoked since it was issued stops at once (the cache is per snapshot)
    with world.db.session() as session:
        app = session.get(Application, world.apps["partner"])
        client = credentials.get_client(session, app, world.clients["partner"][0])
        credentials.revoke_client(session, world.settings, app, client, SYSTEM)
    assert refused(bearer(token, world.snapshot()), 401, "revoked")


def test_console_tokens_act_as_the_credential_they_name(world, auth, settings):
    """The try-it console's token: verified against the JWKS, then exactly the named credential's rules."""
    header = "x-devhub-console-token"
    key_id = world.key_id("keys-test")
    as_key = call(world, auth, headers={header: world.console(key_id)})
    assert isinstance(as_key, Consumer)
    assert (as_key.app_id, as_key.environment, as_key.credential) == (world.apps["keys"], "sandbox", key_id)
    assert as_key.grant.plan.slug == "free"

    client_id, _ = world.clients["partner"]
    as_client = call(world, auth, headers={header: world.console(client_id)})
    assert isinstance(as_client, Consumer) and as_client.credential == client_id
    assert as_client.scopes == {"payments:read", "payments:write"}  # the OAuth2 plan's scopes

    # the credential's own rules: a production key of a pending subscription, a key on an OAuth2 plan
    assert refused(call(world, auth, headers={header: world.console(world.key_id("waiting-live"))}), 403, "approval")
    assert refused(call(world, auth, headers={header: world.console(world.key_id("partner-test"))}), 403, "OAuth2")
    assert refused(call(world, auth, headers={header: world.console("000000000000")}), 401, "unknown")
    # not a console token: expired, too long-lived, an access token, another issuer, forged
    now = int(time.time())
    for token in (
        world.console(key_id, iat=now - 400, exp=now - 100),
        world.console(key_id, exp=now + 3600),
        world.sign(),
        world.console(key_id, iss="https://elsewhere.example"),
        world.console(key_id)[:-4] + "AAAA",
    ):
        result = call(world, auth, headers={header: token})
        assert refused(result, 401) and result.www_authenticate.startswith("Bearer")
    # nor is a console token an access token
    assert refused(call(world, auth, headers={"authorization": f"Bearer {world.console(key_id)}"}), 401)

    with world.db.session() as session:
        app = session.get(Application, world.apps["keys"])
        credentials.revoke_key(session, settings, app, world.key_row("keys-test", session), SYSTEM)
    revoked = call(world, auth, headers={header: world.console(key_id)})
    assert refused(revoked, 401, "revoked")
    assert (revoked.app_id, revoked.credential) == (world.apps["keys"], key_id)  # known, for the call record
    kept, _ = auth.strip({header: "t", "accept": "*/*"}, {})
    assert kept == {"accept": "*/*"}
