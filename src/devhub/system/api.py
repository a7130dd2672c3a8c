"""Health and version: what load balancers and operators poll."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.orm import Session

from devhub import __version__
from devhub.deps import get_session

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/health", summary="Liveness and database reachability")
def health(session: Session = Depends(get_session, scope="function")) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
