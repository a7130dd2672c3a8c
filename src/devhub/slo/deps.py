"""FastAPI dependencies shared by the SLO JSON routes and pages: the API a route is about, checked once.

Both look the API up before checking the SLO permission, so an API the caller may not see answers 404, as a
missing one, and never says whether it has objectives.
"""

from __future__ import annotations

from fastapi import Depends
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity
from devhub.deps import get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.specs.api import visible_api

SESSION = Depends(get_session, scope="function")


def readable_api(
    namespace: str, name: str, session: Session = SESSION, principal: Principal = Depends(get_principal)
) -> Entity:
    """The API, for someone who may read its SLOs."""
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.read")
    return entity


def managed_api(
    namespace: str, name: str, session: Session = SESSION, principal: Principal = Depends(get_principal)
) -> Entity:
    """The API, for a member of its owner team (`slo.manage`)."""
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.manage", entity.owner_ref)
    return entity
