"""Every domain's tables, imported in one place so `Base.metadata` is complete for Alembic and tests."""

from devhub.catalog import models as catalog_models
from devhub.db import Base
from devhub.search import models as search_models

__all__ = ["Base", "catalog_models", "search_models"]
