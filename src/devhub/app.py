"""The portal's ASGI application: routers of every domain, static files, error handlers, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
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


def create_app(settings: Settings | None = None, *, run_background_tasks: bool = True) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings.resolved_database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task] = []
        if run_background_tasks:
            from devhub.catalog.tasks import refresh_loop
            from devhub.governance.tasks import notices_loop

            tasks.append(asyncio.create_task(refresh_loop(database, settings)))
            tasks.append(asyncio.create_task(notices_loop(database, settings)))
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


def _include_routers(app: FastAPI) -> None:
    from devhub.apps import api as apps_api
    from devhub.apps import oauth_api
    from devhub.catalog import api as catalog_api
    from devhub.catalog import views as catalog_views
    from devhub.docs import api as docs_api
    from devhub.docs import guide_views
    from devhub.docs import views as docs_views
    from devhub.governance import api as governance_api
    from devhub.governance import views as governance_views
    from devhub.identity import api as identity_api
    from devhub.identity import oidc, scim
    from devhub.identity import views as identity_views
    from devhub.notify import api as notify_api
    from devhub.search import api as search_api
    from devhub.search import views as search_views
    from devhub.specs import api as specs_api
    from devhub.specs import views as specs_views
    from devhub.system import api as system_api

    api_routers = (system_api, identity_api, scim, catalog_api, specs_api, docs_api, search_api)
    page_routers = (identity_views, oidc, catalog_views, specs_views, docs_views, guide_views, search_views)
    api_routers = (*api_routers, governance_api, apps_api, oauth_api, notify_api)
    page_routers = (*page_routers, governance_views)
    from devhub.apps import views as apps_views
    from devhub.notify import views as notify_views

    page_routers = (*page_routers, apps_views, notify_views)
    for module in (*api_routers, *page_routers):
        app.include_router(module.router)
