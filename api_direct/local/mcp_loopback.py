"""What lets an API's MCP endpoint run on one machine as it runs in AWS, with the network left out.

The deployed MCP function reaches two things over the network: the app's ``live``
alias, through Lambda's Invoke API (for the app's OpenAPI document), and the API's
own stage, over HTTPS (each tool call). On one machine both are in this process:

* :class:`LocalInvokeApi` answers Lambda's ``Invoke`` on loopback; functions run by
  :class:`~.lambda_runtime.LocalLambda` reach it through ``AWS_ENDPOINT_URL_LAMBDA``,
  as the rest of their AWS calls reach the emulator through ``AWS_ENDPOINT_URL``;
* :func:`gateway_resolved_here` answers requests to the stage's domain (the
  execute-api host API Gateway names in each event) from the local gateway, in the
  calling thread, the way DNS would send them to API Gateway: the MCP function's
  code is the deployed one, unchanged;
* :class:`GatewayTransport` lets the SDK's own MCP client (``httpx2``) send its
  requests to the local gateway the same way.
"""

import io
import json
import threading
import traceback
import urllib.request
import urllib.response
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import httpx2

from api_direct.local.lambda_runtime import DeployedFunction, LocalLambda
from api_direct.local.rest_proxy import HttpRequest, HttpResponse

#: Sends one request through the local gateway (:meth:`~.rest_api.LocalRestApi.request`); blocking.
GatewaySend = Callable[[HttpRequest], HttpResponse]


class GatewayTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2`` transport whose requests the local gateway answers (in a worker thread: it runs functions,
    each on an event loop of its own)."""

    def __init__(self, send: GatewaySend, stage_prefix: str) -> None:
        self._send = send
        self._prefix = stage_prefix

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        path = request.url.path.removeprefix(self._prefix) or "/"
        query = request.url.query.decode() if isinstance(request.url.query, bytes) else str(request.url.query)
        local = HttpRequest(request.method, path, tuple(request.headers.multi_items()), query, body)
        answer = await anyio.to_thread.run_sync(self._send, local)
        return httpx2.Response(answer.status, headers=list(answer.headers), content=answer.body)


@contextmanager
def gateway_resolved_here(base_url: str, send: GatewaySend) -> Iterator[None]:
    """Requests under ``base_url`` (``https://<id>.execute-api.<region>.amazonaws.com/<stage>``) made with
    ``urllib`` are answered by ``send`` while this lasts; every other URL goes where it would have."""
    handler = _GatewayHandler(base_url, send)
    previous = urllib.request._opener  # type: ignore[attr-defined]
    urllib.request.install_opener(urllib.request.build_opener(handler))
    try:
        yield
    finally:
        urllib.request._opener = previous  # type: ignore[attr-defined]


class _GatewayHandler(urllib.request.BaseHandler):
    handler_order = 100  # before the default HTTP(S) handlers

    def __init__(self, base_url: str, send: GatewaySend) -> None:
        parts = urlsplit(base_url)
        self._host = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._send = send

    def https_open(self, request: urllib.request.Request) -> Any:
        parts = urlsplit(request.full_url)
        if parts.netloc != self._host or not (parts.path + "/").startswith(self._prefix + "/"):
            return None  # not the gateway: the next handler sends it over the network
        data = request.data if isinstance(request.data, bytes) else b""
        headers = tuple((name, value) for name, value in request.header_items())
        local = HttpRequest(
            request.get_method(), parts.path.removeprefix(self._prefix) or "/", headers, parts.query, data
        )
        answer = self._send(local)
        message = Message()
        for name, value in answer.headers:
            message[name] = value
        # A status of 400 or more becomes urllib's HTTPError in the opener's error processor, as over the network.
        return _Answered(io.BytesIO(answer.body), message, request.full_url, answer.status)

    http_open = https_open


class _Answered(urllib.response.addinfourl):
    """A response as urllib's HTTP handler makes one: with the status's reason phrase as ``msg``."""

    @property
    def msg(self) -> str:
        try:
            return HTTPStatus(self.status or 0).phrase
        except ValueError:
            return ""


class LocalInvokeApi(ThreadingHTTPServer):
    """Lambda's ``Invoke`` (request-response) on loopback, for the functions given to :meth:`route_to`.

    A function is found by name, ARN or alias ARN; an error it raises is answered as
    Lambda answers an unhandled one (``X-Amz-Function-Error: Unhandled``, the error's
    type and message), its traceback written to ``errors``.
    """

    def __init__(self, errors: IO[str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _InvokeRequest)
        self.runtime: LocalLambda | None = None
        self.functions: dict[str, DeployedFunction] = {}
        self.errors = errors

    def route_to(self, runtime: LocalLambda, functions: Mapping[str, DeployedFunction]) -> None:
        """Run these functions (any key: they are found by name) with ``runtime``; until then every name is unknown.

        The endpoint starts before the functions exist, so the runtime that runs them can be told where it is.
        """
        self.runtime = runtime
        self.functions.update({function.name: function for function in functions.values()})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve in a thread while this lasts; yields the endpoint's URL."""
        thread = threading.Thread(target=self.serve_forever, name="lambda-invoke", daemon=True)
        thread.start()
        try:
            yield self.url
        finally:
            self.shutdown()
            self.server_close()
            thread.join(10)

    def function_named(self, reference: str) -> DeployedFunction | None:
        """``my-fn``, ``arn:aws:lambda:<region>:<account>:function:my-fn`` or the same with ``:<alias>``."""
        name = reference.split(":function:", 1)[-1].split(":", 1)[0]
        return self.functions.get(name)


class _InvokeRequest(BaseHTTPRequestHandler):
    server: LocalInvokeApi

    def do_POST(self) -> None:
        parts = self.path.split("/")  # /2015-03-31/functions/<name>/invocations
        function = self.server.function_named(unquote(parts[3])) if len(parts) > 4 else None
        runtime = self.server.runtime
        if function is None or runtime is None:
            self._answer(404, {"Type": "User", "message": f"Function not found: {self.path}"})
            return
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            result = runtime.invoke(function, json.loads(payload or b"{}"))
        except Exception as error:
            if self.server.errors is not None:
                traceback.print_exc(file=self.server.errors)
            self._answer(200, {"errorType": type(error).__name__, "errorMessage": str(error)}, "Unhandled")
            return
        self._answer(200, result)

    def _answer(self, status: int, body: Any, function_error: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Amz-Executed-Version", "$LATEST")
        if function_error:
            self.send_header("X-Amz-Function-Error", function_error)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the invoked function's own log file records what it did."""
