"""How an alert webhook is signed, and how its receiver checks it: Stripe's scheme, under our header's name.

The control plane sends ``APID-Signature: t=<unix seconds>,v1=<hex>`` where the hex
is HMAC-SHA256, keyed with the endpoint's signing secret (``whsec_...``, shown to the
consumer once), of ``f"{t}.{body}"``: the timestamp is signed with the body, so a
captured request cannot be replayed later than ``tolerance`` allows.

Standard library only, so a consumer's receiver can import :func:`verify` (``pip
install api-direct``) or copy it.
"""

import hashlib
import hmac
import secrets
import time

#: The request header that carries the signature.
SIGNATURE_HEADER = "APID-Signature"
#: Signing secrets start with this, as Stripe's do, so one is recognised in a config file.
SECRET_PREFIX = "whsec_"
#: How old a signature :func:`verify` accepts by default, in seconds (Stripe's default too).
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """The request is not one the control plane signed with this secret (or it is too old)."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    body: bytes, header: str, secret: str, *, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> int:
    """Check a received webhook: ``body`` as received (bytes, before any JSON parsing), the header's value.

    Returns the signed timestamp; raises :class:`SignatureError` if the header is
    malformed, no ``v1`` signature matches, or the timestamp is more than
    ``tolerance`` seconds away from ``now`` (default: the clock). Several ``v1``
    entries are allowed, as while a secret is being rolled.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError(f"{SIGNATURE_HEADER} is not t=<unix seconds>,v1=<hex>")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureError("no signature matches this body and secret")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError(f"the signature's timestamp is more than {tolerance} s away from now")
    return timestamp


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
