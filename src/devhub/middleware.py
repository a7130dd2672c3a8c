"""Per-request plumbing: request ids, the browser cookie behind CSRF tokens, and security headers."""

from __future__ import annotations

import re
import uuid

from fastapi import Request

from devhub.identity.deps import BROWSER_COOKIE

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


async def request_context(request: Request, call_next):
    incoming = request.headers.get("x-request-id", "")
    request.state.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    response = await call_next(request)
    response.headers["X-Request-ID"] = request.state.request_id
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    browser_id = getattr(request.state, "browser_id", None)
    if browser_id:
        settings = request.app.state.settings
        response.set_cookie(
            BROWSER_COOKIE,
            browser_id,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            max_age=30 * 24 * 3600,
        )
    return response
