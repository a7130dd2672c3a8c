"""Steps the journeys share: signing up and in through the forms, and counting page actions.

A page action is what a person does to move on: a click or a submitted form that loads a page (typing into
a field is part of the action that sends it). The new-developer journey counts them to hold the portal to
its target of at most 6 from the sign-up form to the first successful call.
"""

from __future__ import annotations

import re

PASSWORD = "a long and careful passphrase"


class Actions:
    """Counts page actions; each waits for the page it loads."""

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0
        self.log: list[str] = []

    def click(self, locator, what: str | None = None) -> None:
        self.count += 1
        self.log.append(what or str(locator))
        locator.click()
        self.page.wait_for_load_state("domcontentloaded")

    def press(self, locator, key: str, what: str | None = None) -> None:
        self.count += 1
        self.log.append(what or f"{key} in {locator}")
        locator.press(key)
        self.page.wait_for_load_state("domcontentloaded")


def sign_up(page, actions: Actions, email: str, name: str, password: str = PASSWORD) -> None:
    """On the sign-up page: fill in the form and send it (one action)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Password").fill(password)
    actions.click(page.get_by_role("main").get_by_role("button", name=re.compile("Create|Sign up")), "sign up")


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Through the sign-in form, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")
    assert "/login" not in page.url, f"sign-in as {email} failed: {page.locator('main').inner_text()[:300]}"


def seed_account(portal, email: str, *, teams: dict[str, str] | None = None, admin: bool = False) -> dict[str, str]:
    """An approved account with team roles, written straight into the portal's database (the journey's own
    seed); returns bearer headers for the REST API, for set-up done the way a script would."""
    from tests.conftest import bearer, make_account

    database, settings = portal.database()
    try:
        user_id = make_account(database, settings, email, admin=admin, teams=teams, password=PASSWORD)
        return bearer(database, settings, user_id, scopes=("read", "write"))
    finally:
        database.dispose()
