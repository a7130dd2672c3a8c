"""How the sandbox knows a call came through the gateway: an HMAC of the caller's identity.

The gateway authenticates the developer's sandbox credential, strips it, and forwards the call to the
portal's `/sandbox/{namespace}/{name}/{version}/...` with `x-devhub-credential` and this signature, keyed
by the portal's secret key (which every portal and gateway process shares). The sandbox keeps state per
credential, so a forged credential header without the signature must not read another developer's data.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-devhub-sandbox-signature"
CREDENTIAL_HEADER = "x-devhub-credential"


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(b"devhub-sandbox:" + secret_key.encode()).digest()


def gateway_signature(secret_key: str, credential: str, api_ref: str, version: str) -> str:
    """Hex HMAC-SHA256 binding a credential to one API version's sandbox."""
    message = f"{credential}\n{api_ref}\n{version}".encode()
    return hmac.new(_key(secret_key), message, hashlib.sha256).hexdigest()


def is_from_gateway(secret_key: str, credential: str, api_ref: str, version: str, signature: str) -> bool:
    expected = gateway_signature(secret_key, credential, api_ref, version)
    return hmac.compare_digest(expected, signature)
