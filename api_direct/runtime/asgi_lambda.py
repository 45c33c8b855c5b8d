"""The creator's ASGI app as a Lambda handler behind an API Gateway REST proxy, answering as uvicorn would.

This module is copied into every creator's bundle (as ``apid_asgi.py``) and
imports nothing but the standard library and Mangum, which the bundle carries.
Mangum does the HTTP cycle; this adds what a FastAPI app served by uvicorn can
count on and Mangum alone does not give it in Lambda:

* **Lifespan once per container.** Mangum would run the app's ``lifespan``
  startup and shutdown around every invocation (or, with ``lifespan="off"``,
  never). Here startup runs once, when Lambda loads the handler (its init
  phase), on an event loop kept for the container's life, so a pool or client
  made at startup is bound to the loop every later request runs on, and the
  state the lifespan yields reaches each request as ``request.state``, copied as
  uvicorn copies it. A startup that fails is logged with its traceback, and each
  request is answered 500 with a JSON body while startup is tried again, as
  Lambda itself retries a failed init. Shutdown runs only when the process
  exits normally, which a Lambda container never does (Lambda freezes and
  discards it without notice to the runtime).
* **The stage prefix.** Behind ``https://<id>.execute-api.<region>.amazonaws.com/v1``
  the event's ``path`` lacks ``/v1`` while ``requestContext.path`` has it; the
  difference is the app's ``root_path``, so ``/docs``, ``url_for``, redirects
  and OpenAPI ``servers`` carry it, as behind a proxy that strips a prefix with
  uvicorn's ``--root-path``. On a custom domain without a base path, it is empty.
  Both paths arrive percent-encoded as the client sent them: ``path`` in the
  scope is decoded once, ``raw_path`` keeps the encoding (stage included, as
  uvicorn's does).
* **Requests as sent.** A repeated header stays repeated (Mangum joins the
  values into one), each query value keeps its key, and the scheme, host and
  port come from the ``X-Forwarded-*`` headers API Gateway adds.
* **Response headers as written.** A header value outside ASCII reaches API
  Gateway with the characters the app wrote (Mangum would fail the invocation).
* **The consumer's limits on every response.** ``RateLimit-Policy`` and
  ``RateLimit`` (IETF draft-ietf-httpapi-ratelimit-headers) from what the key
  authorizer put in the request's context (:func:`with_limit_headers`), unless
  the app set a header of that name itself.
* **CORS for the marketplace's console.** When ``APID_CORS_ORIGIN`` names an
  origin and the request comes from it, the response allows that origin to read
  it, the limit headers included (:func:`with_cors_headers`), unless the app
  answers CORS itself.
* **Secrets as environment variables.** :class:`ParameterSecrets` reads the
  stage's SecureString parameters (one path, decrypted) and sets each as
  ``os.environ[NAME]``; the generated handler does it before it imports the app,
  so an app that reads one at import finds it. A failed read is logged (the
  path and AWS's error, never a value) and fails the startup as a failed
  lifespan does: each request answers 500 while the read is tried again.

Bodies: every request body arrives base64-encoded, because the REST API's
``binaryMediaTypes`` is ``*/*`` (:data:`BINARY_MEDIA_TYPES`); Mangum decodes it.
A response whose type is not in :data:`TEXT_MEDIA_TYPES` (or that is not valid
UTF-8, or is gzip-encoded) is returned base64-encoded, and API Gateway, whose
binary media types match every ``Accept``, turns it back into the same bytes.
"""

import asyncio
import atexit
import json
import logging
import os
import time
from typing import Any
from urllib.parse import unquote, urlencode

from mangum import Mangum
from mangum.handlers import APIGateway
from mangum.protocols import LifespanCycle
from mangum.types import LambdaConfig, LambdaContext, LambdaEvent, Response, Scope

#: The REST API's binaryMediaTypes, as API Gateway reads them (CloudFormation escapes ``/`` as ``~1``).
BINARY_MEDIA_TYPES = ("*/*",)
#: Response types returned to API Gateway as text; every other body travels base64-encoded.
TEXT_MEDIA_TYPES = [
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/vnd.api+json",
    "application/vnd.oai.openapi",
    "application/problem+json",
    "+json",
    "+xml",
]
#: What a request gets while the app's startup fails, in API Gateway's own error shape.
STARTUP_FAILED = {"message": "Internal server error: the API failed to start"}

logger = logging.getLogger("apid.asgi")

#: The key authorizer's context names for the limit headers (those of ``api_direct.runtime.limit_headers``,
#: which this module cannot import: it ships alone in a creator's bundle; a test holds the two equal).
POLICY_CONTEXT, REMAINING_CONTEXT, RESET_EPOCH_CONTEXT = "rateLimitPolicy", "rateLimit", "quotaResetEpoch"
#: The authorizer's context names for a cap's answer: its message, status (402, or 429 for a quota) and
#: ``Retry-After`` (``gateway_responses.PAYMENT_REQUIRED_CONTEXT`` and the two beside it; a test holds them equal).
PAYMENT_REQUIRED_CONTEXT, CAP_STATUS_CONTEXT, CAP_RETRY_AFTER_CONTEXT = "paymentRequired", "capStatus", "capRetryAfter"
#: The problem document's title of each status a cap is answered with.
CAP_TITLES = {402: "Payment Required", 429: "Too Many Requests"}
#: The one browser origin (the marketplace's) that may read this API's responses; the stack sets it
#: together with the gateway's own CORS rules (``api_direct.runtime.cors``). Unset: no CORS headers.
CORS_ORIGIN_ENV = "APID_CORS_ORIGIN"
#: Response headers a script may read besides the CORS-safelisted ones: the consumer's limits.
CORS_EXPOSE_HEADERS = ("RateLimit-Policy", "RateLimit", "Retry-After")
#: The event the API's MCP function invokes the app with directly (never one API Gateway sends): answered with
#: ``{"openapi": <the app's OpenAPI document>}``, the operations it offers as tools.
OPENAPI_REQUEST = {"apid": "openapi"}


def stage_prefix(event: LambdaEvent) -> str:
    """The part of the URL path before the app's own path: ``/v1`` on the execute-api domain, ``""`` on a bare domain.

    ``requestContext.path`` is the path the client asked for (stage or base path
    included); ``path`` is what the proxy resource matched, without it.
    """
    path = event.get("path") or "/"
    full = (event.get("requestContext") or {}).get("path") or path
    if full.endswith(path):
        return full[: len(full) - len(path)].rstrip("/")
    if path == "/":
        return full.rstrip("/")
    return ""


class RestApiProxy(APIGateway):
    """Mangum's REST proxy handler, with the request scope uvicorn would have built."""

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        return "resource" in event and "httpMethod" in event and "requestContext" in event

    @property
    def scope(self) -> Scope:
        scope = super().scope
        headers = _request_headers(self.event)
        root_path = stage_prefix(self.event)
        sent = self.event.get("path") or "/"
        scope.update(
            headers=[[name.encode("latin-1"), _header_bytes(value)] for name, value in headers],
            root_path=root_path,
            path=root_path + unquote(sent),
            raw_path=(root_path + sent).encode(),
            query_string=_query_string(self.event),
            scheme=_first(headers, "x-forwarded-proto") or "https",
            server=_server(headers),
        )
        return scope

    def __call__(self, response: Response) -> dict[str, Any]:
        """The result for API Gateway, header values read as latin-1 as the app encoded them.

        Mangum decodes them as UTF-8, so one ``é`` (Starlette writes it as the
        latin-1 byte uvicorn sends) made the invocation fail, and API Gateway answer 502.
        """
        headers = [[name, value.decode("latin-1").encode()] for name, value in response["headers"]]
        return super().__call__({**response, "headers": headers})


def with_limit_headers(result: dict[str, Any], event: LambdaEvent, now: float) -> dict[str, Any]:
    """``result`` with the consumer's ``RateLimit-Policy`` and ``RateLimit``, from the authorizer's context.

    The context was cached with the authorizer's decision, so it holds the quota's
    reset as an absolute time and ``t`` is counted from ``now``, when the response
    leaves: exact however old the decision. The remaining count ``r`` is as old as
    the decision, which is what the docs promise and no more; once the reset has
    passed (a decision cached over midnight on the 1st) it is last month's, and no
    ``RateLimit`` is sent until a fresh decision brings a count. A header the app set
    itself is kept and ours dropped: an app that limits more finely knows better.
    Without an authorizer context (a test, the control plane's own API) nothing is added.
    """
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    added: dict[str, str] = {}
    if context.get(POLICY_CONTEXT):
        added["RateLimit-Policy"] = context[POLICY_CONTEXT]
    reset_in = int(context.get(RESET_EPOCH_CONTEXT) or 0) - int(now)
    if context.get(REMAINING_CONTEXT) and reset_in > 0:
        added["RateLimit"] = f"{context[REMAINING_CONTEXT]};t={reset_in}"
    set_by_app = {name.lower() for part in ("headers", "multiValueHeaders") for name in result.get(part) or {}}
    kept = {name: value for name, value in added.items() if name.lower() not in set_by_app}
    return {**result, "headers": {**(result.get("headers") or {}), **kept}} if kept else result


def payment_required(event: LambdaEvent) -> dict[str, Any] | None:
    """The answer for a caller a cap holds: 402 (spend cap, used-up credit) or 429 (quota); ``None`` for the rest.

    API Gateway's authorizer can only allow or deny (401/403), so it allows such a
    caller with the reason in its context, and this answers before the app runs:
    the creator's code never serves a call nobody will pay for. The body is
    ``application/problem+json`` (RFC 9457), like the control plane's errors; a
    429 carries ``Retry-After`` (when the quota's month ends). A context without a
    status (an authorizer from before quota caps) means 402.
    """
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    message = context.get(PAYMENT_REQUIRED_CONTEXT)
    if not message:
        return None
    status = 429 if str(context.get(CAP_STATUS_CONTEXT)) == "429" else 402
    problem = {"type": "about:blank", "title": CAP_TITLES[status], "status": status, "detail": message}
    headers = {"content-type": "application/problem+json"}
    if status == 429 and context.get(CAP_RETRY_AFTER_CONTEXT):
        headers["Retry-After"] = context[CAP_RETRY_AFTER_CONTEXT]
    return {"statusCode": status, "headers": headers, "body": json.dumps(problem), "isBase64Encoded": False}


def with_cors_headers(result: dict[str, Any], event: LambdaEvent, allowed_origin: str | None) -> dict[str, Any]:
    """``result`` readable by a script from ``allowed_origin``, when the request came from there.

    With a proxy integration API Gateway passes the function's headers through, so
    the function sends CORS's response headers (the gateway answers only the
    preflight and its own rejections). An app that allowed the origin itself (its
    own CORS middleware) is left alone; one whose middleware lists other origins
    keeps its exposed headers, ours added. ``Vary: Origin`` is added when the app
    set no ``Vary``, as the answer depends on the ``Origin`` sent.
    """
    if not allowed_origin:
        return result
    set_by_app = {name.lower() for part in ("headers", "multiValueHeaders") for name in result.get(part) or {}}
    if "access-control-allow-origin" in set_by_app:
        return result
    headers = dict(result.get("headers") or {})
    if "vary" not in set_by_app:
        headers["Vary"] = "Origin"
    if _first(_request_headers(event), "origin") == allowed_origin:
        exposed = [value for name, value in headers.items() if name.lower() == "access-control-expose-headers"]
        headers = {name: value for name, value in headers.items() if name.lower() != "access-control-expose-headers"}
        headers["Access-Control-Allow-Origin"] = allowed_origin
        headers["Access-Control-Expose-Headers"] = ", ".join([*exposed, *CORS_EXPOSE_HEADERS])
    return {**result, "headers": headers}


def _request_headers(event: LambdaEvent) -> list[tuple[str, str]]:
    """Every header as sent, repeated ones once per value, names lowercased as ASGI wants them."""
    multi = event.get("multiValueHeaders") or {}
    if multi:
        return [(name.lower(), value) for name, values in multi.items() for value in (values or [])]
    return [(name.lower(), value) for name, value in (event.get("headers") or {}).items()]


def _header_bytes(value: str) -> bytes:
    """A header value as bytes: latin-1, HTTP's own, or UTF-8 for characters beyond it (never a failed invocation)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _query_string(event: LambdaEvent) -> bytes:
    params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}
    return urlencode(params, doseq=True).encode()


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _server(headers: list[tuple[str, str]]) -> tuple[str, int]:
    host = _first(headers, "host") or "localhost"
    name, _, port = host.partition(":")
    forwarded_port = _first(headers, "x-forwarded-port")
    return name, int(port or forwarded_port or 443)


class ParameterSecrets:
    """The SecureString parameters directly under one Parameter Store path, as environment variables.

    Read once per container, when it starts (each secret's name is the last part
    of its parameter's name); boto3, which Lambda's Python runtime has, is imported
    only when there is a path to read. Without one (``apid dev``, a function of
    other code) there is nothing to read and the secrets count as loaded.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.loaded = not path

    @classmethod
    def read_at_start(cls, variable: str) -> "ParameterSecrets":
        """The secrets under the path the environment variable ``variable`` names, read now if it names one."""
        secrets = cls(os.environ.get(variable))
        secrets.load()
        return secrets

    def load(self) -> bool:
        """Set each secret in ``os.environ``, once; False (and a log line without any value) if the read failed."""
        if self.loaded:
            return True
        try:
            values = self._read()
        # Whatever failed (access, network, throttling), the app must not start without its secrets.
        except Exception as error:
            logger.error(
                "Could not read the API's secrets under %s (%s: %s); requests answer 500 until they are read",
                self.path,
                type(error).__name__,
                error,
            )
            return False
        os.environ.update(values)
        self.loaded = True
        return True

    def _read(self) -> dict[str, str]:
        import boto3

        pages = (
            boto3.client("ssm")
            .get_paginator("get_parameters_by_path")
            .paginate(Path=self.path, Recursive=False, WithDecryption=True)
        )
        return {
            parameter["Name"].rsplit("/", 1)[-1]: parameter["Value"]
            for page in pages
            for parameter in page["Parameters"]
        }


def openapi_of(app: Any) -> Any:
    """The OpenAPI document of ``app``, or of the app inside the middleware that wraps it (``.app``); ``None`` if
    it has none (not a FastAPI app)."""
    for _ in range(10):
        if callable(getattr(app, "openapi", None)):
            return app.openapi()
        app = getattr(app, "app", None)
    return None


class LambdaAsgiHandler:
    """``handler(event, context)`` for Lambda: the app behind Mangum, its lifespan run once per container.

    ``secrets``, when given, must have loaded before the lifespan starts: a startup
    that finds them unread reads them again first.
    """

    def __init__(self, app: Any, secrets: ParameterSecrets | None = None) -> None:
        self.app = app
        self.secrets = secrets
        self.loop = asyncio.new_event_loop()
        self.state: dict[str, Any] = {}
        self._lifespan: LifespanCycle | None = None
        self._current_loop()
        self._mangum = Mangum(
            self._with_state, lifespan="off", custom_handlers=[RestApiProxy], text_mime_types=TEXT_MEDIA_TYPES
        )
        self.start()
        atexit.register(self.close)

    @property
    def started(self) -> bool:
        return self._lifespan is not None

    def start(self) -> bool:
        """Read the secrets if they are not yet, then run the app's lifespan startup; False (logged) if either failed."""
        if self.secrets is not None and not self.secrets.load():
            return False
        self._current_loop()
        cycle = LifespanCycle(self.app, "auto")
        try:
            cycle.__enter__()
        except BaseException:
            logger.exception("The app's lifespan startup failed; requests answer 500 until it succeeds")
            return False
        self._lifespan, self.state = cycle, cycle.lifespan_state
        return True

    def close(self) -> None:
        """Run the lifespan's shutdown and close the loop, when the process exits normally.

        Lambda never exits a container that way, so in Lambda this never runs; under
        ``apid sandbox`` and in tests it does, as uvicorn's shutdown does on Ctrl-C.
        """
        if self._lifespan is not None:
            self._current_loop()
            try:
                self._lifespan.__exit__(None, None, None)
            except BaseException:
                logger.exception("The app's lifespan shutdown failed")
            self._lifespan = None
        self.loop.close()

    def __call__(self, event: LambdaEvent, context: LambdaContext) -> dict[str, Any]:
        if event == OPENAPI_REQUEST:
            return {"openapi": openapi_of(self.app)}
        result = payment_required(event) or self._answer(event, context)
        return with_cors_headers(result, event, os.environ.get(CORS_ORIGIN_ENV))

    def _answer(self, event: LambdaEvent, context: LambdaContext) -> dict[str, Any]:
        if not self.started and not self.start():
            return {
                "statusCode": 500,
                "headers": {"content-type": "application/json"},
                "body": json.dumps(STARTUP_FAILED),
                "isBase64Encoded": False,
            }
        self._current_loop()
        return with_limit_headers(self._mangum(event, context), event, time.time())

    async def _with_state(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["state"] = dict(self.state)
        await self.app(scope, receive, send)

    def _current_loop(self) -> asyncio.AbstractEventLoop:
        """This container's loop, made the thread's current one: Mangum asks ``asyncio.get_event_loop()``.

        Lambda calls the handler on one thread; the sandbox's gateway calls it from
        a thread per request, one at a time, which is why it is set on every call.
        """
        asyncio.set_event_loop(self.loop)
        return self.loop
