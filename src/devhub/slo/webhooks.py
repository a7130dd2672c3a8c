"""Alert webhooks: a JSON POST, through httpx, to the URL an API's owners set, signed following the Standard
Webhooks specification (https://www.standardwebhooks.com/, "Signature scheme").

Each delivery carries `webhook-id` (the message: the same on every retry, so receivers can drop repeats),
`webhook-timestamp` (seconds since the epoch, of this attempt: receivers refuse stale ones to stop replays) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64-decoded part
of the objective's secret `whsec_<base64>`. After a rotation the header carries two signatures, space-separated
(`v1,<new> v1,<previous>`, as the specification allows), until the previous secret's grace ends
(`DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS`): a receiver needs one match, so one not yet given the new secret keeps
verifying. The `standardwebhooks` package is not installed with the portal,
and signing is one HMAC, not worth a dependency: it is written here with `hmac` and `hashlib` (receivers may
use that package, or Svix's, to verify). The body is serialised once and those exact bytes are signed and sent.

Secrets are kept encrypted with the Fernet key the portal derives from its secret key for its OAuth signing
keys (`devhub.apps.oauth._fernet`): unlike API keys they cannot be stored as a hash, since signing needs them.

The portal posts from inside the network, so a webhook URL could aim at internal services (server-side
request forgery). As for catalog imports: only http and https; when `DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS` is set
only those hosts; loopback, private and link-local addresses only when listed there. The address is checked
when the URL is saved and again before each delivery (a name may have moved). Redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import InvalidToken

from devhub import __version__
from devhub.apps.oauth import _fernet
from devhub.settings import Settings

MAX_URL = 2048
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes


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


# --- Signing ----------------------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret, as shown to the owners: `whsec_` and the base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A `webhook-id`: unique per message, kept by all the attempts to deliver it."""
    return f"msg_{secrets.token_urlsafe(18)}"


def encrypt_secret(secret: str, settings: Settings) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def decrypt_secret(encrypted: str, settings: Settings) -> str:
    """The secret in clear; WebhookError when it cannot be decrypted (the portal's secret key changed)."""
    try:
        return _fernet(settings).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise WebhookError(
            "the signing secret cannot be decrypted (was the portal's secret key changed?); rotate it"
        ) from None


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# --- Delivery ---------------------------------------------------------------------------------------------


def post(
    url: str, payload: dict[str, Any], settings: Settings, *, message_id: str, signing_secrets: Sequence[str] = ()
) -> str:
    """Deliver one alert, signed with each of `signing_secrets` (the current one, then the previous one during a
    rotation's grace; unsigned without any: a webhook saved before signing existed); returns what happened, for
    the alert's history (never raises, never mentions a secret)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "User-Agent": f"devhub/{__version__}",
        "Content-Type": "application/json",
        "X-Devhub-Event": payload.get("event", ""),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
    }
    if signing_secrets:
        signatures = (signature(secret, message_id, timestamp, body) for secret in signing_secrets)
        headers["webhook-signature"] = " ".join(signatures)
    try:
        check_url(url, settings)
        response = httpx.post(
            url, content=body, headers=headers, timeout=settings.http_timeout_seconds, follow_redirects=False
        )
    except (WebhookError, httpx.HTTPError) as exc:
        return f"not delivered: {exc}"[:1000]
    if response.is_success:
        return f"delivered: HTTP {response.status_code}"
    return f"refused: HTTP {response.status_code}"
