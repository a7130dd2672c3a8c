"""Docs pages and guides. (Being written: the catalog calls `sync_techdocs`.)"""

from __future__ import annotations

from sqlalchemy.orm import Session


def sync_techdocs(session: Session, written: list, gone_refs: list[str]) -> None:
    """Replace the techdocs guides of changed entities; drop those of entities that left the catalog."""
