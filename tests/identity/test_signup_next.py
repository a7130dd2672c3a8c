"""Sign-up returns people to the page that sent them (the try-it console's "Create an account")."""

from tests.conftest import csrf_for


def _sign_up(client, settings, next_value: str | None):
    client.get("/signup")
    token = csrf_for(client, settings)
    form = {"csrf_token": token, "email": "new@example.com", "password": "correct horse battery"}
    if next_value is not None:
        form["next"] = next_value
    return client.post("/signup", data=form, follow_redirects=False)


def test_sign_up_goes_back_to_the_page_that_asked(client, settings):
    page = client.get("/signup?next=/apis/default/payments/v/1.0.0/operations/list-charges")
    assert 'name="next" value="/apis/default/payments/v/1.0.0/operations/list-charges"' in page.text
    reply = _sign_up(client, settings, "/apis/default/payments/v/1.0.0/operations/list-charges")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/apis/default/payments/v/1.0.0/operations/list-charges"


def test_sign_up_without_next_or_with_another_host_lands_on_the_account(client, settings):
    reply = _sign_up(client, settings, "https://evil.example/steal")
    assert reply.headers["location"] == "/account?welcome=1"
