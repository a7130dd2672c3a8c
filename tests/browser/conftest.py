"""Browser journeys: the real portal and gateway (`devhub demo` in a subprocess, on free ports, with a fresh
SQLite database in a temporary data directory), driven by Debian's chromium through Playwright.

Chromium is never downloaded: the tests use the system's `chromium` (DEVHUB_TEST_CHROMIUM overrides the
path). Without it, or without the playwright package, the tests skip with the reason, except under
`CI=true`, where that is a failure (`.ci/run` installs both).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.browser.quality import Gates
from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "browser-tests"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


def _chromium() -> str:
    path = os.environ.get("DEVHUB_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _unavailable(f"chromium is not installed ({path}); `apt-get install chromium` to run the browser tests")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the portal and its gateway -----------------------------------------------------------------------------


@dataclass
class Portal:
    url: str
    gateway_url: str
    data_dir: Path
    passwords: dict[str, str]  # the demo accounts' passwords (admin@example.com, dev@example.com)

    @property
    def origins(self) -> set[str]:
        return {self.url, self.gateway_url}

    def database(self):
        """The portal's own database and settings, for a journey's seed (close with `.dispose()`)."""
        from devhub.db import Database
        from devhub.settings import Settings

        settings = Settings(
            data_dir=self.data_dir,
            database_url=f"sqlite:///{self.data_dir / 'demo.sqlite3'}",
            secret_key=SECRET_KEY,
        )
        return Database(settings.database_url), settings


def _wait_healthy(process: subprocess.Popen, url: str, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"devhub demo exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"devhub demo did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C as a person would (uvicorn stops, then the gateway child), then a kill of its process group
    (its own session: only what it started) if it hangs or left a child behind."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(5)


def _start_portal() -> tuple[subprocess.Popen, dict]:
    data_dir = Path(tempfile.mkdtemp(prefix="devhub-browser-"))
    port, gateway_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEVHUB_")}
    env.update(
        DEVHUB_DATA_DIR=str(data_dir),
        DEVHUB_BASE_URL=url,
        DEVHUB_GATEWAY_PORT=str(gateway_port),
        DEVHUB_SECRET_KEY=SECRET_KEY,
        DEVHUB_SIGNUP_AUTO_APPROVE="true",  # a portal that lets new developers in at once
        DEVHUB_CATALOG_REFRESH_SECONDS="0",
        DEVHUB_USAGE_ROLLUP_SECONDS="1",  # the usage dashboards catch up within a second
        PYTHONWARNINGS="ignore",
    )
    log = data_dir / "portal.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from devhub.cli import app; app()", "demo", "--port", str(port)],
            cwd=data_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(process, url, log)
    except BaseException:
        _stop(process)
        raise
    return process, {"url": url, "gateway_url": f"http://127.0.0.1:{gateway_port}", "data_dir": str(data_dir)}


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def portal() -> Iterator[Portal]:
    """`devhub demo` on free ports: the portal (uvicorn), its gateway child, the demo organisation.

    One portal serves every xdist worker of a run (starting one costs seconds of both cores): the first
    worker to need it starts it, the others attach, and the starter stops it once no worker uses it."""
    shared = Path(tempfile.gettempdir()) / f"devhub-browser-{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}"
    shared.mkdir(exist_ok=True)
    info, me = shared / "portal.json", shared / f"user-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    process = None
    with _locked(shared):
        if info.exists():
            details = json.loads(info.read_text())
        else:
            process, details = _start_portal()
            info.write_text(json.dumps(details))
        me.touch()
    data_dir = Path(details["data_dir"])
    lines = (data_dir / "demo-credentials.txt").read_text().split("\n")
    passwords = dict(line.split(" ", 1) for line in lines if line)
    try:
        yield Portal(details["url"], details["gateway_url"], data_dir, passwords)
    finally:
        me.unlink(missing_ok=True)
        if process is not None:
            _stop_when_unused(shared, info, process, data_dir)


def _stop_when_unused(shared: Path, info: Path, process: subprocess.Popen, data_dir: Path) -> None:
    deadline = time.monotonic() + 600
    while True:
        with _locked(shared):
            if not any(shared.glob("user-*")) or time.monotonic() > deadline:
                info.unlink(missing_ok=True)  # a worker that comes later starts its own
                break
        time.sleep(0.5)
    _stop(process)
    shutil.rmtree(data_dir, ignore_errors=True)
    if not info.exists():
        shutil.rmtree(shared, ignore_errors=True)


# --- the browser ----------------------------------------------------------------------------------------------


@pytest.fixture
def playwright_instance():
    """Per test, not per session: Playwright's sync API keeps an asyncio loop running on this thread while
    it is started, and the tests that follow on the same xdist worker call `asyncio.run()`."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    executable = _chromium()
    with sync_playwright() as playwright:
        yield playwright, executable


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    folder = Path(os.environ.get("DEVHUB_SCREENSHOTS", REPO / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(playwright_instance, tmp_path: Path):
    """A fresh chromium (its own new user-data directory) per journey: no cookies or cache carried over."""
    playwright, executable = playwright_instance
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=executable,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
        locale="en-GB",
        color_scheme="light",
        service_workers="block",
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def gates(browser, portal: Portal, screenshots_dir: Path) -> Iterator[Gates]:
    """The quality gates, watching every page of this journey's browser; asserts what it saw at the end."""
    watcher = Gates(browser, portal.origins, screenshots_dir)
    yield watcher
    print(f"gates: {watcher.seconds}")
    watcher.assert_clean()


@pytest.fixture
def page(browser, gates):
    return browser.pages[0] if browser.pages else browser.new_page()
