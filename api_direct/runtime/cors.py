"""CORS on a creator's API: the marketplace's console may call it from a browser, and no other site's script may.

The rules follow AWS's for a REST API with a Lambda proxy integration:

* the preflight (``OPTIONS``) is answered by a mock integration on every resource,
  without the key authorizer: a browser sends no ``x-api-key`` on a preflight,
  so the authorizer would refuse it with 401 and the real call would never go;
* the gateway's own rejections (401, 403, 429, and the ``DEFAULT_4XX`` /
  ``DEFAULT_5XX`` rest) carry ``Access-Control-Allow-Origin`` through their
  header mappings, so the console can show why a call failed;
* the function's responses carry them from the app's adapter
  (:func:`~api_direct.runtime.asgi_lambda.with_cors_headers`), as a proxy
  integration passes the function's headers through.

One origin, never ``*``: a console's key is a consumer's money. The construct and
``apid sandbox``'s gateway both read these definitions, the sandbox through the
synthesized template.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit


#: Request headers a preflight admits: the key, JSON bodies, and (``*``, honoured for calls without
#: credentials, which the console's are) the header parameters of any creator's operations.
ALLOW_HEADERS = ("Content-Type", "X-Api-Key", "*")
#: A browser may cache a preflight's answer this long (Chromium caps it at two hours).
MAX_AGE_SECONDS = 600
#: The gateway-response types that get CORS headers besides the ones API-Direct configures itself:
#: every other 4xx and 5xx API Gateway answers (a payload too large, an integration failure).
DEFAULT_RESPONSE_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX")


def origin_of(url: str) -> str:
    """The origin (``scheme://host[:port]``) a browser sends for pages at ``url``; ``ValueError`` if it has none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


def response_headers(origin: str) -> dict[str, str]:
    """What a gateway response adds for ``origin``: who may read it, which headers, and that it varies by origin."""
    from api_direct.runtime.asgi_lambda import CORS_EXPOSE_HEADERS  # here: a CLI reading a state file needs no Mangum

    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": ", ".join(CORS_EXPOSE_HEADERS),
        "Vary": "Origin",
    }


def gateway_mappings(origin: str) -> Mapping[str, str]:
    """:func:`response_headers` as a gateway response's header mappings (static values are quoted)."""
    return {name: f"'{value}'" for name, value in response_headers(origin).items()}
