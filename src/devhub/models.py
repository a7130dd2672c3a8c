"""Every domain's tables, imported in one place so `Base.metadata` is complete for Alembic and tests."""

from devhub.analytics import models as analytics_models
from devhub.apps import models as apps_models
from devhub.audit import models as audit_models
from devhub.catalog import models as catalog_models
from devhub.db import Base
from devhub.docs import models as docs_models
from devhub.gateway import models as gateway_models
from devhub.governance import models as governance_models
from devhub.identity import models as identity_models
from devhub.mail import models as mail_models
from devhub.notify import models as notify_models
from devhub.sandbox import models as sandbox_models
from devhub.search import models as search_models
from devhub.slo import models as slo_models
from devhub.specs import models as specs_models

__all__ = [
    "Base",
    "analytics_models",
    "apps_models",
    "audit_models",
    "catalog_models",
    "docs_models",
    "gateway_models",
    "governance_models",
    "identity_models",
    "mail_models",
    "notify_models",
    "sandbox_models",
    "search_models",
    "slo_models",
    "specs_models",
]
