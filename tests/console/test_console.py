"""The try-it console end to end: the portal (TestClient) builds the call, a real `devhub gateway` process
authenticates it by the console token and proxies it to a real loopback upstream, which records what came."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from devhub.apps import oauth
from devhub.identity.deps import principal_for
from devhub.identity.models import User
from devhub.problems import Problem
from tests.conftest import bearer, csrf_for, make_account
from tests.console.conftest import TEAM

GET_PET = {"path": {"petId": "42"}, "query": {"verbose": True, "tags": ["a", "b"]}, "header": {"X-Trace": "t-1"}}


def test_developer_calls_an_operation_through_the_gateway_and_gets_a_curl_without_the_secret(world):
    result = world.wait_for_gateway()
    result = world.call(parameters=GET_PET)
    assert result["status"] == 200, result
    echoed = result["body_json"]
    assert echoed["method"] == "GET" and echoed["path"] == "/base/pets/42?verbose=true&tags=a&tags=b"
    up = echoed["headers"]
    assert up["x-trace"] == "t-1" and up["x-devhub-credential"] == world.key_id
    assert up["x-devhub-environment"] == "sandbox" and up["x-devhub-app"] == world.app["id"]
    assert not any(name.startswith("x-devhub-console") for name in up), "the console token went upstream"
    assert ("x-upstream", "echo") in {(h["name"], h["value"]) for h in result["headers"]}
    assert result["elapsed_ms"] > 0 and result["size"] > 0 and result["product"] == "pets"
    assert result["url"] == "https://gw.example.com/pets/pets/42?verbose=true&tags=a&tags=b"
    curl = result["curl"]
    assert '-H "X-Api-Key: $DEVHUB_KEY"' in curl and f"dh_test_{world.key_id}" in curl
    assert world.key not in json.dumps(result), "the secret must never be shown"
    assert "curl 'https://gw.example.com/pets/pets/42?verbose=true&tags=a&tags=b'" in curl
    assert "-H 'X-Trace: t-1'" in curl

    lower = world.call(parameters={"path": {"petId": "1"}, "header": {"x-trace": "lower"}})  # names: any case
    assert lower["body_json"]["headers"]["x-trace"] == "lower"

    created = world.call(operation="createPet", body={"name": "Rex"})
    assert created["status"] == 201 and created["body_json"]["body"] == '{"name": "Rex"}'
    assert created["body_json"]["headers"]["content-type"] == "application/json"
    assert "-X POST" in created["curl"] and '--data-raw \'{"name": "Rex"}\'' in created["curl"]


REFUSED = [
    ({"url": "http://evil.example/"}, "url"),
    ({"host": "evil.example"}, "host"),
    ({"parameters": {"path": {"petId": "42"}, "url": {"x": "http://evil.example"}}}, "url"),
    ({"parameters": {"path": {"petId": ".."}}}, "cannot be '..'"),
    ({"parameters": {"path": {"petId": "."}}}, "cannot be '.'"),
    ({"parameters": {"path": {"petId": "42"}, "header": {"Host": "evil.example"}}}, "no header parameter 'Host'"),
    ({"parameters": {"path": {"petId": "42"}, "header": {"X-Forwarded-Host": "e"}}}, "no header parameter"),
    ({"parameters": {"path": {"petId": "42"}, "query": {"next": "http://e"}}}, "no query parameter 'next'"),
    ({"operation": "createPet", "body": "not json"}, "not valid JSON"),
    ({"parameters": {"path": {"petId": "42"}}, "body": {"a": 1}}, "takes no request body"),
    ({"environment": "production", "parameters": {"path": {"petId": "42"}}}, "choose a production one"),
]


def test_the_console_only_ever_calls_the_gateway_route(world):
    """Addresses cannot be given (extra fields are refused), dot segments and Host headers are refused, and
    whatever a path value holds (`//host`, absolute URLs, `..` inside) stays one segment under the route."""
    for change, detail in REFUSED:
        problem = world.call(422, **change)
        assert problem["status"] == 422 and detail in json.dumps(problem), (change, problem)
    assert world.seen == [], "nothing may be sent"

    world.wait_for_gateway()
    world.seen.clear()
    for value in ("//evil.example/x", "http://evil.example:80/", "../../admin", "a/../../b", "%2e%2e", "?x=1#f"):
        result = world.call(parameters={"path": {"petId": value}})
        assert result["status"] == 200, (value, result)
        assert result["url"].startswith("https://gw.example.com/pets/pets/")
    paths = [record["path"] for record in world.seen]
    assert len(paths) == 6 and all(path.startswith("/base/pets/") for path in paths), paths
    assert [unquote(path.removeprefix("/base/pets/")) for path in paths][:3] == [
        "//evil.example/x",
        "http://evil.example:80/",
        "../../admin",
    ]
    upstream_host = world.seen[0]["headers"]["host"]
    assert upstream_host.startswith("127.0.0.1:")
    assert all(record["headers"]["host"] == upstream_host for record in world.seen)


def test_someone_elses_key_cannot_be_used_and_empty_states_say_how_to_get_access(world):
    other_id = make_account(world.db, world.settings, "other@example.com")
    other = bearer(world.db, world.settings, other_id, scopes=("read", "write"))
    payload = {
        "api": "default/petstore",
        "version": "1.0.0",
        "operation": "getPet",
        "credential": world.key_id,
        "parameters": {"path": {"petId": "1"}},
    }
    response = world.client.post("/api/v1/console/calls", headers=other, json=payload)
    assert response.status_code == 404 and world.key_id in response.json()["detail"]
    assert world.client.post("/api/v1/console/calls", json=payload).status_code == 401

    # Nor through the page, and not by naming it in the form.
    world.browse_as(other_id)
    form = {
        "credential": f"{world.key_id}@pets",
        "path.petId": "1",
        "csrf_token": csrf_for(world.client, world.settings),
    }
    page = world.client.post(world.page + "/try", data=form)
    assert page.status_code == 404 and "no credential" in page.text
    assert world.seen == []

    # And the token issuer checks ownership itself.
    with world.db.session() as session:
        viewer = principal_for(session, session.get(User, other_id))
        with pytest.raises(Problem) as refused:
            oauth.issue_console_token(session, world.settings, world.key_id, viewer)
    assert refused.value.status == 404

    # The owner's token: one minute, for the console's audience, naming the key by its public id.
    with world.db.session() as session:
        owner = principal_for(session, session.get(User, world.developer_id))
        token = oauth.issue_console_token(session, world.settings, world.key_id, owner)
        keys = KeySet.import_key_set(oauth.jwks(session))
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    claims = decoded.claims
    assert decoded.header["kid"] and claims["aud"] == "devhub-console" and claims["sub"] == world.key_id
    assert claims["iss"] == world.settings.base_url.rstrip("/") and claims["exp"] - claims["iat"] == 60
    assert claims["jti"]

    # The other developer has no application: the console says where to get access.
    page = world.client.get(world.page + "/try")
    assert "No sandbox credential can call this API yet" in page.text
    assert 'href="/products/pets"' in page.text and "Get a sandbox key for Pets" in page.text
    production = world.client.get(world.page + "/try", params={"environment": "production"})
    assert "Production calls need an approved subscription" in production.text
    query = {"api": "default/petstore", "version": "1.0.0", "operation": "getPet"}
    listed = world.client.get("/api/v1/console/credentials", params=query, headers=other).json()
    assert listed == {"items": [], "get_access": ["/products/pets"]}
    mine = world.client.get("/api/v1/console/credentials", params=query, headers=world.developer).json()
    assert [item["credential"] for item in mine["items"]] == [world.key_id]

    # One step from the empty state: a new application with its sandbox key, subscribed, chosen, shown once.
    assert 'name="action" value="get-access:pets"' in page.text
    csrf = csrf_for(world.client, world.settings)
    access = world.client.post(world.page + "/try", data={"action": "get-access:pets", "csrf_token": csrf})
    assert access.status_code == 201, access.text
    key = re.search(r"<code class=\"mono\">(dh_test_[A-Za-z0-9_-]+)</code>", access.text).group(1)
    key_id = key.split("_")[2]
    assert "Pets app" in access.text and f'value="{key_id}@pets" selected' in access.text
    assert world.client.get(world.page + "/try").text.count(key) == 0, "the key is shown once"
    deadline = time.monotonic() + 5
    while True:
        form = {"credential": f"{key_id}@pets", "path.petId": "3", "csrf_token": csrf}
        sent = world.client.post(world.page + "/try", data=form, headers={"HX-Request": "true"})
        if "badge-success" in sent.text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ">200 OK<" in sent.text and world.seen[-1]["headers"]["x-devhub-credential"] == key_id

    # A team's application is its members' to call with: a member who did not register it sees its key.
    team_app = world.client.post("/api/v1/apps", headers=world.owner, json={"name": "Team app", "team": "team-a"})
    assert team_app.status_code == 201, team_app.text
    body = {"product": "pets", "plan": "free"}
    subscribed = world.client.post(
        f"/api/v1/apps/{team_app.json()['id']}/subscriptions", headers=world.owner, json=body
    )
    assert subscribed.status_code == 201, subscribed.text
    mate_id = make_account(world.db, world.settings, "mate@example.com", teams={TEAM: "member"})
    mate = bearer(world.db, world.settings, mate_id, scopes=("read", "write"))
    team_key = team_app.json()["sandbox_key"]["key"].split("_")[2]
    listed = world.client.get("/api/v1/console/credentials", params=query, headers=mate).json()
    assert [item["credential"] for item in listed["items"]] == [team_key]
    refused = world.client.get("/api/v1/console/credentials", params=query, headers=other).json()
    assert team_key not in json.dumps(refused)

    # Anonymous visitors are asked to sign in (or sign up), on the page and in the htmx fragment.
    world.client.cookies.clear()
    anonymous = world.client.get(world.page + "/try")
    assert anonymous.status_code == 200 and "Sign in to call this operation" in anonymous.text
    assert "/login?next=" in anonymous.text and 'name="credential"' not in anonymous.text
    fragment = world.client.get(world.page + "/try", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("<section") and "Sign in" in fragment.text


def test_operation_page_form_works_without_javascript_and_with_htmx(world):
    world.wait_for_gateway()
    world.browse_as(world.developer_id)
    page = world.client.get(world.page)
    section = page.text[page.text.index('id="try-it"') :]
    assert f'hx-get="{world.page}/try"' in section and 'method="get"' in section
    assert 'name="path.petId" value="42"' in section and 'name="query.tags" value="a,b"' in section
    assert 'name="header.Host"' not in section  # a Host header parameter is never offered

    # Without JavaScript: the form GETs the console page, which keeps the values and lists the key.
    console = world.client.get(world.page + "/try", params={"path.petId": "7", "environment": "sandbox"})
    assert 'name="path.petId" value="7"' in console.text and f'value="{world.key_id}@pets" selected' in console.text
    assert 'name="csrf_token"' in console.text and "The same call with curl" not in console.text

    form = {
        "csrf_token": csrf_for(world.client, world.settings),
        "credential": f"{world.key_id}@pets",
        "environment": "sandbox",
        "path.petId": "7",
        "query.verbose": "false",
        "query.tags": "x",
        "header.X-Trace": "",
        "url": "http://evil.example/",
        "host": "evil.example",
    }
    sent = world.client.post(world.page + "/try", data=form)
    assert sent.status_code == 200, sent.text
    assert "The same call with curl" in sent.text and "$DEVHUB_KEY" in sent.text
    assert world.seen[-1]["path"] == "/base/pets/7?verbose=false&tags=x"
    assert 'href="/sandbox/data"' not in sent.text  # the product's own sandbox answered, not devhub's
    assert "x-trace" not in world.seen[-1]["headers"]  # left empty: not sent

    # With htmx: only the result comes back, status 200 even for a refusal, so it is swapped in.
    htmx = world.client.post(world.page + "/try", data=form, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "<html" not in htmx.text and "Response" in htmx.text
    bad = world.client.post(world.page + "/try", data={**form, "path.petId": ".."}, headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "Not sent" in bad.text
    wrong_env = world.client.post(world.page + "/try", data={**form, "environment": "production"})
    assert wrong_env.status_code == 422 and "choose a production one" in wrong_env.text

    credentials = world.client.get(
        world.page + "/try", params={"part": "credentials", "environment": "production"}, headers={"HX-Request": "true"}
    )
    assert credentials.text.lstrip().startswith('<div class="form-field console-credential"')
    assert "No production credential" in credentials.text

    # Signed out, a plain post goes to sign in and comes back to the console with the values.
    world.client.cookies.clear()
    world.client.get(world.page + "/try")  # a browser id (and so a CSRF token) for the visitor
    anonymous = world.client.post(
        world.page + "/try",
        data={"path.petId": "9", "csrf_token": csrf_for(world.client, world.settings)},
        follow_redirects=False,
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert "path.petId%3D9" in anonymous.headers["location"]


def test_oauth2_client_calls_with_a_bearer_placeholder(world):
    client_id = world.app["sandbox_client"]["client_id"]
    subscriptions = world.client.get(f"/api/v1/apps/{world.app['id']}", headers=world.developer).json()
    free = next(s for s in subscriptions["subscriptions"] if s["product"] == "pets")
    cancel = world.client.post(
        f"/api/v1/subscriptions/{free['id']}/decision", headers=world.developer, json={"action": "revoke"}
    )
    assert cancel.status_code == 200, cancel.text
    body = {"product": "pets", "plan": "partner"}
    response = world.client.post(f"/api/v1/apps/{world.app['id']}/subscriptions", headers=world.developer, json=body)
    assert response.status_code == 201, response.text

    query = {"api": "default/petstore", "version": "1.0.0", "operation": "getPet"}
    listed = world.client.get("/api/v1/console/credentials", params=query, headers=world.developer).json()
    assert [(item["credential"], item["kind"]) for item in listed["items"]] == [(client_id, "oauth2")]
    world.key_id = client_id
    result = world.wait_for_gateway()
    result = world.call(parameters={"path": {"petId": "5"}})
    assert result["status"] == 200, result
    assert result["body_json"]["headers"]["x-devhub-credential"] == client_id
    assert '-H "Authorization: Bearer $DEVHUB_TOKEN"' in result["curl"]
    assert re.search(r"curl -u \"dhc_test_\w+:\$DEVHUB_CLIENT_SECRET\"", result["curl"])


def test_console_call_reaches_the_built_in_sandbox(world, live_portal):
    """A product without a sandbox URL is answered by devhub's spec-driven sandbox, behind the gateway."""
    product = {"slug": "zoo", "name": "Zoo", "owner": "team-a", "visibility": "public", "apis": [{"api": "petstore"}]}
    assert world.client.post("/api/v1/products", headers=world.owner, json=product).status_code == 201
    plan = {"slug": "free", "name": "Free", "rate_per_second": 100}
    assert world.client.post("/api/v1/products/zoo/plans", headers=world.owner, json=plan).status_code == 201
    body = {"product": "zoo", "plan": "free"}
    response = world.client.post(f"/api/v1/apps/{world.app['id']}/subscriptions", headers=world.developer, json=body)
    assert response.status_code == 201, response.text

    # Two products offer the API to this key now: the call names one.
    ambiguous = world.call(422, parameters={"path": {"petId": "42"}})
    assert "several products" in ambiguous["detail"]
    deadline = time.monotonic() + 5
    while True:
        result = world.call(product="zoo", parameters={"path": {"petId": "42"}})
        if result["status"] not in (401, 403, 404) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert result["status"] == 200, result
    assert result["body_json"] == {"id": "42", "name": "Rex"}  # the definition's example
    assert result["url"].startswith("https://gw.example.com/zoo/pets/42")
    assert world.seen == [], "the sandbox answered, not the upstream"

    # On the page, the result links to the sandbox data, where what the calls create is seen and reset.
    world.browse_as(world.developer_id)
    form = {
        "credential": f"{world.key_id}@zoo",
        "path.petId": "42",
        "csrf_token": csrf_for(world.client, world.settings),
    }
    sent = world.client.post(world.page + "/try", data=form, headers={"HX-Request": "true"})
    assert ">200 OK<" in sent.text and 'href="/sandbox/data"' in sent.text


def _keyless_product(world, upstream: str, **changes) -> None:
    """`Open pets`: the petstore through a keyless plan only (its sandbox upstream is the recording one)."""
    product = {
        "slug": "open-pets",
        "name": "Open pets",
        "owner": "team-a",
        "visibility": "public",
        "sandbox_url": f"{upstream}/open",
        "apis": [{"api": "petstore"}],
        **changes,
    }
    assert world.client.post("/api/v1/products", headers=world.owner, json=product).status_code == 201
    plan = {"slug": "open", "name": "Open", "credential_type": "keyless", "rate_per_second": 100}
    assert world.client.post("/api/v1/products/open-pets/plans", headers=world.owner, json=plan).status_code == 201


def _keyless_call(world, headers: dict | None = None, expected: int = 200, **body) -> dict:
    payload = {"api": "default/petstore", "version": "1.0.0", "operation": "getPet", "credential": "keyless"}
    payload.update(body)
    response = world.client.post("/api/v1/console/calls", headers=headers or {}, json=payload)
    assert response.status_code == expected, response.text
    return response.json()


def _until_routed(call) -> dict:
    """The first call, repeated until the gateway's snapshot has the new product (a poll away)."""
    deadline = time.monotonic() + 5
    while True:
        result = call()
        if result["status"] not in (401, 403, 404) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_a_keyless_plan_is_called_without_a_credential_by_anyone(world, upstream):
    _keyless_product(world, upstream)
    query = {"api": "default/petstore", "version": "1.0.0", "operation": "getPet"}
    listed = world.client.get("/api/v1/console/credentials", params=query, headers=world.developer).json()
    assert [(i["credential"], i["kind"], i["product"], i["environment"]) for i in listed["items"]] == [
        (world.key_id, "api_key", "pets", "sandbox"),
        ("keyless", "keyless", "open-pets", "sandbox"),
    ]
    assert listed["items"][1]["label"] == "No credential (keyless plan: Open pets)"
    assert listed["items"][1]["application"] is None

    # A developer calls through the real gateway with no credential: it arrives as anyone's call.
    result = _until_routed(lambda: _keyless_call(world, world.developer, parameters=GET_PET))
    assert result["status"] == 200, result
    echoed = result["body_json"]
    assert echoed["path"] == "/open/pets/42?verbose=true&tags=a&tags=b"
    up = echoed["headers"]
    assert up["x-devhub-credential"] == "anonymous" and up["x-devhub-plan"] == "open"
    assert "x-devhub-app" not in up and not any(name.startswith("x-devhub-console") for name in up)
    assert result["credential"] == "keyless" and result["product"] == "open-pets"
    assert "DEVHUB_KEY" not in result["curl"] and "# no credential: Open pets has a keyless plan" in result["curl"]
    assert "curl 'https://gw.example.com/open-pets/pets/42?verbose=true&tags=a&tags=b'" in result["curl"]

    # The same URL rules: nothing leaves the product's route.
    for change, detail in REFUSED[:8]:
        problem = _keyless_call(world, world.developer, 422, **change)
        assert detail in json.dumps(problem), (change, problem)
    world.seen.clear()
    for value in ("//evil.example/x", "../../admin", "http://evil.example:80/"):
        escaped = _keyless_call(world, world.developer, parameters={"path": {"petId": value}})
        assert escaped["url"].startswith("https://gw.example.com/open-pets/pets/"), escaped
    assert [unquote(r["path"].removeprefix("/open/pets/")) for r in world.seen] == [
        "//evil.example/x",
        "../../admin",
        "http://evil.example:80/",
    ]

    # A visitor who is not signed in sees the choice instead of "Sign in" and calls with it, page and REST.
    world.client.cookies.clear()
    page = world.client.get(world.page + "/try")
    assert 'value="keyless@open-pets" selected' in page.text and "No credential (keyless plan: Open pets)" in page.text
    assert "Sign in to call this operation" not in page.text and "Sign in</a> to call with your" in page.text
    form = {"credential": "keyless@open-pets", "path.petId": "7", "csrf_token": csrf_for(world.client, world.settings)}
    sent = world.client.post(world.page + "/try", data=form, follow_redirects=False)
    assert sent.status_code == 200 and ">200 OK<" in sent.text, sent.text
    assert "without a credential (the keyless plan of Open pets)" in sent.text
    assert world.seen[-1]["path"].startswith("/open/pets/7?")  # the other fields keep their examples
    assert world.seen[-1]["headers"]["x-devhub-credential"] == "anonymous"
    htmx = world.client.post(world.page + "/try", data={**form, "path.petId": "8"}, headers={"HX-Request": "true"})
    assert ">200 OK<" in htmx.text and world.seen[-1]["path"].startswith("/open/pets/8?")
    assert _keyless_call(world, parameters={"path": {"petId": "9"}})["status"] == 200
    # ... but not with somebody's key, and the page still sends a keyed choice to sign in.
    assert world.client.post("/api/v1/console/calls", json={**_payload(world.key_id)}).status_code == 401
    keyed = world.client.post(world.page + "/try", data={**form, "credential": f"{world.key_id}@pets"})
    assert keyed.history and keyed.history[0].status_code == 303 and "/login?next=" in str(keyed.url)

    # A keyless plan the viewer may not see is not offered: an internal plan is for members only.
    body = {"visibility": "internal"}
    assert (
        world.client.patch("/api/v1/products/open-pets/plans/open", headers=world.owner, json=body).status_code == 200
    )
    assert "keyless@open-pets" not in world.client.get(world.page + "/try").text
    assert _keyless_call(world, expected=404)["detail"].startswith("no product offering api:default/petstore")
    outsider = world.client.get("/api/v1/console/credentials", params=query, headers=world.developer).json()
    assert "keyless" not in [item["credential"] for item in outsider["items"]]  # in no team: not a member
    member_id = make_account(world.db, world.settings, "b@example.com", teams={"group:default/team-b": "member"})
    member = bearer(world.db, world.settings, member_id, scopes=("read",))
    listed = world.client.get("/api/v1/console/credentials", params=query, headers=member).json()
    assert [item["credential"] for item in listed["items"]] == ["keyless"]
    assert _keyless_call(world, member, parameters={"path": {"petId": "10"}})["status"] == 200  # a read token will do


def test_a_keyless_plan_with_a_production_upstream_is_offered_in_production(world, upstream):
    """The gateway sends keyless calls to production when the product has a production upstream: the
    console offers them there only, and says so in the sandbox."""
    _keyless_product(world, upstream, production_url=f"{upstream}/live")
    world.client.cookies.clear()
    sandbox = world.client.get(world.page + "/try")
    assert "keyless@open-pets" not in sandbox.text and "Choose Production to call it" in sandbox.text
    world.browse_as(make_account(world.db, world.settings, "newcomer@example.com"))
    newcomer = world.client.get(world.page + "/try").text
    assert "Choose Production to call it" in newcomer and "Get a sandbox key for Pets" in newcomer
    assert "Get a sandbox key for Open pets" not in newcomer  # it has no plan for keys
    world.client.cookies.clear()
    production = world.client.get(world.page + "/try", params={"environment": "production"})
    assert 'value="keyless@open-pets" selected' in production.text
    wrong = _keyless_call(world, expected=422, parameters={"path": {"petId": "1"}})
    assert "go to production; choose production" in wrong["detail"]
    result = _until_routed(
        lambda: _keyless_call(world, environment="production", product="open-pets", parameters={"path": {"petId": "1"}})
    )
    assert result["status"] == 200, result
    assert result["body_json"]["path"] == "/live/pets/1"
    assert result["body_json"]["headers"]["x-devhub-environment"] == "production"


def _payload(credential: str) -> dict:
    return {
        "api": "default/petstore",
        "version": "1.0.0",
        "operation": "getPet",
        "credential": credential,
        "parameters": {"path": {"petId": "1"}},
    }
