"""Where the gateway serves an API version, for whoever builds URLs to it (the try-it console, pages).

The gateway's own matching is `snapshot.Snapshot.route_for`; this module answers the portal-side question
with the ORM: under which path prefix does the gateway serve the spec paths of this API version of this
product. Keep both in step when routing changes.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from devhub.apps.models import Product
from devhub.problems import NotFound


def gateway_base_path(session: Session, product_id: int, api_ref: str, version: str) -> str:
    """The path prefix (no trailing slash) under which the gateway serves `api_ref` at `version` within the
    product: a spec path `/charges` is called at `gateway_base_path(...) + "/charges"`."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    return product.gateway_path
