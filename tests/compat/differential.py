"""The differential harness: one request, to the app under uvicorn and through the deployed path; same answer.

The product's promise is that a creator's FastAPI app answers the same deployed
as it does under uvicorn. Each app under ``apps/`` runs twice, side by side:

* **uvicorn**, as FastAPI documents running behind a proxy that strips a path
  prefix (``--root-path /v1 --proxy-headers --forwarded-allow-ips '*'``), sent
  the request with the headers API Gateway would add (``X-Forwarded-For``,
  ``-Proto``, ``-Port``) and the execute-api ``Host``;
* **the deployed path**: the app's real bundle (:meth:`FastApiCode.bundle_spec` and
  :func:`build_bundle`, for this machine's platform so it can run here), in a
  process that runs it as a Lambda container does (:mod:`tests.compat.lambda_container`),
  fed the event API Gateway would build and answered through API Gateway's rules
  for the result (:class:`~api_direct.local.rest_proxy.RestProxy`, with the
  stage's real ``binaryMediaTypes``).

:func:`assert_same_answer` compares status, body bytes (raw: never decompressed)
and every response header but ``Date`` and ``Server``, which each server writes
for itself. A difference API Gateway itself makes is allowed only as one of
:data:`KNOWN_DIFFERENCES`: each rewrites the request uvicorn is sent, or
uvicorn's answer, into what API Gateway makes of it, and the deployed answer
must then be that, exactly.
"""

import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from api_direct.bundling.build import Architecture, SourceTree, build_bundle
from api_direct.bundling.fastapi_code import FastApiCode
from api_direct.local.rest_proxy import (
    REMAPPED_RESPONSE_HEADERS,
    HttpRequest,
    HttpResponse,
    RestProxy,
    too_large,
)
from api_direct.project import DEFAULT_EXCLUDES
from api_direct.runtime.asgi_lambda import BINARY_MEDIA_TYPES
from tests.compat.lambda_container import LambdaContainer

APPS = Path(__file__).resolve().parent / "apps"
#: One requirements list for every app, so pip runs once per cold cache: the versions this suite runs uvicorn with.
REQUIREMENTS = tuple(
    f"{name}=={version(name)}" for name in ("fastapi", "pydantic", "python-multipart", "jinja2", "numpy", "orjson")
)
#: The bundles are built for this machine, so that they can be imported here.
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
ARCHITECTURE: Architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"

STAGE = "v1"
#: The stage's binaryMediaTypes as MeteredApi deploys them (tests/constructs/test_metered_api.py
#: checks that the synthesized template carries exactly these).
GATEWAY = RestProxy(stage=STAGE, rest_api_id="c0mpat1234", binary_media_types=BINARY_MEDIA_TYPES)
CLIENT_IP = "203.0.113.7"
#: Every call carries the consumer's key, as MeteredApi's authorizer requires; the app sees it too.
API_KEY = "apid-compat-consumer-key"
#: What MeteredApi's authorizer puts in the request context of an allowed call.
AUTHORIZER_CONTEXT = {"principalId": "key-1", "keyId": "key-1", "plan": "pro", "integrationLatency": 3}
#: The function's environment (its settings), given to both sides.
SETTINGS = {"APP_NAME": "Compat weather", "APP_GREETING": "Grüß dich", "APP_MAX_ITEMS": "3", "APP_DEBUG": "false"}
#: What a client sends with every call unless the call names the header itself.
CLIENT_HEADERS = (
    ("Host", GATEWAY.host),
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("User-Agent", "apid-compat/1.0"),
    ("x-api-key", API_KEY),
)
#: What API Gateway adds to every request (RestProxy adds it on the deployed path; here for uvicorn).
FORWARDED = (("X-Forwarded-For", CLIENT_IP), ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https"))
#: Response headers each server writes for itself (API Gateway writes its own Date).
OWN_HEADERS = frozenset({"date", "server"})
STARTUP_SECONDS = 60.0
#: pytest's ``record_property`` fixture: each call's outcome lands in the JUnit report (docs/compatibility.md's counts).
RecordProperty = Callable[[str, object], None]


@dataclass(frozen=True)
class Call:
    """One request as a client sends it to the stage's URL; ``path`` below the stage, percent-encoded."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def sent_headers(self) -> list[tuple[str, str]]:
        own = {name.lower() for name, _ in self.headers}
        return [header for header in CLIENT_HEADERS if header[0].lower() not in own] + list(self.headers)


@dataclass(frozen=True)
class Case:
    """A named exchange: one call, or several in order when the later answers depend on the earlier."""

    name: str
    calls: tuple[Call, ...]


def case(
    name: str, method: str, path: str, *, query: str = "", headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> Case:
    return Case(name, (Call(method, path, query, tuple(headers), body),))


def get(name: str, path: str, **options: Any) -> Case:
    return case(name, "GET", path, **options)


def json_call(name: str, method: str, path: str, data: Any, *, headers: Sequence[tuple[str, str]] = ()) -> Case:
    body = json.dumps(data).encode()
    return case(name, method, path, headers=[("Content-Type", "application/json"), *headers], body=body)


def form_call(
    name: str, path: str, fields: Sequence[tuple[str, str]], *, headers: Sequence[tuple[str, str]] = ()
) -> Case:
    return case(
        name,
        "POST",
        path,
        body=urlencode(fields).encode(),
        headers=[("Content-Type", "application/x-www-form-urlencoded"), *headers],
    )


#: A fixed boundary, so a multipart body is the same bytes on every run.
BOUNDARY = "apid-compat-7b1c0e"


def multipart_call(
    name: str, path: str, fields: Sequence[tuple[str, str]] = (), files: Sequence[tuple[str, str, str, bytes]] = ()
) -> Case:
    """A ``multipart/form-data`` POST: ``fields`` as (name, value), ``files`` as (field, filename, type, bytes)."""
    parts: list[bytes] = []
    for name_, value in fields:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name_}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for field_name, filename, media_type, content in files:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            f"Content-Type: {media_type}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return case(name, "POST", path, body=body, headers=[("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")])


def sequence(name: str, *cases: Case) -> Case:
    """Several calls in order, as one case (a write, then the read that shows it)."""
    return Case(name, tuple(call for each in cases for call in each.calls))


@dataclass(frozen=True)
class Answer:
    """A response as the client got it: status, headers (lowercased names, in order), raw body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.headers)

    def compared(self) -> tuple[int, dict[str, list[str]], bytes]:
        """What must match: the status, each header's values in order (but each server's own), the body."""
        grouped: dict[str, list[str]] = {}
        for name, value in self.headers:
            if name not in OWN_HEADERS:
                grouped.setdefault(name, []).append(value)
        return self.status, dict(sorted(grouped.items())), self.body


@dataclass(frozen=True)
class KnownDifference:
    """Something API Gateway itself does to a request or a response, which no adapter can undo.

    It applies where one of its two functions changes what it is given; the
    comparison then expects exactly that change and no other.
    """

    name: str
    what: str
    why: str
    reference: str
    #: The request as the deployed app receives it, for a difference API Gateway makes on the way in;
    #: uvicorn is then sent that request instead.
    request: Callable[[Call], Call] = lambda call: call
    #: uvicorn's answer as API Gateway hands it on, for a difference it makes on the way out.
    response: Callable[[Answer], Answer] = lambda answer: answer


def _query_as_parsed(call: Call) -> Call:
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(call.query, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    return replace(call, query=urlencode(grouped, doseq=True))


def _with_default_content_type(answer: Answer) -> Answer:
    if answer.has("content-type"):
        return answer
    return replace(answer, headers=(*answer.headers, ("content-type", "application/json")))


def _whole(answer: Answer) -> Answer:
    return replace(answer, headers=tuple(h for h in answer.headers if h[0] != "transfer-encoding"))


#: The remapped names an app may set (uvicorn's own Date and Server are not the app's).
_REMAPPED_APP_HEADERS = REMAPPED_RESPONSE_HEADERS - OWN_HEADERS


def _remapped(answer: Answer) -> Answer:
    return replace(
        answer,
        headers=tuple(
            (f"x-amzn-remapped-{name}" if name in _REMAPPED_APP_HEADERS else name, value)
            for name, value in answer.headers
        ),
    )


_KNOWN_ISSUES = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html"
_PROXY_INPUT = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
    "set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format"
)

#: Every way the deployed answer may differ from uvicorn's; docs/compatibility.md lists the same.
KNOWN_DIFFERENCES: tuple[KnownDifference, ...] = (
    KnownDifference(
        name="query-as-parsed",
        what="The app's raw query string is rebuilt from the parsed parameters: keys grouped in first-seen "
        "order (a=1&b=2&a=3 arrives as a=1&a=3&b=2), in urlencode's form (flag as flag=, %20 as +). "
        "Every value the app reads is the same.",
        why="A REST API passes the query to Lambda only parsed, as queryStringParameters and "
        "multiValueQueryStringParameters (one list per name); the string as sent is not in the event.",
        reference=_PROXY_INPUT,
        request=_query_as_parsed,
    ),
    KnownDifference(
        name="default-content-type",
        what="A response without Content-Type (a redirect, a 204, an empty Response) gets "
        "Content-Type: application/json.",
        why="API Gateway includes a Content-Type header in every integration response, application/json by default.",
        reference=_KNOWN_ISSUES,
        response=_with_default_content_type,
    ),
    KnownDifference(
        name="streamed-whole",
        what="A streaming response arrives whole, without Transfer-Encoding: chunked; the same bytes.",
        why="A Lambda proxy integration returns one result, which API Gateway buffers (the REST API's default "
        "BUFFERED response transfer mode); it drops Transfer-Encoding from integration responses.",
        reference="https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html; "
        + _KNOWN_ISSUES
        + " (Transfer-Encoding: Dropped)",
        response=_whole,
    ),
    KnownDifference(
        name="remapped-headers",
        what="WWW-Authenticate (as Authorization, Connection, Content-MD5, Max-Forwards, User-Agent) in a "
        "response arrives renamed X-Amzn-Remapped-WWW-Authenticate; the value is unchanged.",
        why="API Gateway remaps these response header names from any REST API integration, Lambda proxy included.",
        reference=_KNOWN_ISSUES + " (the table of headers dropped or remapped)",
        response=_remapped,
    ),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SideBySide:
    """One app under uvicorn and in its Lambda container; :meth:`from_uvicorn` and :meth:`deployed` ask each."""

    name: str
    uvicorn: subprocess.Popen[bytes]
    port: int
    container: LambdaContainer
    uvicorn_log: Path
    #: A connection per request: uvicorn closes one after an unhandled error, which a reused one would hit.
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))
    )
    listening: bool = False

    def ready(self) -> "SideBySide":
        """Once uvicorn accepts connections (it listens when the app's startup is done)."""
        if not self.listening:
            _wait_for(self.uvicorn, self.port, self.uvicorn_log)
            self.listening = True
        return self

    def from_uvicorn(self, call: Call) -> Answer:
        url = f"http://127.0.0.1:{self.port}{call.path}" + (f"?{call.query}" if call.query else "")
        request = httpx.Request(call.method, url, headers=[*call.sent_headers(), *FORWARDED], content=call.body or None)
        response = self.client.send(request, stream=True)
        try:
            body = b"".join(response.iter_raw())  # as sent: a gzip body stays gzip
        finally:
            response.close()
        return Answer(response.status_code, tuple(response.headers.multi_items()), body)

    def deployed(self, call: Call) -> Answer:
        sent = call.sent_headers()
        if call.body:
            sent.append(("Content-Length", str(len(call.body))))
        request = HttpRequest(call.method, call.path, tuple(sent), call.query, call.body)
        response = too_large(request) or self._through_gateway(request)
        return Answer(response.status, tuple((name.lower(), value) for name, value in response.headers), response.body)

    def _through_gateway(self, request: HttpRequest) -> HttpResponse:
        event = GATEWAY.event(request, source_ip=CLIENT_IP, authorizer=AUTHORIZER_CONTEXT)
        result, ok = self.container.invoke(event)
        return GATEWAY.response(request, result if ok else None)

    def logs(self) -> str:
        return (
            f"--- uvicorn ({self.name}) ---\n{self.uvicorn_log.read_text(errors='replace')[-4000:]}\n"
            f"--- Lambda container ({self.name}) ---\n{self.container.log()[-4000:]}"
        )

    def stopping(self) -> None:
        """Ask both processes to end (uvicorn's shutdown, the container's end of input), without waiting."""
        self.client.close()
        self.uvicorn.terminate()
        self.container.ending()

    def stop(self) -> None:
        self.stopping()
        try:
            self.uvicorn.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.uvicorn.kill()
            self.uvicorn.wait()
        self.container.stop()


class Fleet:
    """The apps one test module runs: each started at its first use, the one listed after it started meanwhile.

    A module's tests run app by app, in ``order``; starting the next app while
    the current one answers keeps both cores busy. :meth:`close` stops them all.
    """

    def __init__(self, cache_dir: Path, work_dir: Path, order: Sequence[str] = ()) -> None:
        self.cache_dir, self.work_dir, self.order = cache_dir, work_dir, list(order)
        self._started: dict[str, SideBySide] = {}

    def __getitem__(self, name: str) -> SideBySide:
        pair = self._start(name)
        if name in self.order and self.order.index(name) + 1 < len(self.order):
            self._start(self.order[self.order.index(name) + 1])
        return pair.ready()

    def _start(self, name: str) -> SideBySide:
        if name not in self._started:
            self._started[name] = launch(name, self.cache_dir, self.work_dir)
        return self._started[name]

    def close(self) -> None:
        pairs = list(self._started.values())
        self._started.clear()
        for pair in pairs:
            pair.stopping()
        for pair in pairs:
            pair.stop()


def launch(name: str, cache_dir: Path, work_dir: Path) -> SideBySide:
    """Both sides of ``apps/<name>`` started, uvicorn booting while the bundle is built; ``ready()`` waits for it."""
    app_dir = APPS / name
    port = free_port()
    uvicorn_log = work_dir / f"{name}-uvicorn.log"
    with uvicorn_log.open("wb") as log:
        uvicorn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--root-path",
                f"/{STAGE}",
                "--proxy-headers",
                "--forwarded-allow-ips",
                "*",
                "--log-level",
                "warning",
            ],
            cwd=app_dir,
            env={**os.environ, **SETTINGS, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        code = FastApiCode.from_sources(
            [SourceTree(app_dir.resolve(), exclude=DEFAULT_EXCLUDES)], requirements=REQUIREMENTS, app="main:app"
        )
        bundle = build_bundle(code.bundle_spec(PYTHON_VERSION, ARCHITECTURE), cache_dir)
        container = LambdaContainer(bundle.path, SETTINGS, work_dir / f"{name}-lambda.log")
    except BaseException:
        uvicorn.kill()
        uvicorn.wait()
        raise
    return SideBySide(name, uvicorn, port, container, uvicorn_log)


def _wait_for(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({process.returncode}):\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"uvicorn did not listen on {port} within {STARTUP_SECONDS:.0f} s")


def each_case(cases: dict[str, Sequence[Case]]) -> pytest.MarkDecorator:
    """A module's parametrization: every (app, case), named ``app-case``, in the order listed (app by app)."""
    params = [pytest.param(name, each, id=f"{name}-{each.name}") for name, listed in cases.items() for each in listed]
    return pytest.mark.parametrize(("app", "exchange"), params)


def assert_same_answer(pair: SideBySide, exchange: Case, record_property: RecordProperty) -> None:
    """Each call of ``exchange`` answered alike on both sides, but for the known differences that apply."""
    for index, call in enumerate(exchange.calls):
        applied: list[str] = []
        received = call
        for difference in KNOWN_DIFFERENCES:
            if (changed := difference.request(received)) != received:
                applied.append(difference.name)
                received = changed
        deployed, uvicorn = pair.deployed(call), pair.from_uvicorn(received)
        expected = uvicorn
        for difference in KNOWN_DIFFERENCES:
            if (changed := difference.response(expected)) != expected:
                applied.append(difference.name)
                expected = changed
        identical = not applied and deployed.compared() == uvicorn.compared()
        record_property(f"call{index}", f"{call.method} {call.path} identical={identical} known={','.join(applied)}")
        assert deployed.compared() == expected.compared(), (
            f"{call.method} {call.path}?{call.query} answered differently once deployed "
            f"(known differences applied: {applied or 'none'})\n{_difference(deployed, expected)}\n{pair.logs()}"
        )


def _difference(deployed: Answer, expected: Answer) -> str:
    (status, headers, body), (want_status, want_headers, want_body) = deployed.compared(), expected.compared()
    lines = [f"status: deployed {status}, expected {want_status}"] if status != want_status else []
    for name in sorted(set(headers) | set(want_headers)):
        if headers.get(name) != want_headers.get(name):
            lines.append(f"header {name}: deployed {headers.get(name)}, expected {want_headers.get(name)}")
    if body != want_body:
        lines.append(f"body: deployed {body[:400]!r}\n      expected {want_body[:400]!r}")
    return "\n".join(lines)
