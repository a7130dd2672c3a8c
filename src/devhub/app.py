"""The portal's ASGI application: routers of every domain, static files, error handlers, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from devhub import __version__
from devhub.db import Database
from devhub.problems import install_handlers
from devhub.settings import Settings, get_settings
from devhub.web import PACKAGE_DIR

API_DESCRIPTION = (
    "The devhub portal's REST API: everything the pages do. Errors are RFC 9457 problem documents; "
    "lists paginate with `page` and `size`."
)


def create_app(settings: Settings | None = None, *, run_background_tasks: bool = True) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings.resolved_database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task] = []
        if run_background_tasks:
            from devhub.catalog.tasks import refresh_loop

            tasks.append(asyncio.create_task(refresh_loop(database, settings)))
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
    )
    app.state.settings = settings
    app.state.db = database
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from devhub.catalog import api as catalog_api
    from devhub.catalog import views as catalog_views
    from devhub.docs import api as docs_api
    from devhub.docs import guide_views
    from devhub.docs import views as docs_views
    from devhub.search import api as search_api
    from devhub.search import views as search_views
    from devhub.specs import api as specs_api
    from devhub.specs import views as specs_views
    from devhub.system import api as system_api

    for router in (system_api.router, catalog_api.router, specs_api.router, docs_api.router, search_api.router):
        app.include_router(router)
    for router in (
        catalog_views.router,
        specs_views.router,
        docs_views.router,
        guide_views.router,
        search_views.router,
    ):
        app.include_router(router)
