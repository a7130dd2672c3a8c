"""The portal's ASGI application: routers of every domain, static files, error handlers, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from devhub import __version__
from devhub.db import Database
from devhub.identity.deps import csrf_protect, get_principal
from devhub.middleware import request_context
from devhub.problems import install_handlers
from devhub.settings import Settings, get_settings
from devhub.web import PACKAGE_DIR

API_DESCRIPTION = (
    "The devhub portal's REST API: everything the pages do. Errors are RFC 9457 problem documents; "
    "lists paginate with `page` and `size`."
)

# Coroutines `loop(database, settings)` every portal process runs in the background; one per line.
BACKGROUND_LOOPS = (
    "devhub.catalog.tasks:refresh_loop",
    "devhub.governance.tasks:notices_loop",
    "devhub.analytics.tasks:rollup_loop",
    "devhub.slo.tasks:evaluate_loop",
)


def create_app(settings: Settings | None = None, *, run_background_tasks: bool = True) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings.resolved_database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task] = []
        if run_background_tasks:
            for name in BACKGROUND_LOOPS:
                module, function = name.split(":")
                loop = getattr(importlib.import_module(module), function)
                tasks.append(asyncio.create_task(loop(database, settings)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            database.dispose()

    app = FastAPI(
        title="devhub",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_protect), Depends(get_principal)],
    )
    app.state.settings = settings
    app.state.db = database
    install_handlers(app)
    app.middleware("http")(request_context)
    # Holds only the short-lived state, nonce and PKCE verifier of a single sign-on round trip.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key,
        session_cookie="devhub_sso",
        max_age=600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    _include_routers(app)
    return app


# The modules whose `router` the portal includes, JSON API first, then pages; one per line.
ROUTER_MODULES = (
    "devhub.system.api",
    "devhub.identity.api",
    "devhub.identity.scim",
    "devhub.catalog.api",
    "devhub.specs.api",
    "devhub.docs.api",
    "devhub.search.api",
    "devhub.governance.api",
    "devhub.apps.api",
    "devhub.apps.oauth_api",
    "devhub.notify.api",
    "devhub.console.api",
    "devhub.analytics.api",
    "devhub.slo.api",
    "devhub.sandbox.api",
    "devhub.identity.views",
    "devhub.identity.oidc",
    "devhub.catalog.views",
    "devhub.specs.views",
    "devhub.docs.views",
    "devhub.docs.guide_views",
    "devhub.search.views",
    "devhub.governance.views",
    "devhub.apps.views",
    "devhub.notify.views",
    "devhub.console.views",
    "devhub.analytics.views",
    "devhub.slo.views",
    "devhub.sandbox.views",
)


def _include_routers(app: FastAPI) -> None:
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
