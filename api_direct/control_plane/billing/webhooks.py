"""Consumers' alert webhooks: which URLs the control plane will call, and one signed call to one of them.

The control plane calls a URL a consumer typed in, from inside the operator's
account, so a URL must not reach anything a stranger should not (server-side request
forgery): only ``https``, no credentials in the URL, and a host that is a public
name or address. A name is checked again when called: every address it resolves to
must be public (a name may be pointed at ``169.254.169.254`` after it was saved).
Redirects are not followed, and a call gives up after :data:`TIMEOUT_SECONDS`.

``webhooks_allow_loopback`` (``apid sandbox`` and tests, never a deployed stack) also
allows ``http`` and ``https`` to ``localhost``, ``127.0.0.1`` and ``[::1]``, so a
receiver on the same machine can be called.
"""

import http.client
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from api_direct.webhook_signature import SIGNATURE_HEADER, signature_header

#: One try's limit, connecting and reading together: the receiver should answer at once and work later.
TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
USER_AGENT = "API-Direct-Webhooks/1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the receiver's answer (3xx: not delivered), never a second request to wherever it points."""

    def redirect_request(self, *_: Any) -> None:
        return None


#: Standard library only (the control plane's bundle carries no HTTP client); no proxy, no redirects.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class UnsafeUrl(ValueError):
    """A URL the control plane will not call; the message says why, in one sentence."""


def check_url(url: str, *, allow_loopback: bool) -> str:
    """``url`` if the control plane may call it; :class:`UnsafeUrl` otherwise. Resolves no name."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        raise UnsafeUrl("the webhook URL is not a valid URL") from None
    loopback = allow_loopback and host in LOOPBACK_NAMES
    if parts.scheme != "https" and not (loopback and parts.scheme == "http"):
        raise UnsafeUrl("a webhook URL must start with https://")
    if not host:
        raise UnsafeUrl("the webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("a webhook URL may not carry a user name or password; authenticate by its signature")
    if parts.fragment:
        raise UnsafeUrl("a webhook URL may not have a #fragment")
    if loopback:
        return url
    if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        raise UnsafeUrl(f"the webhook's host {host} is not reachable from the internet; use a public host name")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            raise UnsafeUrl(f"the webhook's host {host} is not a public host name") from None
        return url
    if not address.is_global:
        raise UnsafeUrl(f"the webhook's address {host} is private, loopback or reserved; use a public host")
    return url


def check_resolved(url: str, *, allow_loopback: bool) -> None:
    """Every address ``url``'s host resolves to is public (or loopback, where allowed); :class:`UnsafeUrl` if not."""
    host = urlsplit(url).hostname or ""
    if allow_loopback and host.lower() in LOOPBACK_NAMES:
        return
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise UnsafeUrl(f"the webhook's host {host} does not resolve ({error.strerror or error})") from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address.is_global:
            raise UnsafeUrl(f"the webhook's host {host} resolves to {address}, which is not public")


@dataclass(frozen=True)
class Attempt:
    """How one call went: ``ok`` for a 2xx answer; ``status`` is the HTTP status (``None``: no answer)."""

    ok: bool
    status: int | None
    error: str


def post(url: str, event: Mapping[str, Any], secret: str, *, allow_loopback: bool, now: float | None = None) -> Attempt:
    """Send ``event`` as JSON, signed with ``secret``, once. Never raises for the receiver's failures."""
    body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    try:
        check_url(url, allow_loopback=allow_loopback)
        check_resolved(url, allow_loopback=allow_loopback)
    except UnsafeUrl as unsafe:
        return Attempt(False, None, str(unsafe))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, body, int(time.time() if now is None else now)),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, http.client.HTTPException) as error:
        return Attempt(False, None, f"{type(error).__name__}: no answer within {TIMEOUT_SECONDS:g} s or no connection")
    ok = 200 <= status < 300
    return Attempt(ok, status, "" if ok else f"answered HTTP {status}")
