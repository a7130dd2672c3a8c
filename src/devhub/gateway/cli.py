"""`devhub gateway`: run the data plane on its own port; and the child process `serve`/`demo` start."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Annotated

import typer

from devhub.settings import Settings, get_settings


def _run(settings: Settings, host: str, port: int, workers: int) -> None:
    from devhub.gateway import server

    server.run(settings, host, port, workers)


def gateway(
    host: Annotated[str | None, typer.Option(help="Interface (default DEVHUB_GATEWAY_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default DEVHUB_GATEWAY_PORT or 8080).")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes sharing the port (default 1).")] = None,
) -> None:
    """Run the gateway: proxy each product's routes to its upstreams, enforcing keys, plans and limits."""
    from devhub.db import Database

    settings = get_settings()
    database = Database(settings.resolved_database_url)
    database.upgrade()
    database.dispose()
    _run(
        settings,
        host or settings.gateway_host,
        settings.gateway_port if port is None else port,
        workers or settings.gateway_workers,
    )


def start_child(settings: Settings) -> multiprocessing.Process:
    """The gateway as a child of `devhub serve`/`demo`, on the settings' gateway port."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_run,
        args=(settings, settings.gateway_host, settings.gateway_port, settings.gateway_workers),
        name="devhub-gateway",
    )
    process.start()
    return process


def stop_child(process: multiprocessing.Process, timeout: float = 15.0) -> None:
    """Graceful stop (SIGTERM: in-flight calls answered, metering flushed), then a kill if it hangs."""
    if process.is_alive():
        os.kill(process.pid, signal.SIGTERM)
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(5)


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway)
