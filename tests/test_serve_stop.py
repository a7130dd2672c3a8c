"""`devhub serve` stopped with SIGTERM (as systemd, Docker or Kubernetes stop it) stops its gateway too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, seconds: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process.poll() is not None:
            raise AssertionError(f"devhub serve exited early: {process.stdout.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False


def test_sigterm_stops_the_portal_and_its_gateway(tmp_path):
    portal, gateway = _free_port(), _free_port()
    env = {
        **os.environ,
        "DEVHUB_DATA_DIR": str(tmp_path),
        "DEVHUB_GATEWAY_PORT": str(gateway),
        "DEVHUB_BASE_URL": f"http://127.0.0.1:{portal}",
    }
    env.pop("DEVHUB_DATABASE_URL", None)
    command = [sys.executable, "-c", "from devhub.cli import app; app()", "serve", "--port", str(portal)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_until(lambda: _answers(f"http://127.0.0.1:{portal}/api/v1/health"), 60, "the portal is up", process)
        _wait_until(lambda: _answers(f"http://127.0.0.1:{gateway}/healthz"), 60, "the gateway is up", process)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert not _answers(f"http://127.0.0.1:{gateway}/healthz"), "the gateway outlived devhub serve"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
