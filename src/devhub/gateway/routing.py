"""Where the gateway serves an API version, for whoever builds URLs to it (the try-it console, pages).

The gateway's own matching is `snapshot.Snapshot.route_for`; this module answers the portal-side question
with the ORM: under which path prefix does the gateway serve the spec paths of this API version of this
product. Keep both in step when routing changes:

- a product's API entry with a path segment (`v1`) is served at `<product prefix>/v1`, and only its own
  operations match there;
- an entry without one is served at the product's prefix itself;
- an entry pinned to a version serves that version; an unpinned one the newest published version.

Host names routed to a product serve the same paths with the product's prefix optional; the prefix is
returned here because it works with or without a host.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from devhub.apps.models import Product, ProductApi
from devhub.apps.service import api_prefix
from devhub.problems import NotFound


def gateway_base_path(session: Session, product_id: int, api_ref: str, version: str) -> str:
    """The path prefix (no trailing slash) under which the gateway serves `api_ref` at `version` within the
    product: a spec path `/charges` is called at `gateway_base_path(...) + "/charges"`. The entry pinned to
    that version wins over an unpinned one (which serves the newest); the product's prefix when the product
    does not offer the API."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    entry = _entry(product.apis, api_ref, version)
    return api_prefix(product, entry) if entry is not None else product.gateway_path


def _entry(entries: list[ProductApi], api_ref: str, version: str) -> ProductApi | None:
    offered = [entry for entry in entries if entry.api_ref == api_ref]
    pinned = next((entry for entry in offered if entry.version == version), None)
    return pinned or next((entry for entry in offered if entry.version is None), None)
