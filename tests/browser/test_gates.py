"""The quality gates catch what they promise to: a deliberately broken page fails each of them."""

from __future__ import annotations

from tests.browser.quality import Gates

ORIGIN = "http://portal.test"
BROKEN = """<!doctype html><html><head><title>Broken</title></head><body>
<main>
  <input type="text" onkeydown="if (event.key === 'Tab') event.preventDefault()">
  <a href="/after-the-trap">unreachable by keyboard</a>
  <div style="width: 2000px">too wide</div>
  <img src="https://cdn.elsewhere.test/logo.png" alt="logo">
  <script>console.error("boom")</script>
</main></body></html>"""
CLEAN = """<!doctype html><html lang="en"><head><title>Clean</title></head><body>
<main><h1>Fine</h1><label for="q">Query</label> <input id="q" type="text"> <a href="/next">Next</a></main>
</body></html>"""


def _serve(page, html: str) -> None:
    """The page at a made-up origin, answered in the browser: nothing reaches the network."""
    page.route("**/*", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(f"{ORIGIN}/page")


def test_a_broken_page_fails_every_gate(browser, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    gates = Gates(browser, {ORIGIN}, shots)
    page = browser.pages[0]
    _serve(page, BROKEN)
    gates.check(page, "broken")
    report = "\n".join(gates.failures)
    assert "console error: boom" in report
    assert "request left the portal: GET https://cdn.elsewhere.test/logo.png" in report
    assert "broken @1280px: horizontal overflow" in report and "broken @390px: horizontal overflow" in report
    assert "axe critical label" in report  # the input has no label
    assert "axe serious html-has-lang" in report
    assert 'Tab never reaches 1 of 2 controls: a "unreachable by keyboard"' in report
    assert (shots / "broken-1280.png").stat().st_size > 0 and (shots / "broken-390.png").stat().st_size > 0


def test_a_clean_page_passes(browser, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    gates = Gates(browser, {ORIGIN}, shots)
    page = browser.pages[0]
    _serve(page, CLEAN)
    gates.check(page, "clean", dark=True)
    gates.assert_clean()
    assert sorted(p.name for p in shots.iterdir()) == [
        "clean-1280-dark.png",
        "clean-1280.png",
        "clean-390-dark.png",
        "clean-390.png",
    ]
