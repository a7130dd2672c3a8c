"""Publishing API definitions. (Being written: the catalog calls `publish_catalog_definitions`.)"""

from __future__ import annotations

from sqlalchemy.orm import Session


def publish_catalog_definitions(session: Session, written: list) -> None:
    """Publish the definitions of API entities that were added or changed in the catalog."""
