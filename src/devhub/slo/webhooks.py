"""Alert webhooks: a JSON POST, through httpx, to the URL an API's owners set.

The portal posts from inside the network, so a webhook URL could aim at internal services (server-side
request forgery). As for catalog imports: only http and https; when `DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS` is set
only those hosts; loopback, private and link-local addresses only when listed there. The address is checked
when the URL is saved and again before each delivery (a name may have moved). Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from devhub import __version__
from devhub.settings import Settings

MAX_URL = 2048


class WebhookError(ValueError):
    pass


def check_url(url: str, settings: Settings, *, resolve_host: bool = True) -> str:
    """The URL when alerts may be posted to it; WebhookError saying why not otherwise."""
    if len(url) > MAX_URL:
        raise WebhookError(f"a webhook URL is at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not an http or https URL")
    host = parts.hostname.lower()
    allowed = [h.lower() for h in settings.slo_webhook_allowed_hosts]
    if allowed and host not in allowed:
        raise WebhookError(f"{host} is not in DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS")
    if host in allowed:
        return url
    for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80), resolve_host):
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise WebhookError(f"{host} is a private address; list it in DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS to allow it")
    return url


def _addresses(host: str, port: int, resolve_host: bool) -> set[str]:
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return {"127.0.0.1"}
    if not resolve_host:  # a name is checked when delivering: DNS may be down when the owner saves it
        return set()
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, port)}
    except OSError as exc:
        raise WebhookError(f"{host} could not be resolved: {exc}") from None


def post(url: str, payload: dict[str, Any], settings: Settings) -> str:
    """Deliver one alert; returns what happened, for the alert's history (never raises)."""
    try:
        check_url(url, settings)
        response = httpx.post(
            url,
            json=payload,
            headers={"User-Agent": f"devhub/{__version__}", "X-Devhub-Event": payload.get("event", "")},
            timeout=settings.http_timeout_seconds,
            follow_redirects=False,
        )
    except (WebhookError, httpx.HTTPError) as exc:
        return f"not delivered: {exc}"[:1000]
    if response.is_success:
        return f"delivered: HTTP {response.status_code}"
    return f"refused: HTTP {response.status_code}"
