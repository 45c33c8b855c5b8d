"""``apid dev``: the creator's app on this machine, behind the deployed API's key check and metering.

What a creator tries locally must answer as consumers will be answered, so nothing
here re-implements the stack's rules: each request is decided by the authorizer's
:func:`~api_direct.runtime.authorizer.decide` (against a lookup that knows one local
key), a rejection is the gateway response the stack configures, and every request
is written as the access-log line API Gateway writes, then read back by the usage
forwarder's :func:`~api_direct.runtime.usage_forwarder.aggregate` (each call as many
units as its ``[[routes]]`` weight) and priced by the plan's
:func:`~api_direct.project.billable_calls`, as the control plane prices it.

Differences from the deployed API, on purpose: ``resourcePath`` is the app's own
route template (``/forecast/{city_id}``), where the deployed API, whose proxy
resources hand the routing to the app, logs ``/{proxy+}`` for a route without a
weight (a weighted route's resource has the route's own path); there are no throttling or
quotas; the key is checked on every call, where API Gateway answers from its cache for
``[gateway] key_cache_seconds``, though the line logs the decision the cache would have
answered with (:class:`~api_direct.local.authorizer_cache.AuthorizerCache`); and the usage
is printed, not sent to a control plane.
So an allowed call carries the plan's ``RateLimit-Policy`` (unless the app set one)
but no ``RateLimit``: nothing here counts what is left of a quota.

The server runs in the interpreter that runs the app, which may be the project's
own rather than apid's (:mod:`api_direct.local.dev_launch`): so this module and what
it imports need only the standard library, uvicorn, starlette and pydantic 2, never
boto3, Powertools or anything else of apid's own environment.

uvicorn's reloader runs the app in a worker process it restarts on every code
change, so the worker builds its app from :func:`app_from_environment`: the parent
passes it the project, the plan and the key's hash in the environment, never the key.
"""

import asyncio
import base64
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from uvicorn.main import STARTUP_FAILURE  # older uvicorns define it here, newer ones import it here
from starlette.routing import Match, Route

from api_direct.errors import InputError
from api_direct.local.authorizer_cache import AuthorizerCache
from api_direct.local.sample_calls import SampleCall, sample_calls
from api_direct.project import Project, PricingPlan, billable_calls, load_project
from api_direct.runtime.access_log import AccessLogEntry, parse_access_log_line, render_access_log_line
from api_direct.runtime.mcp_tools import MCP_PATH
from api_direct.runtime.api_keys import KEY_PREFIX, generate_key, hash_key, is_well_formed
from api_direct.runtime.gateway_responses import CONTENT_TYPE, MISSING_KEY, GatewayRejection
from api_direct.runtime.key_check import KeyRecord, api_key_of, decide
from api_direct.runtime.limit_headers import PlanQuota
from api_direct.runtime.route_weights import RouteWeights
from api_direct.runtime.usage_records import LogLine, UsageRecord, aggregate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENV_PROJECT = "APID_DEV_PROJECT"
ENV_PLAN = "APID_DEV_PLAN"
ENV_KEY_HASH = "APID_DEV_KEY_HASH"
#: Where ``apid dev``'s MCP server listens (in apid's own process), and the token it reads the app's OpenAPI with.
ENV_MCP_URL = "APID_DEV_MCP_URL"
ENV_MCP_TOKEN = "APID_DEV_MCP_TOKEN"
#: The dev server's own path, for the MCP server only: the app's OpenAPI document (with the token).
OPENAPI_PATH = "/.apid/openapi"
MCP_TOKEN_HEADER = "x-apid-dev-token"
#: Request headers not passed on to the MCP server: the connection's own.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"})
#: What uvicorn imports in each worker (``factory=True``).
FACTORY = f"{__name__}:app_from_environment"

LOCAL_KEY_ID = "dev-key"
LOCAL_API_ID = "local"


@dataclass(frozen=True)
class DevTarget:
    """What a server worker needs to serve the project: never the plaintext key, only its hash."""

    project: Project
    plan: PricingPlan
    key_hash: str
    #: ``apid dev``'s MCP server (its URL and token), when the project serves MCP.
    mcp: "DevMcpLink | None" = None

    def environment(self) -> dict[str, str]:
        """The variables :meth:`from_environment` reads back in the worker, and the app's own (``[env]`` and
        the default stage's), so the app sees under ``apid dev`` what it sees in Lambda."""
        return {
            **self.project.environment,
            ENV_PROJECT: str(self.project.root),
            ENV_PLAN: self.plan.name,
            ENV_KEY_HASH: self.key_hash,
            **({ENV_MCP_URL: self.mcp.url, ENV_MCP_TOKEN: self.mcp.token} if self.mcp else {}),
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "DevTarget":
        """The target the parent process chose; ``apid.toml`` is read again, so an edit shows on reload."""
        project = load_project(environ[ENV_PROJECT])
        mcp = DevMcpLink(environ[ENV_MCP_URL], environ[ENV_MCP_TOKEN]) if environ.get(ENV_MCP_URL) else None
        return cls(project, plan_named(project, environ[ENV_PLAN]), environ[ENV_KEY_HASH], mcp)


@dataclass(frozen=True)
class DevMcpLink:
    """How the dev server reaches ``apid dev``'s MCP server, which runs in apid's process (the SDK may not be
    installed where the app runs), and how that server proves it is the one asking for the app's OpenAPI."""

    url: str
    token: str


@dataclass(frozen=True)
class DevSession:
    """A checked project, ready to serve: the target, its app and the plaintext key to show once."""

    target: DevTarget
    app: ASGIApp
    key: str


def prepare(project_dir: Path | str, plan_name: str | None, key: str | None) -> DevSession:
    """Check everything that could stop the server before it starts, one-line errors for each.

    ``key`` is the local key to accept (a new one when ``None``), so a creator can keep
    one across runs; it must have a real key's shape, as the authorizer rejects any other.
    """
    target, key = prepare_target(project_dir, plan_name, key)
    return DevSession(target, import_app(target.project), key)


def prepare_target(project_dir: Path | str, plan_name: str | None, key: str | None) -> tuple[DevTarget, str]:
    """What :func:`prepare` checks before importing the app: the target, and the key (``key``, or a new one)."""
    project = load_project(project_dir)
    plan = plan_named(project, plan_name)
    if key is None:
        key = generate_key()
    elif not is_well_formed(key):
        raise InputError(f"--key: not an API key ({KEY_PREFIX} and 43 URL-safe characters); omit it to get a new one")
    return DevTarget(project, plan, hash_key(key)), key


def plan_named(project: Project, name: str | None) -> PricingPlan:
    """The plan called ``name`` in ``apid.toml``, or its first plan when ``name`` is ``None``."""
    plans = project.config.plans
    if name is None:
        return plans[0]
    for plan in plans:
        if plan.name == name:
            return plan
    raise InputError(f"--plan: apid.toml has no plan {name!r} (plans: {', '.join(p.name for p in plans)})")


def import_app(project: Project) -> ASGIApp:
    """The project's ASGI app, imported as the Lambda handler does: the project root first on ``sys.path``.

    Anything the import raises is the creator's code failing, so it is reported in
    one line, with its type and the creator's line that raised it, instead of a
    traceback through ours.
    """
    reference = project.config.api.app
    module_name, _, attribute = reference.partition(":")
    root = str(project.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    _forget_other_projects(module_name.split(".")[0], project.root)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the creator's code may raise anything
        detail = (str(error).splitlines() or [""])[0]
        raise InputError(
            f"api.app {reference}: importing {module_name} failed: {type(error).__name__}: {detail}"
            f"{_raised_at(error, project.root)}"
        ) from None
    app = getattr(module, attribute, None)
    if not callable(app):
        raise InputError(f"api.app {reference}: {module_name} has no ASGI app named {attribute!r}")
    return app


def _forget_other_projects(package: str, root: Path) -> None:
    """Drop ``package`` (and its submodules) if it was imported from elsewhere: another project's ``main``."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (
            (name == package or name.startswith(f"{package}."))
            and file
            and not Path(file).resolve().is_relative_to(root.resolve())
        ):
            del sys.modules[name]


def _raised_at(error: Exception, root: Path) -> str:
    """`` (weather/climate.py, line 12)``: the last line of the project's own code the error passed through."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if Path(frame.filename).is_relative_to(root)]
    return f" ({Path(frames[-1].filename).relative_to(root)}, line {frames[-1].lineno})" if frames else ""


def local_key_lookup(key_hash: str, plan: str) -> Callable[[str], KeyRecord | None]:
    """The key table :func:`decide` reads, holding the one local key: active, on ``plan``."""
    record = KeyRecord(key_hash=key_hash, key_id=LOCAL_KEY_ID, plan=plan, status="active", updated_at="")
    return lambda requested: record if requested == key_hash else None


@dataclass(frozen=True)
class MeteredRequest:
    """One request as the deployed stack meters it.

    ``entry`` is its access-log line read back, ``record`` the forwarder's usage
    record of that line alone, ``billable`` the units the plan bills of it (nothing for a
    rejected request, which has no key to bill, as in the control plane) and
    ``outcome`` the authorizer's reason (``active``, ``missing``, ``malformed``, ...).
    """

    entry: AccessLogEntry
    record: UsageRecord
    billable: int
    outcome: str

    def line(self) -> str:
        """``GET /forecast/{city_id}  200  12 ms  billable 5  (plan pro)``: the live usage line, billable in units."""
        entry = self.entry
        if entry.resource_path == MCP_PATH and entry.key_id:
            who = "MCP: each tool call is billed as a call to its route"
        else:
            who = f"plan {self.record.plan}" if self.record.key_id else f"rejected: {self.outcome} key"
        return (
            f"{entry.http_method} {entry.resource_path}  {entry.status}  {entry.response_latency_ms} ms"
            f"  billable {self.billable}  ({who})"
        )


def print_usage(request: MeteredRequest) -> None:
    """The default report: one line on stderr, beside uvicorn's own log."""
    print(request.line(), file=sys.stderr, flush=True)


class MeteredDevApp:
    """An ASGI app: ``app`` behind the deployed API's key check, each HTTP request metered.

    Lifespan and websocket scopes pass straight through (the deployed API serves
    neither to consumers, but the app's startup code must still run).
    """

    def __init__(self, app: ASGIApp, target: DevTarget, report: Callable[[MeteredRequest], None] = print_usage) -> None:
        self.app = app
        self.target = target
        self.lookup = local_key_lookup(target.key_hash, target.plan.name)
        self.report = report
        self.authorizer_cache = AuthorizerCache(target.project.config.gateway.key_cache_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        fields: dict[str, object] = {
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": time.time_ns() // 1_000_000,
            "apiId": LOCAL_API_ID,
            "stage": self.target.project.config.gateway.stage,
            "httpMethod": scope["method"],
            "resourcePath": route_template(self.app, scope),
            "status": 500,  # what the caller gets if the app fails before answering
        }
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        mcp = self.target.mcp
        if mcp is not None and scope["path"] == OPENAPI_PATH and headers.get(MCP_TOKEN_HEADER) == mcp.token:
            await _send_json(send, 200, json.dumps(getattr(self.app, "openapi", dict)()).encode())
            return
        api_key = api_key_of(headers)
        deciding = time.perf_counter()
        decision = decide(api_key, self.lookup)
        if api_key and decision.rejection is not MISSING_KEY:  # without the identity source, API Gateway asks nobody
            fields.update(
                self.authorizer_cache.log_fields(api_key, str(uuid.uuid4()), _elapsed_ms(deciding), time.time())
            )
        send = _counting_body(send, fields)
        try:
            if decision.rejection is not None:
                await send_rejection(send, decision.rejection)
                fields["status"] = decision.rejection.status
            elif mcp is not None and scope["path"] == MCP_PATH:
                fields.update(keyId=decision.key_id, plan=decision.plan, resourcePath=MCP_PATH)
                fields["status"] = await _forward(mcp.url, scope, receive, send)
                fields["integrationLatency"] = _elapsed_ms(started)
            else:
                fields.update(keyId=decision.key_id, plan=decision.plan)
                quota = PlanQuota(self.target.plan.rate_limit, self.target.plan.burst, self.target.plan.monthly_quota)
                sending = _with_header(send, "RateLimit-Policy", quota.policy(datetime.now(UTC)))
                await self.app(scope, receive, _recording_status(sending, fields))
                fields["integrationLatency"] = _elapsed_ms(started)
        finally:
            fields["responseLatency"] = _elapsed_ms(started)
            self.report(self.meter(fields, decision.reason))

    def meter(self, fields: Mapping[str, object], outcome: str) -> MeteredRequest:
        """The request's access-log line, through the forwarder's parser and aggregation and the plan's price."""
        line = render_access_log_line(fields)
        config = self.target.project.config
        [record] = aggregate(config.api.name, [LogLine(str(fields["requestId"]), line)], RouteWeights.of(config.routes))
        entry = parse_access_log_line(line)
        assert entry is not None, "aggregate counted the line, so it parses"
        billable = billable_calls(record.units_by_status, self.target.plan.billable_statuses) if record.key_id else 0
        return MeteredRequest(entry, record, billable, outcome)


async def send_rejection(send: Send, rejection: GatewayRejection) -> None:
    """Answer as API Gateway's gateway response does: the rejection's status and JSON body."""
    await _send_json(send, rejection.status, rejection.body().encode())


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _forward(url: str, scope: Scope, receive: Receive, send: Send) -> int:
    """The request, as sent (its ``Host`` too, so the MCP server calls the routes back here), to ``apid dev``'s MCP
    server, and its answer back; the status answered.

    In apid's process, the MCP server is what runs in its own function when deployed: each tool call comes back
    here as a request to its route, metered like any other.
    """
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in scope["headers"]
        if name.decode("latin-1").lower() not in _HOP_BY_HOP
    ]
    target = urlsplit(url)

    def exchange() -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            connection.putrequest(scope["method"], MCP_PATH, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    status, answered, content = await asyncio.to_thread(exchange)
    kept = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answered if n.lower() not in _HOP_BY_HOP]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*kept, (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})
    return status


def _with_header(send: Send, name: str, value: str) -> Send:
    """``send``, adding a response header unless the app set one of that name, as the deployed adapter does."""

    async def adding(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if all(key.decode("latin-1").lower() != name.lower() for key, _ in headers):
                message = {**message, "headers": [*headers, (name.encode("latin-1"), value.encode("latin-1"))]}
        await send(message)

    return adding


def _counting_body(send: Send, fields: dict[str, object]) -> Send:
    """``send``, adding up the response body's bytes in ``fields`` (``responseLength``), as API Gateway logs them."""
    fields["responseLength"] = total = 0

    async def counting(message: Message) -> None:
        nonlocal total
        if message["type"] == "http.response.body":
            total += len(message.get("body", b""))
            fields["responseLength"] = total
        await send(message)

    return counting


def _recording_status(send: Send, fields: dict[str, object]) -> Send:
    """``send``, noting the status the app answers with in ``fields``."""

    async def recording(message: Message) -> None:
        if message["type"] == "http.response.start":
            fields["status"] = message["status"]
        await send(message)

    return recording


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def route_template(app: ASGIApp, scope: Scope) -> str:
    """The app's route for this request (``/forecast/{city_id}``), or the raw path when none matches.

    Asked before the app runs, so a rejected request names its route too.
    """
    for route in getattr(app, "routes", ()):
        if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
            return route.path
    return str(scope["path"])


def sample_call(app: ASGIApp) -> SampleCall:
    """The app's first call as ``apid sandbox`` makes it, from its OpenAPI document, for a curl that works as pasted.

    ``GET /`` when the app has no OpenAPI document (not FastAPI) or nothing in it to call.
    """
    openapi = getattr(app, "openapi", None)
    if callable(openapi):
        try:
            calls = sample_calls(openapi()).calls
        except (
            Exception
        ):  # a document the app cannot build breaks its /docs, not the server; the hint is not worth failing for
            calls = ()
        if calls:
            return calls[0]
    return SampleCall("GET /", "GET", "/")


def describe(environ: Mapping[str, str]) -> dict[str, Any]:
    """What :func:`prepare` learns by importing the app, as JSON, for a parent in another interpreter.

    ``{"call": ...}``: the app's :func:`sample_call`, its body in base64; ``{"error": ...}``: the one-line error.
    """
    try:
        call = sample_call(import_app(DevTarget.from_environment(environ).project))
    except InputError as error:
        return {"error": str(error)}
    return {"call": {**asdict(call), "body": base64.b64encode(call.body).decode()}}


def described_call(fields: Mapping[str, Any]) -> SampleCall:
    """The :class:`SampleCall` that :func:`describe` wrote as JSON."""
    headers = tuple((name, value) for name, value in fields["headers"])
    return SampleCall(**{**fields, "headers": headers, "body": base64.b64decode(fields["body"])})


def app_from_environment() -> MeteredDevApp:
    """uvicorn's factory, run in every (re)started worker: the app as :func:`serve`'s caller chose it.

    An edit can break the project between reloads; that is said in one line, and the
    worker exits as uvicorn's own loader does when an app cannot load, so the
    reloader waits for the fix instead of printing a traceback through uvicorn.
    """
    try:
        target = DevTarget.from_environment(os.environ)
        return MeteredDevApp(import_app(target.project), target)
    except InputError as error:
        logging.getLogger("uvicorn.error").error("%s", error)
        sys.exit(STARTUP_FAILURE)


def serve(target: DevTarget, *, host: str, port: int, reload: bool) -> None:
    """Run uvicorn until Ctrl-C, restarting the worker when a ``.py`` file under the project changes.

    uvicorn's own access log is off: the usage line says the same and more.
    """
    os.environ.update(target.environment())
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(target.project.root)] if reload else None,
        access_log=False,
    )
