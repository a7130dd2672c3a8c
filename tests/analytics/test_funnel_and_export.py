"""The funnel's arithmetic and the CSV export's safety, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devhub.analytics.export import to_csv
from devhub.analytics.funnel import Journey, summarise, time_to_first_call

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _journey(n: int, *steps_minutes: float) -> Journey:
    """A developer who signed up at T0 and reached each next step after the given minutes."""
    journey = Journey(n, f"dev{n}@example.com", T0)
    at = T0
    for step, minutes in zip(("first_application", "first_credential", "first_call"), steps_minutes, strict=False):
        at = at + timedelta(minutes=minutes)
        setattr(journey, step, at)
    return journey


def test_the_funnel_counts_drop_offs_and_times_per_step():
    people = [
        _journey(1, 1, 0, 10),
        _journey(2, 2, 0, 20),
        _journey(3, 3, 0, 30),
        _journey(4, 4, 0),  # has a key, never called
        _journey(5),  # signed up only
    ]
    people.append(Journey(6, "odd@example.com", T0, first_call=T0 + timedelta(minutes=5)))  # a call, no app
    steps = {s.step: s for s in summarise(people)}
    assert [steps[s].reached for s in ("signed_up", "first_application", "first_credential", "first_call")] == [
        6,
        4,
        4,
        3,
    ]
    assert steps["first_application"].dropped == 2 and steps["first_call"].dropped == 1
    assert steps["first_call"].conversion == 0.75
    assert steps["first_application"].median_seconds == 150.0  # 1, 2, 3, 4 minutes
    assert steps["first_call"].median_seconds == 1200.0 and steps["first_call"].p90_seconds == 1680.0
    overall = time_to_first_call(people)
    assert overall["developers"] == 3 and overall["median_seconds"] == 22 * 60


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    row = {
        "month": "2026-11",
        "team": "group:default/a",
        "application": "app_1",
        "application_name": '=HYPERLINK("http://evil")',
        "api": "api:default/pets",
        "environment": "sandbox",
        "calls": 3,
        "client_errors": 0,
        "server_errors": 1,
        "bytes_in": 0,
        "bytes_out": 10,
    }
    text = to_csv([row])
    assert text.splitlines()[0].startswith("month,team,application")
    assert "'=HYPERLINK" in text and ",3,0,1,0,10" in text
