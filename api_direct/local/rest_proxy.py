"""API Gateway's REST Lambda proxy integration, as AWS documents and runs it: HTTP request to event, result to HTTP.

moto cannot serve a REST API, and what API Gateway does to a request and a
response on the way is where an app that works under uvicorn breaks once
deployed. So the rules are written here once, from AWS's documentation, and
everything local that stands in for the gateway (the sandbox's calls, its
``--keep`` server, the compatibility suite) goes through them:

* **Request bodies** (binary media types): a body whose ``Content-Type`` matches
  the API's ``binaryMediaTypes`` reaches the function base64-encoded with
  ``isBase64Encoded: true``; any other body is passed as UTF-8 text, so bytes that
  are not UTF-8 arrive mangled (what a multipart upload suffers on an API with no
  binary media types).
* **Response bodies**: a result with ``isBase64Encoded: true`` is decoded to bytes
  only when the request's first ``Accept`` media type matches ``binaryMediaTypes``
  (``*/*`` among them matches any, and a request without ``Accept``); otherwise
  the client gets the base64 text. The response's own ``Content-Type`` is not
  consulted.
* **Paths**: ``path``, ``pathParameters`` and ``requestContext.path`` keep
  the percent-encoding the client sent (``/cities/New%20York``), as events
  captured from live REST APIs show; only HTTP APIs decode them. A request
  matches the API's resources (:func:`match_resource`) one segment at a time, a
  literal child before a ``{name}`` one before a greedy ``{name+}``, never
  backing out of a matched resource; ``pathParameters`` names what each
  parameter matched (``{"city": "paris"}``, ``{"proxy": "a/b"}``).
* **Headers and query strings**: ``headers`` and ``queryStringParameters`` hold the
  last value of a repeated name, ``multiValueHeaders`` and
  ``multiValueQueryStringParameters`` every value; both are ``null`` when empty.
  ``Content-Length`` is not passed to the function, nor are the request headers
  AWS's table of dropped headers lists for a Lambda integration (``Connection``,
  ``Expect``, ``TE``, ``WWW-Authenticate`` …). API Gateway adds
  ``X-Forwarded-For``, ``X-Forwarded-Proto``, ``X-Forwarded-Port`` and
  ``X-Amzn-Trace-Id``. A result's ``headers`` and ``multiValueHeaders`` are
  merged, a name in both taking only the ``multiValueHeaders`` values; a result
  without ``Content-Type`` is sent as ``application/json``. Of the result's
  headers, those the same table says are dropped (``Transfer-Encoding``,
  ``Upgrade``, ``Via`` …) are, and those it remaps reach the client renamed
  ``X-Amzn-Remapped-<name>`` (``WWW-Authenticate``, ``Authorization``,
  ``Connection``, ``User-Agent`` …; ``Date`` and ``Server`` too, API Gateway then
  writing its own, which this model does not).
* **Limits**: a request payload over 10 MB is refused (413) before the function
  runs; a function result over Lambda's 6 MB synchronous response limit, or a
  function error, is a 502 ``Internal server error``. A ``HEAD`` response carries
  no body.

What is not modelled: the integration timeout (29 s), throttling, TLS, HTTP/2,
the CloudFront-style capitalisation of a few header names, which HTTP (and
ASGI) treat as case-insensitive anyway, Lambda's own 6 MB limit on the event
(a body base64-encoded in it grows by a third), and the bytes API Gateway
writes for a header value outside ASCII (here the characters pass unchanged).
"""

import base64
import json
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from api_direct.runtime.asgi_lambda import BINARY_MEDIA_TYPES

#: API Gateway's maximum request payload for a REST API.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Lambda's maximum response to a synchronous invocation: the JSON result, base64 body included.
MAX_RESULT_BYTES = 6 * 1024 * 1024
#: What API Gateway answers when the function failed or its result could not be used.
INTEGRATION_FAILED = (502, b'{"message": "Internal server error"}')
REQUEST_TOO_LARGE = (413, b'{"message":"Request Too Long"}')
#: API Gateway's table of headers it drops or remaps, the Lambda integration's column
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html).
#: Request headers it does not pass to the function; ``Content-Length`` is listed as passed
#: through, yet proxy events arrive without it.
_NOT_FORWARDED = frozenset(
    {
        "content-length",
        "connection",
        "content-md5",
        "expect",
        "max-forwards",
        "proxy-authenticate",
        "server",
        "te",
        "trailer",
        "upgrade",
        "www-authenticate",
    }
)
#: Response headers it drops from the function's result.
DROPPED_RESPONSE_HEADERS = frozenset(
    {"expect", "host", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade", "via"}
)
#: Response headers it renames ``X-Amzn-Remapped-<name>``, value unchanged.
REMAPPED_RESPONSE_HEADERS = frozenset(
    {"authorization", "connection", "content-md5", "date", "max-forwards", "server", "user-agent", "www-authenticate"}
)


@dataclass(frozen=True)
class HttpRequest:
    """A request as a client sends it to the stage's URL; ``path`` is below the stage, percent-encoded as sent."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (names are case-insensitive)."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass(frozen=True)
class HttpResponse:
    """What the client receives: status, headers in order (repeated ones repeated) and body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass(frozen=True)
class RestProxy:
    """One deployed stage's proxy integration: what shapes its events and responses."""

    stage: str
    rest_api_id: str = "local"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES
    #: The host clients call; the execute-api domain unless a custom domain is modelled.
    domain_name: str = field(default="")
    #: The path clients put before the app's paths: ``/<stage>`` on the execute-api domain.
    base_path: str | None = None

    @property
    def host(self) -> str:
        return self.domain_name or f"{self.rest_api_id}.execute-api.{self.region}.amazonaws.com"

    @property
    def prefix(self) -> str:
        return f"/{self.stage}" if self.base_path is None else self.base_path

    def event(
        self,
        request: HttpRequest,
        *,
        source_ip: str = "127.0.0.1",
        request_id: str | None = None,
        authorizer: Mapping[str, Any] | None = None,
        resource: str | None = None,
    ) -> dict[str, Any]:
        """The event the function receives for ``request``, as API Gateway builds it for
        ``ANY /{proxy+}`` (or ``/``), or for the ``resource`` that matched it (:func:`match_resource`)."""
        path = request.path or "/"
        resource = resource or ("/" if path == "/" else "/{proxy+}")
        request_id = request_id or str(uuid.uuid4())
        sent = [(name, value) for name, value in request.headers if name.lower() not in _NOT_FORWARDED]
        if not any(name.lower() == "host" for name, _ in sent):
            sent.insert(0, ("Host", self.host))
        sent += [
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-Proto", "https"),
        ]
        query = parse_qsl(request.query, keep_blank_values=True)
        body, encoded = self._request_body(request)
        context: dict[str, Any] = {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": f"{self.prefix}{path}",
            "stage": self.stage,
            "requestId": request_id,
            "apiId": self.rest_api_id,
            "accountId": self.account_id,
            "domainName": self.host,
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": request.header("user-agent")},
        }
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        return {
            "resource": resource,
            "path": path,
            "httpMethod": request.method,
            "headers": _last_values(sent),
            "multiValueHeaders": _all_values(sent),
            "queryStringParameters": _last_values(query),
            "multiValueQueryStringParameters": _all_values(query),
            "pathParameters": path_parameters(resource, path),
            "stageVariables": None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": encoded,
        }

    def response(self, request: HttpRequest, result: Any) -> HttpResponse:
        """What the client gets for the function's ``result``: headers merged and remapped, a binary body decoded."""
        if not isinstance(result, Mapping) or len(json.dumps(result).encode()) > MAX_RESULT_BYTES:
            return failed(*INTEGRATION_FAILED)
        merged: dict[str, list[str]] = {name: [str(value)] for name, value in (result.get("headers") or {}).items()}
        lowered = {name.lower(): name for name in merged}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            merged.pop(lowered.get(name.lower(), name), None)
            merged[name] = [str(value) for value in values]
        if not any(name.lower() == "content-type" for name in merged):
            merged["Content-Type"] = ["application/json"]
        for name in list(merged):
            if name.lower() in DROPPED_RESPONSE_HEADERS:
                del merged[name]
            elif name.lower() in REMAPPED_RESPONSE_HEADERS:
                merged[f"x-amzn-Remapped-{name}"] = merged.pop(name)
        body = result.get("body") or ""
        if result.get("isBase64Encoded") and media_type_matches(request.header("accept"), self.binary_media_types):
            content = base64.b64decode(body)
        else:
            content = body.encode()
        if request.method == "HEAD":
            content = b""
        headers = tuple((name, value) for name, values in merged.items() for value in values)
        return HttpResponse(int(result.get("statusCode") or 200), headers, content)

    def _request_body(self, request: HttpRequest) -> tuple[str | None, bool]:
        if not request.body:
            return None, False
        if media_type_matches(request.header("content-type"), self.binary_media_types):
            return base64.b64encode(request.body).decode(), True
        return request.body.decode("utf-8", errors="replace"), False


def match_resource(resources: Collection[str], path: str) -> str | None:
    """The resource of ``resources`` (full paths: ``/``, ``/forecast/{city}``, ``/{proxy+}``) API Gateway
    matches ``path`` to, or ``None`` (API Gateway's 403 ``Missing Authentication Token``)."""
    children: dict[str, list[str]] = {}
    for resource in resources:
        if resource != "/":
            parent, _, part = resource.rpartition("/")
            children.setdefault(parent or "/", []).append(part)
    current = "/"
    segments = [segment for segment in path.split("/") if segment]
    for index, segment in enumerate(segments):
        parts = children.get(current, [])
        literal = segment if segment in parts else None
        parameter = next((p for p in parts if p.startswith("{") and not p.endswith("+}")), None)
        greedy = next((p for p in parts if p.endswith("+}")), None)
        if literal is None and parameter is None and greedy is not None:
            return _join(current, greedy)
        step = literal or parameter
        if step is None:
            return None
        current = _join(current, step)
        if index == len(segments) - 1:
            return current
    return current


def path_parameters(resource: str, path: str) -> dict[str, str] | None:
    """What each ``{name}`` of ``resource`` matched in ``path`` (a greedy ``{name+}`` the rest); ``None`` if none."""
    segments = path.lstrip("/").split("/")
    found: dict[str, str] = {}
    for index, part in enumerate(resource.lstrip("/").split("/")):
        if part.endswith("+}"):
            found[part[1:-2]] = "/".join(segments[index:])
        elif part.startswith("{"):
            found[part[1:-1]] = segments[index]
    return found or None


def _join(parent: str, part: str) -> str:
    return f"{parent.rstrip('/')}/{part}"


def failed(status: int, body: bytes) -> HttpResponse:
    """A response API Gateway makes itself (not the function's), in its JSON error shape."""
    return HttpResponse(status, (("Content-Type", "application/json"),), body)


def too_large(request: HttpRequest) -> HttpResponse | None:
    """API Gateway's refusal of a request payload over its limit, or None."""
    return failed(*REQUEST_TOO_LARGE) if len(request.body) > MAX_REQUEST_BYTES else None


def media_type_matches(header: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a ``Content-Type`` (or the first ``Accept`` type) is one of ``binary_media_types``.

    ``*/*`` matches anything, an absent header included; ``image/*`` any image type;
    otherwise type and subtype must be equal, parameters ignored.
    """
    if "*/*" in binary_media_types:
        return True
    if not header:
        return False
    kind, _, subtype = header.split(",")[0].split(";")[0].strip().lower().partition("/")
    for allowed in binary_media_types:
        allowed_kind, _, allowed_subtype = allowed.lower().partition("/")
        if allowed_kind == kind and allowed_subtype in ("*", subtype):
            return True
    return False


def binary_media_types_of(template_value: Sequence[str] | None) -> tuple[str, ...]:
    """``BinaryMediaTypes`` as CloudFormation holds it (``/`` escaped as ``~1``), as API Gateway reads it."""
    return tuple(value.replace("~1", "/") for value in template_value or ())


def _last_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str] | None:
    return {name: value for name, value in pairs} or None


def _all_values(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]] | None:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped or None
