"""Seed the demo organisation: the catalog files shipped in `demo/data`, imported as one location."""

from __future__ import annotations

from sqlalchemy.orm import Session

from devhub.catalog import service
from devhub.demo import ROOT_CATALOG
from devhub.settings import Settings


def seed(session: Session, settings: Settings) -> service.RefreshReport:
    """Import (or refresh) the demo catalog; running it again changes nothing."""
    _, report = service.register_location(session, settings, str(ROOT_CATALOG), "file", trusted=True)
    return report
