"""What every self-serve access route needs, as one FastAPI dependency shared by `apps.api` and `apps.views`.

A write there needs the request's session, the settings, the principal and the audit actor: one `Caller`
parameter instead of four on each route. Each part is the same per-request dependency as before (the session
with `scope="function"`, so it commits before the response is sent), and none of them refuses anything: who
may do what is still decided by the service functions the routes call.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends
from sqlalchemy.orm import Session

from devhub.apps import service
from devhub.apps.models import Application, Product
from devhub.audit.service import Actor
from devhub.deps import get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal
from devhub.settings import Settings


@dataclass(frozen=True)
class Caller:
    session: Session
    settings: Settings
    viewer: Principal
    actor: Actor

    def app(self, uid: str) -> Application:
        """An application the caller may act on (404 for someone else's)."""
        return service.get_app(self.session, uid, self.viewer)

    def product(self, slug: str) -> Product:
        """A product the caller may see (404 for one it may not)."""
        return service.get_product(self.session, slug, self.viewer)


def get_caller(
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Caller:
    return Caller(session, settings, viewer, actor)


CALLER = Depends(get_caller)
