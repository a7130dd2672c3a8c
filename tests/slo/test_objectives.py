"""Objectives from annotations and from the portal, and the error-budget arithmetic (pure, no database)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devhub.analytics.histogram import Histogram
from devhub.slo import budget
from devhub.slo.objectives import (
    Objective,
    ObjectiveError,
    parse_availability,
    parse_latency,
    parse_window,
    resolve,
)

ANNOTATED = {
    "devhub.io/slo-availability": "99.9",
    "devhub.io/slo-latency": "p99 < 300ms",
    "devhub.io/slo-window": "14d",
    "devhub.io/slo-environment": "all",
}


def portal(**values):
    fields = ("availability_target", "latency_target", "latency_ms", "window_days", "environment", "webhook_url")
    return SimpleNamespace(**{name: values.get(name) for name in fields})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("p99 < 300ms", (99.0, 300.0)), ("p99.9<=1s", (99.9, 1000.0)), ("99% < 250 ms", (99.0, 250.0))],
)
def test_latency_annotations_read_as_percent_and_milliseconds(text, expected):
    assert parse_latency(text) == expected


@pytest.mark.parametrize("text", ["p99", "fast", "p100 < 300ms", "p99 < 0ms", "p99 > 300ms"])
def test_unreadable_latency_objectives_are_refused_with_an_example(text):
    with pytest.raises(ObjectiveError):
        parse_latency(text)


def test_targets_and_windows_are_checked():
    assert parse_availability("99.95%") == 99.95
    assert parse_window("28d") == 28 and parse_window("7") == 7
    for bad in ("100", "0", "abc"):
        with pytest.raises(ObjectiveError):
            parse_availability(bad)
    with pytest.raises(ObjectiveError, match="1 to 90 days"):
        parse_window("400d")


def test_annotations_alone_define_the_slo():
    spec = resolve("api:default/pay", ANNOTATED)
    assert [(o.kind, o.target, o.latency_ms, o.source) for o in spec.objectives] == [
        ("availability", 99.9, None, "annotation"),
        ("latency", 99.0, 300.0, "annotation"),
    ]
    assert (spec.window_days, spec.window_source, spec.environment) == (14, "annotation", "all")


def test_the_portal_setting_wins_field_by_field():
    spec = resolve("api:default/pay", ANNOTATED, portal(availability_target=99.5, window_days=28))
    assert spec.objective("availability").target == 99.5 and spec.objective("availability").source == "portal"
    assert spec.objective("latency").source == "annotation"  # not set in the portal: the annotation's
    assert (spec.window_days, spec.window_source) == (28, "portal")
    assert (spec.environment, spec.environment_source) == ("all", "annotation")


def test_without_either_there_is_no_slo_and_the_defaults_apply():
    spec = resolve("api:default/pay", {"devhub.io/slo": "99.9% over 28 days"})
    assert not spec.defined and spec.free_text == "99.9% over 28 days"
    assert (spec.window_days, spec.environment, spec.window_source) == (28, "production", "default")


def test_a_broken_annotation_is_reported_and_ignored():
    spec = resolve("api:default/pay", {"devhub.io/slo-availability": "lots", "devhub.io/slo-latency": "p99 < 1s"})
    assert [o.kind for o in spec.objectives] == ["latency"]
    assert spec.problems and "devhub.io/slo-availability" in spec.problems[0]


# --- budget arithmetic --------------------------------------------------------------------------------------

AVAIL = Objective("availability", 99.9, None, "portal")


def stats(calls: int, server_errors: int = 0, latencies: dict[float, int] | None = None):
    histogram = Histogram()
    for ms, n in (latencies or {}).items():
        histogram.add(ms, n)
    return SimpleNamespace(calls=calls, server_errors=server_errors, latency=histogram)


def test_compliance_and_budget_left_follow_the_sre_workbook():
    counts = budget.tally(AVAIL, stats(10_000, 5))
    assert budget.compliance(counts) == pytest.approx(99.95)
    assert budget.budget_left(AVAIL, counts) == pytest.approx(50.0)  # half of the 0.1 % spent
    assert budget.burn_rate(AVAIL, counts) == pytest.approx(0.5)
    missed = budget.tally(AVAIL, stats(1000, 3))
    assert budget.budget_left(AVAIL, missed) == pytest.approx(-200.0)


def test_latency_objective_counts_the_calls_over_the_threshold():
    objective = Objective("latency", 99.0, 300.0, "annotation")
    counts = budget.tally(objective, stats(1000, latencies={40.0: 980, 300.0: 5, 2000.0: 15}))
    assert (counts.calls, counts.bad) == (1000, 15)  # a call of exactly the threshold is good
    assert budget.compliance(counts) == pytest.approx(98.5)
    assert budget.burn_rate(objective, counts) == pytest.approx(1.5)


def test_no_calls_spend_nothing():
    counts = budget.tally(AVAIL, stats(0))
    assert budget.compliance(counts) is None
    assert budget.budget_left(AVAIL, counts) == 100.0 and budget.burn_rate(AVAIL, counts) == 0.0


def test_an_alert_needs_both_windows_over_the_threshold():
    assert budget.firing(5.0, 3.0, 2.0)
    assert not budget.firing(9.0, 1.6, 2.0)  # a short spike: the 6-hour window is not burning
    assert not budget.firing(0.0, 4.0, 2.0)  # stopped burning an hour ago: resolved
    assert not budget.firing(2.0, 2.0, 2.0)  # exactly the threshold is not "more than"


def test_webhook_urls_to_private_addresses_need_to_be_listed():
    from devhub.slo.webhooks import WebhookError, check_url

    open_settings = SimpleNamespace(slo_webhook_allowed_hosts=[])
    assert check_url("https://8.8.8.8/hook", open_settings) == "https://8.8.8.8/hook"
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://192.168.1.4/x", "http://[::1]/x"):
        with pytest.raises(WebhookError, match="private address"):
            check_url(url, open_settings)
    listed = SimpleNamespace(slo_webhook_allowed_hosts=["127.0.0.1"])
    assert check_url("http://127.0.0.1:9/x", listed)
    with pytest.raises(WebhookError, match="not in DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS"):
        check_url("https://hooks.example.com/x", listed)
