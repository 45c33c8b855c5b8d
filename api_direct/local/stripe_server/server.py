"""The HTTP side: authentication, faults, idempotent replay and dispatch through :data:`.routes.ROUTES`.

A request is decoded here, refused or replayed here, and only then handed to the
resource module that serves its path, under the fake's lock. The events it emitted
are delivered after its response is sent, as Stripe delivers apart from the request.
The hosted Checkout page (:mod:`.checkout_page`) is served here too, outside the API.
"""

import hmac
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from api_direct.local.stripe_server import checkout_page, wire
from api_direct.local.stripe_server.checkout import Checkout
from api_direct.local.stripe_server.routes import ROUTES
from api_direct.local.stripe_server.state import SeenRequest, _Fault, _Stored
from api_direct.local.stripe_server.webhooks import Webhooks
from api_direct.local.stripe_server.wire import StripeError, parse_form

#: Stripe caps idempotency keys at 255 characters.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
#: Larger bodies are refused unread; nothing in this slice comes close.
MAX_BODY_BYTES = 64 * 1024
#: Stored idempotent responses; the oldest is forgotten first, as Stripe forgets after 24 h.
MAX_IDEMPOTENT_RESPONSES = 10_000
#: A pending fault may repeat at most this often, and stall at most this long.
MAX_FAULT_COUNT = 100
MAX_STALL_SECONDS = 10.0
_STATUS_ERROR_TYPE = {429: "invalid_request_error"}
_STATUS_ERROR_CODE = {429: "rate_limit"}
_STATUS_MESSAGE = {
    429: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    500: "An unknown error occurred",
}


class Server(Webhooks):
    """Answers HTTP requests in Stripe's wire format; the faults a test injects hit here first."""

    def fail_next(
        self,
        status: int,
        count: int = 1,
        error_type: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and Stripe's error envelope.

        The failure happens before the request executes, so nothing is stored under
        its idempotency key and a retry with the same key runs for real. ``error_type``
        defaults to what Stripe sends for the status (``invalid_request_error`` with
        code ``rate_limit`` for 429, ``api_error`` otherwise); ``"card_error"`` sends
        Stripe's generic decline (code ``card_declined``), which stripe-python raises
        as ``CardError`` when the status is 402. ``should_retry`` sets the
        ``Stripe-Should-Retry`` header; without it stripe-python retries 409 and 5xx
        but not 429, which Stripe marks retryable only by that header.
        """
        self._push_faults(count, _Fault(status, error_type, should_retry, 0.0))

    def forget_idempotency_keys(self) -> None:
        """Forget every idempotent response, as Stripe does 24 hours on: a retry with a key runs anew."""
        with self._lock:
            self._idempotent.clear()

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` requests for ``seconds`` before handling them normally.

        A client with a shorter timeout gives up and retries, while the stalled
        request still executes afterwards: the case idempotency keys exist for.
        """
        if not 0 < seconds <= MAX_STALL_SECONDS:
            raise ValueError(f"stall must be in (0, {MAX_STALL_SECONDS}] seconds, not {seconds}")
        self._push_faults(count, _Fault(None, None, None, seconds))

    def _push_faults(self, count: int, fault: _Fault) -> None:
        if not 1 <= count <= MAX_FAULT_COUNT:
            raise ValueError(f"count must be in [1, {MAX_FAULT_COUNT}], not {count}")
        with self._lock:
            self._faults.extend([fault] * count)

    def requests(self) -> list[SeenRequest]:
        """Every request received so far (the most recent ``MAX_SEEN_REQUESTS``), oldest first."""
        with self._lock:
            return list(self._seen)

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes, list[dict[str, Any]]]:
        """Answer one HTTP request: status, extra headers, JSON body, and the events to deliver once it is sent."""
        url = urlsplit(target)
        idempotency_key = headers.get("idempotency-key") if method == "POST" else None
        fault = self._take_fault()
        if fault is not None and fault.stall_seconds:
            self._stopping.wait(fault.stall_seconds)
        replayed = False
        events: list[dict[str, Any]] = []
        response_headers = {"Request-Id": wire.new_id("req")}
        try:
            if fault is not None and fault.status is not None:
                raise _fault_error(fault)
            self._authenticate(headers.get("authorization", ""))
            params = parse_form(url.query if method != "POST" else _form_text(body))
            status, payload, replayed, events = self._execute(method, url.path, params, idempotency_key)
        except StripeError as error:
            status, payload = error.status, error.body
            if error.should_retry is not None:
                response_headers["Stripe-Should-Retry"] = str(error.should_retry).lower()
        if idempotency_key is not None:
            response_headers["Idempotency-Key"] = idempotency_key
        if replayed:
            response_headers["Idempotent-Replayed"] = "true"
        with self._lock:
            self._seen.append(SeenRequest(method, url.path, idempotency_key, status, replayed))
        return status, response_headers, json.dumps(payload).encode(), events

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise StripeError(401, f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}")

    def _execute(
        self, method: str, path: str, params: dict[str, Any], idempotency_key: str | None
    ) -> tuple[int, dict[str, Any], bool, list[dict[str, Any]]]:
        """Run a request under the state lock, replaying or refusing a reused idempotency key.

        Like Stripe, only a request that executed stores its result: one that failed
        validation may be retried with the same key and different parameters, while a
        card decline is an outcome, stored and replayed even after the card is fixed.
        The stored result is a snapshot, so a replay shows the object as first
        returned even if it has changed since (a subscription canceled in between).
        A refused request emits nothing; a replay emits nothing again.
        """
        handler, match = self._route(method, path)
        if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise StripeError(
                400,
                f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._idempotent:
                stored = self._idempotent[idempotency_key]
                if (stored.method, stored.path, stored.params) != (method, path, params):
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
                        "execute a different request.",
                        error_type="idempotency_error",
                    )
                return stored.status, stored.body, True, []
            try:
                status, body = 200, wire.copy_json(handler(self, params, *match.groups()))
            except StripeError as error:
                if error.body["error"]["type"] != "card_error":
                    self._outbox.clear()
                    raise
                status, body = error.status, error.body
            if idempotency_key is not None:
                self._idempotent[idempotency_key] = _Stored(method, path, params, status, body)
                while len(self._idempotent) > MAX_IDEMPOTENT_RESPONSES:
                    self._idempotent.popitem(last=False)
            return status, body, False, self._take_outbox()

    def _route(self, method: str, path: str) -> tuple[Callable[..., dict[str, Any]], re.Match[str]]:
        for route_method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``Server.handle`` calls; holds no state of its own."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake: Server = self.server.fake  # type: ignore[attr-defined]
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else -1
        events: list[dict[str, Any]] = []
        path = urlsplit(self.path).path
        if not 0 <= length <= MAX_BODY_BYTES:
            status = 400 if length < 0 else 413
            headers: dict[str, str] = {"Connection": "close"}
            body = json.dumps(StripeError(status, "Invalid or oversized request body.").body).encode()
        elif path.startswith(checkout_page.PAGE_PREFIX) and isinstance(fake, Checkout):
            status, headers, body = checkout_page.answer(fake, self.command, path, self.rfile.read(length))
        else:
            raw = self.rfile.read(length)
            lowered = {name.lower(): value for name, value in self.headers.items()}
            status, headers, body, events = fake.handle(self.command, self.path, lowered, raw)
        self.send_response(status, HTTPStatus(status).phrase)
        if "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        fake._deliver_emitted(events)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: ``requests()`` is the record tests read."""


def _fault_error(fault: _Fault) -> StripeError:
    status = fault.status or 500
    if fault.error_type == "card_error":
        return wire.card_declined(status, should_retry=fault.should_retry)
    return StripeError(
        status,
        _STATUS_MESSAGE.get(status, f"Injected failure ({status})."),
        error_type=fault.error_type or _STATUS_ERROR_TYPE.get(status, "api_error"),
        code=_STATUS_ERROR_CODE.get(status),
        should_retry=fault.should_retry,
    )


def _form_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StripeError(400, "Request body is not UTF-8.") from error
