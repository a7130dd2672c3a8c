"""Every domain's tables, imported in one place so `Base.metadata` is complete for Alembic and tests."""

from devhub.catalog import models as catalog_models
from devhub.db import Base
from devhub.docs import models as docs_models
from devhub.search import models as search_models
from devhub.specs import models as specs_models

__all__ = ["Base", "catalog_models", "docs_models", "search_models", "specs_models"]
