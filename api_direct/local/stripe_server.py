"""An in-memory fake of the slice of Stripe's REST API that billing and payouts use.

``apid sandbox`` and the tests must never reach Stripe, and ``stripe-mock`` cannot
be installed from the package registries, so this module serves the endpoints
billing and payouts use on loopback, in Stripe's own wire
format: form-encoded request bodies with nested keys (``items[0][price]=...``),
``Authorization: Bearer sk_test_...``, JSON objects with ``object`` and prefixed
``id`` fields, list envelopes, Stripe's error envelope and statuses, and
``Idempotency-Key`` replay. The official ``stripe`` library talks to it unchanged
through ``StripeClient(base_addresses={"api": fake.base_url})``, so a test
exercises the library's real encoding, error mapping and retries. Objects have
the shapes of API version 2025-03-31.basil and later: billing periods on
subscription items, an invoice's subscription under ``parent``, a line's price
under ``pricing``.

The fake is stricter than Stripe where Stripe would fail later or silently: an
unknown parameter is rejected (as Stripe does), and a meter event whose payload
lacks the meter's customer or integer value is rejected at once, where Stripe
accepts it and reports the problem asynchronously in a meter error report.

Time is the one thing a test drives by hand. Stripe invoices a subscription when
its period ends; here a period ends when a test calls ``close_billing_period``,
which invoices every live subscription in arrears (licensed and metered items
alike; there is no first invoice at creation), tries the customer's card (every
card works until ``decline_cards``) and delivers signed webhook events to the
endpoints registered with ``add_webhook_endpoint``.

    with running_stripe_fake() as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.base_url})
        client.v1.customers.create({"email": "a@example.com"})
"""

import calendar
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOST = "127.0.0.1"
#: Webhook endpoints must be on this machine: no test may reach the internet.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Stripe caps idempotency keys at 255 characters.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
#: Larger bodies are refused unread; nothing in this slice comes close.
MAX_BODY_BYTES = 64 * 1024
MAX_FORM_FIELDS = 1000
#: Objects of all kinds one fake may hold; a test that needs more has a bug.
MAX_OBJECTS = 10_000
#: Stored idempotent responses; the oldest is forgotten first, as Stripe forgets after 24 h.
MAX_IDEMPOTENT_RESPONSES = 10_000
MAX_SEEN_REQUESTS = 10_000
#: Events kept for ``redeliver``; the oldest is forgotten first, as Stripe forgets after 30 days.
MAX_EVENTS = 10_000
#: Stripe allows 16 webhook endpoints per account.
MAX_WEBHOOK_ENDPOINTS = 16
#: How long one delivery may take before it counts as failed (the fake's bound, not Stripe's).
WEBHOOK_TIMEOUT_SECONDS = 10.0
#: A pending fault may repeat at most this often, and stall at most this long.
MAX_FAULT_COUNT = 100
MAX_STALL_SECONDS = 10.0
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10
#: Stripe accepts decimal amounts with at most 12 decimal places.
_DECIMAL = re.compile(r"\d{1,12}(\.\d{1,12})?")
_PAYMENT_BEHAVIORS = ("allow_incomplete", "error_if_incomplete", "default_incomplete")
_PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
_STATUS_ERROR_TYPE = {429: "invalid_request_error"}
_STATUS_ERROR_CODE = {429: "rate_limit"}
_STATUS_MESSAGE = {
    429: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    500: "An unknown error occurred",
}


class StripeError(Exception):
    """A request Stripe would refuse, carried to the handler as Stripe's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.should_retry = should_retry
        self.body: dict[str, Any] = {"error": {"type": error_type, "message": message}}
        for name, value in (("code", code), ("decline_code", decline_code), ("param", param)):
            if value is not None:
                self.body["error"][name] = value


@dataclass(frozen=True)
class SeenRequest:
    """One request as the fake received it, so tests can check what the library sent."""

    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an event to a webhook endpoint.

    ``status`` is the endpoint's HTTP status, or None when it could not be reached
    or did not answer in time; like Stripe, the fake counts only 2xx as delivered.
    """

    event_id: str
    event_type: str
    url: str
    status: int | None


@dataclass
class _Fault:
    """What the next matching request suffers before (or instead of) being handled."""

    status: int | None
    error_type: str | None
    should_retry: bool | None
    stall_seconds: float


@dataclass
class _Stored:
    """An idempotent request's identity and the response it got, for replay."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class _Endpoint:
    """A registered webhook endpoint and the secret its deliveries are signed with."""

    url: str
    secret: str


@dataclass
class StripeFake:
    """A running fake: where it listens, the key it accepts, and hooks for tests.

    Every state read returns copies, so a test cannot change the fake by accident.
    """

    base_url: str
    api_key: str
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _meter_events: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _idempotent: OrderedDict[str, _Stored] = field(default_factory=OrderedDict, repr=False)
    _seen: deque[SeenRequest] = field(default_factory=lambda: deque(maxlen=MAX_SEEN_REQUESTS), repr=False)
    _faults: deque[_Fault] = field(default_factory=deque, repr=False)
    #: A price's tiers live apart from it: Stripe shows them only when expanded.
    _tiers: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    #: Where each subscription's current period began; Basil shows periods on items only.
    _period_starts: dict[str, int] = field(default_factory=dict, repr=False)
    _declined: set[str] = field(default_factory=set, repr=False)
    _endpoints: list[_Endpoint] = field(default_factory=list, repr=False)
    _events: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict, repr=False)
    _deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=MAX_SEEN_REQUESTS), repr=False)

    # Faults.

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

    # What a customer or seller does outside the API.

    def complete_onboarding(self, account_id: str) -> None:
        """Do what a seller finishing Express onboarding does: enable transfers and payouts.

        Stripe refuses a transfer to an account whose ``transfers`` capability is
        not active, so a payout test must onboard its seller first.
        """
        with self._lock:
            account = self._get("account", account_id)
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["capabilities"] = {name: "active" for name in account["capabilities"]}

    def decline_cards(self, customer_id: str) -> None:
        """Make every payment by this customer fail with Stripe's generic decline.

        It affects subscriptions created with ``payment_behavior=error_if_incomplete``
        (refused with a 402 ``card_error``) and the invoices ``close_billing_period``
        and ``pay_invoice`` try to collect (left ``open``). ``accept_cards`` undoes it.
        """
        with self._lock:
            self._declined.add(self._get("customer", customer_id)["id"])

    def accept_cards(self, customer_id: str) -> None:
        """Let this customer pay again, as after updating a declined card."""
        with self._lock:
            self._declined.discard(self._get("customer", customer_id)["id"])

    # Billing periods and webhooks.

    def add_webhook_endpoint(self, url: str) -> str:
        """Register an endpoint for every event the fake emits; return its ``whsec_`` signing secret.

        Each endpoint has its own secret, as on Stripe. Only loopback URLs are
        accepted, so a test cannot deliver to the internet by mistake.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError(f"webhook endpoints must be http(s) URLs on loopback, not {url!r}")
        secret = f"whsec_{secrets.token_urlsafe(24)}"
        with self._lock:
            if len(self._endpoints) >= MAX_WEBHOOK_ENDPOINTS:
                raise ValueError(f"Stripe allows at most {MAX_WEBHOOK_ENDPOINTS} webhook endpoints")
            self._endpoints.append(_Endpoint(url, secret))
        return secret

    def close_billing_period(self, at: int | None = None) -> list[dict[str, Any]]:
        """End the current period of every subscription that is not canceled, as Stripe does at renewal.

        Each gets one invoice (``billing_reason=subscription_cycle``) with a line per
        item: a licensed item bills its price for its quantity, a metered item bills
        the customer's usage on the price's meter (aggregated by the meter's formula)
        over the item's period, per unit or through the price's tiers. A line's
        amount is rounded to a whole cent, half up, once per line. Items removed
        during the period are not billed and nothing is prorated.

        The period ends at the first whole second after the call, and the call
        waits for that second to pass (under a second), so every meter event
        reported before it is in the period and every one reported after it falls
        in the next; meter event timestamps have one-second resolution. Each
        invoice is then collected (paid, unless the customer's cards are declined,
        when it stays ``open`` after one attempt), a subscription set to
        ``cancel_at_period_end`` becomes ``canceled``, and ``invoice.paid`` or
        ``invoice.payment_failed`` and ``customer.subscription.deleted`` events are
        delivered, in that order, before the call returns. Returns the new invoices.

        ``at`` (epoch seconds) ends the period then instead, without waiting, as
        advancing a Stripe test clock does: a test can bill usage stamped later
        than now (a whole hour, reported when it closes) in the period it belongs to.
        """
        period_end = int(time.time()) + 1 if at is None else at
        if at is None:
            time.sleep(max(0.0, period_end - time.time()))
        with self._lock:
            invoices: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for subscription in list(self._objects.get("subscription", {}).values()):
                if subscription["status"] == "canceled":
                    continue
                invoice = self._invoice_period(subscription, period_end)
                invoices.append(invoice)
                events.append(self._record_event(_payment_event_type(invoice), invoice))
                if subscription["cancel_at_period_end"]:
                    subscription.update(status="canceled", ended_at=period_end)
                    events.append(self._record_event("customer.subscription.deleted", subscription))
            endpoints = list(self._endpoints)
            closed = _copy(invoices)
        self._deliver(events, endpoints)
        return closed

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Retry collecting an ``open`` invoice, as Stripe's retries do; return it.

        The attempt fails again while the customer's cards are declined (call
        ``accept_cards`` first). Either way the outcome is delivered as an event.
        """
        with self._lock:
            invoice = self._get("invoice", invoice_id)
            if invoice["status"] != "open":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not open")
            self._collect(invoice)
            event = self._record_event(_payment_event_type(invoice), invoice)
            endpoints = list(self._endpoints)
            paid = _copy(invoice)
        self._deliver([event], endpoints)
        return paid

    def redeliver(self, event_id: str, url: str | None = None) -> list[Delivery]:
        """Send an event again with its original id, freshly signed, as Stripe's retries do.

        Goes to every registered endpoint, or only to ``url``. A receiver must
        therefore recognise an event id it has already handled.
        """
        with self._lock:
            if event_id not in self._events:
                raise KeyError(f"no event {event_id!r} in the fake")
            event = self._events[event_id]
            endpoints = [endpoint for endpoint in self._endpoints if url in (None, endpoint.url)]
        if not endpoints:
            raise KeyError(f"no webhook endpoint {url!r}" if url else "no webhook endpoints registered")
        return self._deliver([event], endpoints)

    # State reads for tests.

    def requests(self) -> list[SeenRequest]:
        """Every request received so far (the most recent ``MAX_SEEN_REQUESTS``), oldest first."""
        with self._lock:
            return list(self._seen)

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt, redeliveries included, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def events(self) -> list[dict[str, Any]]:
        """Events emitted (the most recent ``MAX_EVENTS``), oldest first, whether or not delivered."""
        with self._lock:
            return _copy(list(self._events.values()))

    def meter_events(self) -> list[dict[str, Any]]:
        """Meter events as accepted, oldest first; a refused repeat of an ``identifier`` is absent."""
        with self._lock:
            return _copy(self._meter_events)

    def transfers(self) -> list[dict[str, Any]]:
        """Transfers created, oldest first."""
        return self._all("transfer")

    def customers(self) -> list[dict[str, Any]]:
        """Customers created, oldest first."""
        return self._all("customer")

    def invoices(self) -> list[dict[str, Any]]:
        """Invoices made by ``close_billing_period``, oldest first, in their current state."""
        return self._all("invoice")

    def _all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return _copy(list(self._objects.get(kind, {}).values()))

    def usage(self, meter_id: str, customer_id: str) -> int:
        """A customer's usage on a meter over all time, aggregated by the meter's formula.

        Stripe aggregates per billing period and asynchronously; this reads the
        whole total, immediately (``close_billing_period`` bills by period).
        """
        with self._lock:
            return self._aggregate(self._get("billing.meter", meter_id), customer_id)

    def balance_of(self, account_id: str) -> int:
        """What a connected account has received: its transfers, net of reversals, in minor units.

        Refuses an account paid in more than one currency, whose balance is not one number.
        """
        with self._lock:
            self._get("account", account_id)
            transfers = [t for t in self._objects.get("transfer", {}).values() if t["destination"] == account_id]
        currencies = {transfer["currency"] for transfer in transfers}
        if len(currencies) > 1:
            raise ValueError(f"account {account_id} holds transfers in {sorted(currencies)}")
        return sum(transfer["amount"] - transfer["amount_reversed"] for transfer in transfers)

    def _get(self, kind: str, object_id: str) -> dict[str, Any]:
        """An object for a test hook; a missing one is the test's bug, so a KeyError, not a 404."""
        found = self._objects.get(kind, {}).get(object_id)
        if found is None:
            raise KeyError(f"no {kind} {object_id!r} in the fake")
        return found

    # Request handling: everything below runs on the server's threads.

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: status, extra headers and JSON body."""
        url = urlsplit(target)
        idempotency_key = headers.get("idempotency-key") if method == "POST" else None
        fault = self._take_fault()
        if fault is not None and fault.stall_seconds:
            self._stopping.wait(fault.stall_seconds)
        replayed = False
        response_headers = {"Request-Id": _new_id("req")}
        try:
            if fault is not None and fault.status is not None:
                raise _fault_error(fault)
            self._authenticate(headers.get("authorization", ""))
            params = parse_form(url.query if method != "POST" else _form_text(body))
            status, payload, replayed = self._execute(method, url.path, params, idempotency_key)
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
        return status, response_headers, json.dumps(payload).encode()

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
    ) -> tuple[int, dict[str, Any], bool]:
        """Run a request under the state lock, replaying or refusing a reused idempotency key.

        Like Stripe, only a request that executed stores its result: one that failed
        validation may be retried with the same key and different parameters, while a
        card decline is an outcome, stored and replayed even after the card is fixed.
        The stored result is a snapshot, so a replay shows the object as first
        returned even if it has changed since (a subscription canceled in between).
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
                return stored.status, stored.body, True
            try:
                status, body = 200, _copy(handler(params, *match.groups()))
            except StripeError as error:
                if error.body["error"]["type"] != "card_error":
                    raise
                status, body = error.status, error.body
            if idempotency_key is not None:
                self._idempotent[idempotency_key] = _Stored(method, path, params, status, body)
                while len(self._idempotent) > MAX_IDEMPOTENT_RESPONSES:
                    self._idempotent.popitem(last=False)
            return status, body, False

    def _route(self, method: str, path: str) -> tuple[Callable[..., dict[str, Any]], re.Match[str]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    @cached_property
    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., dict[str, Any]]]]:
        """The endpoints served: every other method and path is Stripe's "Unrecognized request URL"."""
        table: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("POST", "/v1/customers", self._create_customer),
            ("GET", "/v1/customers/([^/]+)", self._get_customer),
            ("POST", "/v1/products", self._create_product),
            ("POST", "/v1/prices", self._create_price),
            ("GET", "/v1/prices/([^/]+)", self._get_price),
            ("POST", "/v1/billing/meters", self._create_meter),
            ("GET", "/v1/billing/meters", self._list_meters),
            ("POST", "/v1/billing/meter_events", self._create_meter_event),
            ("POST", "/v1/subscriptions", self._create_subscription),
            ("GET", "/v1/subscriptions/([^/]+)", self._get_subscription),
            ("POST", "/v1/subscriptions/([^/]+)", self._update_subscription),
            ("DELETE", "/v1/subscriptions/([^/]+)", self._cancel_subscription),
            ("GET", "/v1/invoices/([^/]+)", self._get_invoice),
            ("POST", "/v1/accounts", self._create_account),
            ("GET", "/v1/accounts/([^/]+)", self._get_account),
            ("POST", "/v1/account_links", self._create_account_link),
            ("POST", "/v1/transfers", self._create_transfer),
            ("GET", "/v1/transfers", self._list_transfers),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        if sum(len(kind) for kind in self._objects.values()) >= MAX_OBJECTS:
            raise StripeError(400, f"The Stripe fake holds at most {MAX_OBJECTS} objects.")
        self._objects.setdefault(obj["object"], {})[obj["id"]] = obj
        return obj

    def _find(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        found = self._objects.get(kind, {}).get(object_id)
        if found is None:
            # Stripe answers a missing path id with 404 and a missing referenced id with 400.
            status = 404 if param == "id" else 400
            name = kind.split(".")[-1].replace("_", " ")
            raise StripeError(status, f"No such {name}: '{object_id}'", code="resource_missing", param=param)
        return found

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, "email", "name", "description", "metadata")
        return self._store(
            {
                **_base("cus", "customer"),
                "email": params.get("email"),
                "name": params.get("name"),
                "description": params.get("description"),
                "metadata": _metadata(params),
            }
        )

    def _get_customer(self, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        _allow(params)
        return self._find("customer", customer_id)

    def _create_product(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, "name", "description", "metadata")
        return self._store(
            {
                **_base("prod", "product"),
                "active": True,
                "name": _required(params, "name"),
                "description": params.get("description"),
                "metadata": _metadata(params),
            }
        )

    def _create_price(self, params: dict[str, Any]) -> dict[str, Any]:
        """A one-off or recurring price, charged per unit or through tiers.

        A per-unit price needs ``unit_amount`` or ``unit_amount_decimal`` (cents,
        at most 12 decimal places); a tiered one needs ``tiers`` and ``tiers_mode``
        instead, and Stripe refuses a unit amount beside them. As on Stripe, the
        response carries ``tiers`` only when asked with ``expand[]=tiers``.
        """
        _allow(
            params,
            *("currency", "product", "unit_amount", "unit_amount_decimal", "billing_scheme", "tiers"),
            *("tiers_mode", "recurring", "nickname", "lookup_key", "metadata", "expand"),
        )
        product = self._find("product", _required(params, "product"), param="product")["id"]
        expand = _expand(params, "tiers")
        recurring = self._recurring(params)
        scheme = _one_of(params, "billing_scheme", ("per_unit", "tiered"), default="per_unit")
        tiers: list[dict[str, Any]] | None = None
        tiers_mode: str | None = None
        unit_amount: int | None = None
        unit_amount_decimal: str | None = None
        if scheme == "tiered":
            for name in ("unit_amount", "unit_amount_decimal"):
                if name in params:
                    raise StripeError(400, f"You may only specify one of these parameters: {name}, tiers.", param=name)
            tiers_mode = _one_of(params, "tiers_mode", ("graduated", "volume"))
            tiers = _tiers(params)
        else:
            for name in ("tiers", "tiers_mode"):
                if name in params:
                    raise StripeError(400, f"`{name}` requires `billing_scheme` to be `tiered`.", param=name)
            unit_amount, unit_amount_decimal = _amount(params, "unit_amount")
            if unit_amount_decimal is None:
                raise StripeError(
                    400, "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount"
                )
        price = self._store(
            {
                **_base("price", "price"),
                "active": True,
                "billing_scheme": scheme,
                "currency": _required(params, "currency").lower(),
                "product": product,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_amount_decimal,
                "tiers_mode": tiers_mode,
                "recurring": recurring,
                "type": "one_time" if recurring is None else "recurring",
                "nickname": params.get("nickname"),
                "lookup_key": params.get("lookup_key"),
                "metadata": _metadata(params),
            }
        )
        if tiers is not None:
            self._tiers[price["id"]] = tiers
        return self._price_view(price, expand)

    def _recurring(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """A price's ``recurring`` hash; a metered price must name its billing meter.

        Since API version 2025-03-31 Stripe bills usage only through meters, so
        ``recurring[usage_type]=metered`` without ``recurring[meter]`` is refused.
        """
        if params.get("recurring") is None:
            return None
        recurring = _nested(params["recurring"], "recurring")
        _allow(recurring, "interval", "interval_count", "usage_type", "meter", prefix="recurring")
        interval = _one_of(recurring, "interval", ("day", "week", "month", "year"), prefix="recurring")
        usage_type = _one_of(recurring, "usage_type", ("licensed", "metered"), prefix="recurring", default="licensed")
        meter = recurring.get("meter")
        if usage_type == "metered" and meter is None:
            raise StripeError(
                400, "Metered prices must be backed by a meter.", code="parameter_missing", param="recurring[meter]"
            )
        if meter is not None:
            self._find("billing.meter", meter, param="recurring[meter]")
        return {
            "interval": interval,
            "interval_count": _integer(recurring, "interval_count", prefix="recurring", default=1),
            "meter": meter,
            "usage_type": usage_type,
        }

    def _get_price(self, params: dict[str, Any], price_id: str) -> dict[str, Any]:
        _allow(params, "expand")
        return self._price_view(self._find("price", price_id), _expand(params, "tiers"))

    def _price_view(self, price: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        return {**price, "tiers": self._tiers.get(price["id"])} if "tiers" in expand else price

    def _create_meter(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, "display_name", "event_name", "default_aggregation", "customer_mapping", "value_settings")
        event_name = _required(params, "event_name")
        aggregation = _nested(_required(params, "default_aggregation"), "default_aggregation")
        formula = _one_of(aggregation, "formula", ("sum", "count", "last"), prefix="default_aggregation")
        mapping = _nested(params.get("customer_mapping", {}), "customer_mapping")
        value_settings = _nested(params.get("value_settings", {}), "value_settings")
        if any(meter["event_name"] == event_name for meter in self._objects.get("billing.meter", {}).values()):
            raise StripeError(
                400, f"An active meter with event_name '{event_name}' already exists.", param="event_name"
            )
        return self._store(
            {
                **_base("mtr", "billing.meter"),
                "display_name": _required(params, "display_name"),
                "event_name": event_name,
                "status": "active",
                "default_aggregation": {"formula": formula},
                "customer_mapping": {
                    "type": mapping.get("type", "by_id"),
                    "event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
                },
                "value_settings": {"event_payload_key": value_settings.get("event_payload_key", "value")},
            }
        )

    def _list_meters(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, "limit", "starting_after", "status")
        return self._list("billing.meter", "/v1/billing/meters", params, status=params.get("status"))

    def _list_transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        """Transfers, newest first, filtered by ``transfer_group`` or ``destination`` as Stripe filters them."""
        _allow(params, "limit", "starting_after", "transfer_group", "destination")
        return self._list(
            "transfer",
            "/v1/transfers",
            params,
            transfer_group=params.get("transfer_group"),
            destination=params.get("destination"),
        )

    def _list(self, kind: str, url: str, params: dict[str, Any], **filters: str | None) -> dict[str, Any]:
        """Stripe's list envelope over the objects of ``kind`` matching every given filter, newest first."""
        found = [
            obj
            for obj in self._objects.get(kind, {}).values()
            if all(value is None or obj.get(name) == value for name, value in filters.items())
        ]
        found.reverse()
        if "starting_after" in params:
            ids = [obj["id"] for obj in found]
            if params["starting_after"] not in ids:
                self._find(kind, params["starting_after"], param="starting_after")
            found = found[ids.index(params["starting_after"]) + 1 :]
        limit = _integer(params, "limit", default=DEFAULT_LIST_LIMIT)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StripeError(400, f"Invalid limit: must be between 1 and {MAX_LIST_LIMIT}", param="limit")
        return {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": url}

    def _create_meter_event(self, params: dict[str, Any]) -> dict[str, Any]:
        """Record usage; a repeated ``identifier`` is refused, so usage is counted once.

        Stripe enforces identifier uniqueness over a rolling 24 hours and answers a
        repeat with a 400 ``invalid_request_error`` and ``Stripe-Should-Retry: false``
        (no error code is documented, so the fake sends none). The fake remembers
        identifiers for its whole life, which no test outlasts.
        """
        _allow(params, "event_name", "payload", "identifier", "timestamp")
        event_name = _required(params, "event_name")
        payload = _nested(_required(params, "payload"), "payload")
        identifier = params.get("identifier") or _new_id("evtid")
        if any(event["identifier"] == identifier for event in self._meter_events):
            raise StripeError(
                400, f"An event already exists with identifier {identifier}.", param="identifier", should_retry=False
            )
        for meter in self._objects.get("billing.meter", {}).values():
            if meter["event_name"] == event_name:
                customer_key = meter["customer_mapping"]["event_payload_key"]
                value_key = meter["value_settings"]["event_payload_key"]
                _required(payload, customer_key, prefix="payload")
                _required(payload, value_key, prefix="payload")
                _integer(payload, value_key, prefix="payload")
        if len(self._meter_events) >= MAX_OBJECTS:
            raise StripeError(400, f"The Stripe fake holds at most {MAX_OBJECTS} meter events.")
        event = {
            "object": "billing.meter_event",
            "created": int(time.time()),
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": _integer(params, "timestamp", default=int(time.time())),
        }
        self._meter_events.append(event)
        return event

    def _create_subscription(self, params: dict[str, Any]) -> dict[str, Any]:
        """An ``active`` subscription, or Stripe's card error if it must be paid now and cannot be.

        The fake invoices in arrears only, so whatever ``payment_behavior`` says a
        subscription starts active, except in the one case where Stripe refuses the
        request outright: ``error_if_incomplete`` for a customer whose cards are
        declined, with an item that costs something up front (a licensed price with
        a non-zero amount).
        """
        _allow(params, "customer", "items", "metadata", "payment_behavior", "collection_method")
        customer = self._find("customer", _required(params, "customer"), param="customer")["id"]
        payment_behavior = _one_of(params, "payment_behavior", _PAYMENT_BEHAVIORS, default="allow_incomplete")
        collection_method = _one_of(
            params, "collection_method", ("charge_automatically",), default="charge_automatically"
        )
        subscription = _base("sub", "subscription")
        now = subscription["created"]
        items = [
            self._new_item(_nested(entry, f"items[{index}]"), f"items[{index}]", subscription["id"], now)
            for index, entry in enumerate(_array(params, "items"))
        ]
        currency = _check_items(items)
        metadata = _metadata(params)
        if (
            customer in self._declined
            and payment_behavior == "error_if_incomplete"
            and any(self._due_up_front(item) for item in items)
        ):
            raise _card_declined()
        subscription.update(
            customer=customer,
            status="active",
            billing_cycle_anchor=now,
            cancel_at=None,
            cancel_at_period_end=False,
            canceled_at=None,
            collection_method=collection_method,
            currency=currency,
            ended_at=None,
            items=_item_list(subscription["id"], items),
            latest_invoice=None,
            metadata=metadata,
            start_date=now,
        )
        self._store(subscription)
        self._period_starts[subscription["id"]] = now
        return subscription

    def _new_item(self, entry: dict[str, Any], prefix: str, subscription_id: str, period_start: int) -> dict[str, Any]:
        """A subscription item whose period starts at ``period_start``."""
        _allow(entry, "price", "quantity", prefix=prefix)
        return {
            **_base("si", "subscription_item"),
            **self._item_pricing(entry, prefix, period_start),
            "metadata": {},
            "subscription": subscription_id,
        }

    def _item_pricing(self, entry: dict[str, Any], prefix: str, period_start: int) -> dict[str, Any]:
        """An item's ``price``, ``quantity`` and period, from ``price`` and ``quantity`` params.

        Metered items have no quantity: their usage comes from the price's meter.
        """
        price = self._find("price", _required(entry, "price", prefix=prefix), param=f"{prefix}[price]")
        if price["recurring"] is None:
            raise StripeError(
                400,
                "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                param=f"{prefix}[price]",
            )
        quantity = _integer(entry, "quantity", prefix=prefix, default=1)
        if price["recurring"]["usage_type"] == "metered":
            if "quantity" in entry:
                raise StripeError(
                    400,
                    f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `{prefix}`.",
                    param=f"{prefix}[quantity]",
                )
            quantity = None
        elif quantity is not None and quantity < 0:
            raise StripeError(400, "This value must be greater than or equal to 0.", param=f"{prefix}[quantity]")
        return {
            "price": price,
            "quantity": quantity,
            "current_period_start": period_start,
            "current_period_end": _period_end(period_start, price["recurring"]),
        }

    def _due_up_front(self, item: dict[str, Any]) -> bool:
        price = item["price"]
        return price["recurring"]["usage_type"] == "licensed" and self._amount_for(price, item["quantity"]) > 0

    def _get_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        _allow(params)
        return self._find("subscription", subscription_id)

    def _update_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        """Change items, ``cancel_at_period_end`` or metadata; every parameter is checked before any applies.

        ``items[i][id]`` with ``items[i][deleted]=true`` removes an item,
        ``items[i][price]`` alone adds one, ``items[i][id]`` with a price or quantity
        changes one in place. Metadata merges into what is there, and a key set to
        the empty string is removed, as on Stripe. ``proration_behavior`` is checked
        and ignored: the fake never prorates. A canceled subscription may only have
        its metadata changed, as on Stripe.
        """
        _allow(params, "items", "cancel_at_period_end", "metadata", "proration_behavior")
        subscription = self._find("subscription", subscription_id)
        if subscription["status"] == "canceled" and set(params) - {"metadata"}:
            raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        _one_of(params, "proration_behavior", _PRORATION_BEHAVIORS, default="create_prorations")
        cancel_at_period_end = _boolean(params, "cancel_at_period_end")
        items = subscription["items"]["data"]
        if "items" in params:
            items = self._updated_items(subscription, _array(params, "items"))
        metadata = _merged_metadata(subscription["metadata"], params)
        subscription.update(items=_item_list(subscription_id, items), metadata=metadata)
        if cancel_at_period_end is True:
            # Stripe records when cancellation was asked for in canceled_at, and when it happens in cancel_at.
            period_end = max(item["current_period_end"] for item in items)
            subscription.update(cancel_at_period_end=True, canceled_at=int(time.time()), cancel_at=period_end)
        elif cancel_at_period_end is False:
            subscription.update(cancel_at_period_end=False, canceled_at=None, cancel_at=None)
        return subscription

    def _updated_items(self, subscription: dict[str, Any], entries: list[Any]) -> list[dict[str, Any]]:
        """The subscription's items after ``entries``, built as new dicts so a refusal changes nothing."""
        items = list(subscription["items"]["data"])
        now = int(time.time())
        for index, entry in enumerate(entries):
            prefix = f"items[{index}]"
            entry = _nested(entry, prefix)
            _allow(entry, "id", "price", "quantity", "deleted", prefix=prefix)
            deleted = _boolean(entry, "deleted", prefix=prefix)
            if "id" not in entry and not deleted:
                fields = {name: value for name, value in entry.items() if name != "deleted"}
                items.append(self._new_item(fields, prefix, subscription["id"], now))
                continue
            item_id = _required(entry, "id", prefix=prefix)
            position = next((i for i, item in enumerate(items) if item["id"] == item_id), None)
            if position is None:
                raise StripeError(
                    400, f"No such subscription item: '{item_id}'", code="resource_missing", param=f"{prefix}[id]"
                )
            current = items.pop(position)
            if deleted:
                continue
            changes = {"price": current["price"]["id"], **{k: entry[k] for k in ("price", "quantity") if k in entry}}
            pricing = self._item_pricing(changes, prefix, current["current_period_start"])
            if "quantity" not in entry and pricing["quantity"] is not None and current["quantity"] is not None:
                pricing["quantity"] = current["quantity"]  # A new price keeps the seats already bought.
            items.insert(position, {**current, **pricing})
        if not items:
            raise StripeError(400, "A subscription must have at least one item.", param="items")
        _check_items(items)
        return items

    def _cancel_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        """Cancel now: no final invoice, as Stripe's default (``invoice_now=false``)."""
        _allow(params)
        subscription = self._find("subscription", subscription_id)
        if subscription["status"] != "canceled":
            now = int(time.time())
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
        return subscription

    def _get_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        _allow(params)
        return self._find("invoice", invoice_id)

    def _create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        """An Express account that has not onboarded: nothing enabled until ``complete_onboarding``."""
        _allow(params, "type", "country", "email", "capabilities", "metadata")
        account_type = _one_of(params, "type", ("express",))
        capabilities = _nested(params.get("capabilities", {"transfers": {"requested": "true"}}), "capabilities")
        return self._store(
            {
                **_base("acct", "account"),
                "type": account_type,
                "country": params.get("country", "US"),
                "email": params.get("email"),
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "capabilities": {name: "inactive" for name in capabilities},
                "metadata": _metadata(params),
            }
        )

    def _get_account(self, params: dict[str, Any], account_id: str) -> dict[str, Any]:
        _allow(params)
        return self._find("account", account_id)

    def _create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        """An onboarding link that points back at the fake, never at a Stripe host."""
        _allow(params, "account", "refresh_url", "return_url", "type")
        account = self._find("account", _required(params, "account"), param="account")["id"]
        _required(params, "refresh_url")
        _required(params, "return_url")
        _one_of(params, "type", ("account_onboarding", "account_update"))
        created = int(time.time())
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": f"{self.base_url}/setup/e/{account}/{secrets.token_urlsafe(16)}",
        }

    def _create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        _allow(params, "amount", "currency", "destination", "transfer_group", "description", "metadata")
        _required(params, "amount")
        amount = _integer(params, "amount")
        if amount <= 0:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="amount")
        destination = self._find("account", _required(params, "destination"), param="destination")
        if destination["capabilities"].get("transfers") != "active":
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        transfer = _base("tr", "transfer")
        return self._store(
            {
                **transfer,
                "amount": amount,
                "amount_reversed": 0,
                "currency": _required(params, "currency").lower(),
                "destination": destination["id"],
                "destination_payment": _new_id("py"),
                "balance_transaction": _new_id("txn"),
                "description": params.get("description"),
                "reversed": False,
                "reversals": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/transfers/{transfer['id']}/reversals",
                },
                "transfer_group": params.get("transfer_group"),
                "metadata": _metadata(params),
            }
        )

    # Billing: called with the lock held.

    def _invoice_period(self, subscription: dict[str, Any], period_end: int) -> dict[str, Any]:
        """Invoice a subscription's period up to ``period_end``, collect it and start the next period."""
        invoice = _base("in", "invoice")
        customer = self._objects["customer"][subscription["customer"]]
        items = subscription["items"]["data"]
        lines = [self._invoice_line(invoice["id"], subscription, item, period_end) for item in items]
        total = sum(line["amount"] for line in lines)
        invoice.update(
            amount_due=total,
            amount_paid=0,
            amount_remaining=total,
            attempt_count=0,
            attempted=False,
            auto_advance=True,
            billing_reason="subscription_cycle",
            collection_method=subscription["collection_method"],
            currency=subscription["currency"],
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            description=None,
            due_date=None,
            lines={
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice['id']}/lines",
            },
            metadata={},
            next_payment_attempt=None,
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]),
                    "subscription": subscription["id"],
                    "subscription_proration_date": None,
                },
            },
            period_start=self._period_starts[subscription["id"]],
            period_end=period_end,
            status="open",
            status_transitions={
                "finalized_at": invoice["created"],
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            subtotal=total,
            total=total,
        )
        self._store(invoice)
        self._collect(invoice)
        for item in items:
            item.update(
                current_period_start=period_end, current_period_end=_period_end(period_end, item["price"]["recurring"])
            )
        self._period_starts[subscription["id"]] = period_end
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def _invoice_line(
        self, invoice_id: str, subscription: dict[str, Any], item: dict[str, Any], period_end: int
    ) -> dict[str, Any]:
        price = item["price"]
        quantity = item["quantity"]
        if quantity is None:
            meter = self._objects["billing.meter"][price["recurring"]["meter"]]
            quantity = self._aggregate(meter, subscription["customer"], item["current_period_start"], period_end)
        amount = int(self._amount_for(price, quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        product = self._objects["product"][price["product"]]
        return {
            "id": _new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": price["currency"],
            "description": f"{quantity} × {product['name']}",
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription["id"],
                    "subscription_item": item["id"],
                },
            },
            "period": {"start": item["current_period_start"], "end": period_end},
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "quantity": quantity,
            "subscription": subscription["id"],
            "subtotal": amount,
            "taxes": [],
        }

    def _amount_for(self, price: dict[str, Any], quantity: int) -> Decimal:
        """What ``quantity`` units cost at ``price``, in cents, unrounded.

        Graduated tiers bill each unit at the tier it falls in, plus the flat amount
        of every tier reached (the first always: zero units fall in it); volume
        tiers bill every unit at the tier the total falls in, plus its flat amount.
        """
        if price["billing_scheme"] == "per_unit":
            return Decimal(price["unit_amount_decimal"]) * quantity
        tiers = self._tiers[price["id"]]
        if price["tiers_mode"] == "volume":
            tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
            return _tier_cost(tier, quantity)
        total, below = Decimal(0), 0
        for tier in tiers:
            top = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
            total += _tier_cost(tier, max(0, top - below))
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                break
            below = tier["up_to"]
        return total

    def _aggregate(
        self, meter: dict[str, Any], customer_id: str, start: int | None = None, end: int | None = None
    ) -> int:
        """A customer's usage on ``meter`` from events timestamped in [start, end), by the meter's formula.

        ``last`` takes the latest event by timestamp (then by arrival), as Stripe
        aggregates by event time rather than by when the event was reported.
        """
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        events = sorted(
            (
                event
                for event in self._meter_events
                if event["event_name"] == meter["event_name"]
                and event["payload"].get(customer_key) == customer_id
                and re.fullmatch(r"-?\d{1,18}", str(event["payload"].get(value_key)))
                and (start is None or event["timestamp"] >= start)
                and (end is None or event["timestamp"] < end)
            ),
            key=lambda event: event["timestamp"],
        )
        values = [int(event["payload"][value_key]) for event in events]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return len(values)
        if formula == "last":
            return values[-1] if values else 0
        return sum(values)

    def _collect(self, invoice: dict[str, Any]) -> None:
        """Try to charge what an invoice owes; a zero invoice is paid without a charge, as on Stripe."""
        if invoice["amount_remaining"] > 0:
            invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
            if invoice["customer"] in self._declined:
                return
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = int(time.time())

    # Webhooks.

    def _record_event(self, event_type: str, data_object: dict[str, Any]) -> dict[str, Any]:
        """An event carrying a snapshot of ``data_object``, kept for ``redeliver``; called with the lock held."""
        event = _event_object(event_type, _copy(data_object), pending_webhooks=len(self._endpoints))
        self._events[event["id"]] = event
        while len(self._events) > MAX_EVENTS:
            self._events.popitem(last=False)
        return event

    def _deliver(self, events: Iterable[dict[str, Any]], endpoints: list[_Endpoint]) -> list[Delivery]:
        """POST each event to each endpoint, in order, without the lock: a receiver may call the fake back."""
        deliveries = []
        for event in events:
            body = json.dumps(event).encode()
            for endpoint in endpoints:
                status = _post_webhook(endpoint.url, body, sign_webhook(body, endpoint.secret))
                delivery = Delivery(event["id"], event["type"], endpoint.url, status)
                with self._lock:
                    self._deliveries.append(delivery)
                deliveries.append(delivery)
        return deliveries


def parse_form(text: str) -> dict[str, Any]:
    """Decode Stripe's form encoding: ``a[b]=1&items[0][price]=p`` to ``{"a": {"b": "1"}, "items": [{"price": "p"}]}``.

    A level whose keys are all indexes becomes a list in index order, as Stripe
    reads ``items[0]``, ``items[1]``. Values stay strings, as they arrive.
    """
    root: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as error:
        raise StripeError(400, f"Invalid request body: {error}") from error
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head] + (rest[:-1].split("][") if rest else [])
        if not all(path) or (rest and not rest.endswith("]")):
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid parameter name: {key}", param=key)
            node = child
        if isinstance(node.get(path[-1]), dict):
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe signs webhook deliveries.

    The signature is an HMAC-SHA256 of ``"{t}.{payload}"`` keyed by the endpoint's
    signing secret; pass an old ``timestamp`` to test the receiver's tolerance.
    """
    signed_at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{signed_at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={signed_at},v1={digest}"


def event_payload(event_type: str, data_object: dict[str, Any]) -> bytes:
    """A webhook body in Stripe's ``event`` shape, carrying ``data_object`` as ``data.object``."""
    return json.dumps(_event_object(event_type, data_object)).encode()


def _event_object(event_type: str, data_object: dict[str, Any], pending_webhooks: int = 1) -> dict[str, Any]:
    return {
        "id": _new_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Stripe treats a redirect as a failed delivery rather than following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: No proxy (loopback only) and no redirects.
_WEBHOOK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def _post_webhook(url: str, body: bytes, signature: str) -> int | None:
    """POST one signed event; the endpoint's status, or None if it could not be reached in time."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
    )
    try:
        with _WEBHOOK_OPENER.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except OSError:  # Connection refused, reset or timed out (URLError is an OSError).
        return None


def _payment_event_type(invoice: dict[str, Any]) -> str:
    return "invoice.paid" if invoice["status"] == "paid" else "invoice.payment_failed"


@contextmanager
def running_stripe_fake() -> Iterator[StripeFake]:
    """Serve a fresh fake on a free loopback port for the length of the block."""
    server = ThreadingHTTPServer((HOST, 0), _Handler)
    server.daemon_threads = True
    fake = StripeFake(base_url=f"http://{HOST}:{server.server_address[1]}", api_key=f"sk_test_{secrets.token_hex(12)}")
    server.fake = fake  # type: ignore[attr-defined]
    # A short poll keeps shutdown, paid once per test, well under serve_forever's default half second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-fake", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``StripeFake.handle`` calls; holds no state of its own."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake: StripeFake = self.server.fake  # type: ignore[attr-defined]
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else -1
        if not 0 <= length <= MAX_BODY_BYTES:
            status = 400 if length < 0 else 413
            headers: dict[str, str] = {"Connection": "close"}
            body = json.dumps(StripeError(status, "Invalid or oversized request body.").body).encode()
        else:
            raw = self.rfile.read(length)
            lowered = {name.lower(): value for name, value in self.headers.items()}
            status, headers, body = fake.handle(self.command, self.path, lowered, raw)
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: ``requests()`` is the record tests read."""


def _fault_error(fault: _Fault) -> StripeError:
    status = fault.status or 500
    if fault.error_type == "card_error":
        return _card_declined(status, should_retry=fault.should_retry)
    return StripeError(
        status,
        _STATUS_MESSAGE.get(status, f"Injected failure ({status})."),
        error_type=fault.error_type or _STATUS_ERROR_TYPE.get(status, "api_error"),
        code=_STATUS_ERROR_CODE.get(status),
        should_retry=fault.should_retry,
    )


def _card_declined(status: int = 402, should_retry: bool | None = None) -> StripeError:
    """Stripe's answer when the card is refused without a more specific reason."""
    return StripeError(
        status,
        "Your card was declined.",
        error_type="card_error",
        code="card_declined",
        decline_code="generic_decline",
        should_retry=should_retry,
    )


def _form_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StripeError(400, "Request body is not UTF-8.") from error


def _copy(value: Any) -> Any:
    """A deep copy through JSON: what leaves the fake is exactly what a client would decode."""
    return json.loads(json.dumps(value))


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _base(prefix: str, kind: str) -> dict[str, Any]:
    return {"id": _new_id(prefix), "object": kind, "created": int(time.time()), "livemode": False}


def _item_list(subscription_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def _check_items(items: list[dict[str, Any]]) -> str:
    """Refuse the item sets Stripe refuses (a price twice, mixed currencies); return their currency."""
    prices = [item["price"]["id"] for item in items]
    for price in prices:
        if prices.count(price) > 1:
            raise StripeError(
                400, f"Cannot add multiple subscription items with the same price: {price}", param="items"
            )
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) > 1:
        raise StripeError(400, "All prices on a subscription must have the same `currency`.", param="items")
    return currencies.pop()


def _period_end(start: int, recurring: dict[str, Any]) -> int:
    """When a period starting at ``start`` ends nominally, by calendar for months and years.

    The fake's periods really end when a test calls ``close_billing_period``; this
    is the ``current_period_end`` Stripe would show meanwhile.
    """
    count = recurring["interval_count"]
    if recurring["interval"] in ("day", "week"):
        return start + count * (86_400 if recurring["interval"] == "day" else 7 * 86_400)
    moment = datetime.fromtimestamp(start, UTC)
    months = moment.month - 1 + count * (12 if recurring["interval"] == "year" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _tier_cost(tier: dict[str, Any], units: int) -> Decimal:
    flat = Decimal(tier["flat_amount_decimal"] or 0)
    return flat + Decimal(tier["unit_amount_decimal"] or 0) * units


def _tiers(params: dict[str, Any]) -> list[dict[str, Any]]:
    """A tiered price's tiers as Stripe shows them: ascending ``up_to``, the last ``null`` (sent as ``inf``)."""
    raw = _array(params, "tiers")
    tiers = []
    below = 0
    for index, tier in enumerate(raw):
        prefix = f"tiers[{index}]"
        tier = _nested(tier, prefix)
        _allow(tier, "up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal", prefix=prefix)
        last = index == len(raw) - 1
        up_to: int | None = None
        if _required(tier, "up_to", prefix=prefix) == "inf":
            if not last:
                raise StripeError(400, "Only the last tier may have `up_to` set to `inf`.", param=f"{prefix}[up_to]")
        else:
            up_to = _integer(tier, "up_to", prefix=prefix)
            if last:
                raise StripeError(400, "The last tier must have `up_to` set to `inf`.", param=f"{prefix}[up_to]")
            if up_to <= below:
                raise StripeError(
                    400, "Tiers must be ordered by increasing `up_to`, starting above 0.", param=f"{prefix}[up_to]"
                )
            below = up_to
        unit_amount, unit_amount_decimal = _amount(tier, "unit_amount", prefix=prefix)
        flat_amount, flat_amount_decimal = _amount(tier, "flat_amount", prefix=prefix, whole=True)
        if unit_amount_decimal is None and flat_amount_decimal is None:
            raise StripeError(400, "An entry in the tiers array is missing an amount.", param=prefix)
        tiers.append(
            {
                "flat_amount": flat_amount,
                "flat_amount_decimal": flat_amount_decimal,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_amount_decimal,
                "up_to": up_to,
            }
        )
    return tiers


def _amount(params: dict[str, Any], name: str, prefix: str = "", whole: bool = False) -> tuple[int | None, str | None]:
    """An amount given as ``name`` (integer cents) or ``{name}_decimal``: (integer or None, decimal string).

    As on Stripe, the decimal string is always shown and the integer only when the
    amount is whole, so ``unit_amount=900`` and ``unit_amount_decimal=900`` read back
    alike while ``unit_amount_decimal=0.15`` has ``unit_amount`` null.
    """
    decimal_name = f"{name}_decimal"
    if name in params and decimal_name in params:
        raise StripeError(
            400, f"You may only specify one of these parameters: {name}, {decimal_name}.", param=_param(prefix, name)
        )
    if name in params:
        value = Decimal(_integer(params, name, prefix=prefix))
    elif decimal_name in params:
        raw = params[decimal_name]
        if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw):
            raise StripeError(400, f"Invalid decimal: {raw}", param=_param(prefix, decimal_name))
        value = Decimal(raw)
        if whole and value != value.to_integral_value():
            raise StripeError(
                400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=_param(prefix, decimal_name)
            )
    else:
        return None, None
    if value < 0:
        raise StripeError(400, "This value must be greater than or equal to 0.", param=_param(prefix, name))
    integral = value == value.to_integral_value()
    return (int(value) if integral else None), format(value.normalize(), "f")


def _allow(params: dict[str, Any], *names: str, prefix: str = "") -> None:
    """Refuse parameters the endpoint does not know, as Stripe does rather than ignoring them."""
    for name in params:
        if name not in names:
            full = f"{prefix}[{name}]" if prefix else name
            raise StripeError(400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full)


def _param(prefix: str, name: str) -> str:
    return f"{prefix}[{name}]" if prefix else name


def _required(params: dict[str, Any], name: str, prefix: str = "") -> Any:
    value = params.get(name)
    if value is None or value == "":
        full = _param(prefix, name)
        raise StripeError(400, f"Missing required param: {full}.", code="parameter_missing", param=full)
    return value


def _nested(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param=name)
    return value


def _array(params: dict[str, Any], name: str) -> list[Any]:
    """A required, non-empty array parameter (``name[0]``, ``name[1]``, ...)."""
    value = _required(params, name)
    if not isinstance(value, list):
        raise StripeError(400, "Invalid array", param=name)
    return value


def _expand(params: dict[str, Any], *expandable: str) -> set[str]:
    raw = params.get("expand", [])
    if not isinstance(raw, list):
        raise StripeError(400, "Invalid array", param="expand")
    for index, name in enumerate(raw):
        if name not in expandable:
            raise StripeError(400, f"This property cannot be expanded ({name}).", param=f"expand[{index}]")
    return set(raw)


def _integer(params: dict[str, Any], name: str, prefix: str = "", default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d{1,18}", raw):
        full = _param(prefix, name)
        raise StripeError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=full)
    return int(raw)


def _boolean(params: dict[str, Any], name: str, prefix: str = "") -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {raw}", param=_param(prefix, name))
    return raw == "true"


def _one_of(
    params: dict[str, Any], name: str, allowed: tuple[str, ...], prefix: str = "", default: str | None = None
) -> str:
    if default is not None and params.get(name) is None:
        return default
    value = _required(params, name, prefix)
    if value not in allowed:
        full = _param(prefix, name)
        raise StripeError(400, f"Invalid {full}: must be one of {', '.join(allowed)}", param=full)
    return value


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    return dict(_nested(params.get("metadata", {}), "metadata"))


def _merged_metadata(current: dict[str, str], params: dict[str, Any]) -> dict[str, str]:
    """Stripe's metadata update: keys merge in, an empty value removes its key, ``metadata=""`` clears all."""
    if "metadata" not in params:
        return current
    if params["metadata"] == "":
        return {}
    merged = {**current, **_metadata(params)}
    return {key: value for key, value in merged.items() if value != ""}
