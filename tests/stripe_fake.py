"""An in-memory fake of the slice of Stripe's REST API that billing and payouts use.

No test may reach Stripe, and ``stripe-mock`` cannot be installed here, so this
module serves the few endpoints issue 5 needs on loopback, in Stripe's own wire
format: form-encoded request bodies with nested keys (``items[0][price]=...``),
``Authorization: Bearer sk_test_...``, JSON objects with ``object`` and prefixed
``id`` fields, list envelopes, Stripe's error envelope and statuses, and
``Idempotency-Key`` replay. The official ``stripe`` library talks to it unchanged
through ``StripeClient(base_addresses={"api": fake.base_url})``, so a test
exercises the library's real encoding, error mapping and retries.

The fake is stricter than Stripe where Stripe would fail later or silently: an
unknown parameter is rejected (as Stripe does), and a meter event whose payload
lacks the meter's customer or integer value is rejected at once, where Stripe
accepts it and reports the problem asynchronously in a meter error report. It
takes no payments, so every subscription starts ``active``.

    with running_stripe_fake() as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.base_url})
        client.v1.customers.create({"email": "a@example.com"})
"""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOST = "127.0.0.1"
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
#: A pending fault may repeat at most this often, and stall at most this long.
MAX_FAULT_COUNT = 100
MAX_STALL_SECONDS = 10.0
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10
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
    ) -> None:
        super().__init__(message)
        self.status = status
        self.should_retry = should_retry
        self.body: dict[str, Any] = {"error": {"type": error_type, "message": message}}
        if code is not None:
            self.body["error"]["code"] = code
        if param is not None:
            self.body["error"]["param"] = param


@dataclass(frozen=True)
class SeenRequest:
    """One request as the fake received it, so tests can check what the library sent."""

    method: str
    path: str
    idempotency_key: str | None
    status: int
    replayed: bool


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
    body: dict[str, Any]


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
        code ``rate_limit`` for 429, ``api_error`` otherwise). ``should_retry`` sets
        the ``Stripe-Should-Retry`` header; without it stripe-python retries 409 and
        5xx but not 429, which Stripe marks retryable only by that header.
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

    def complete_onboarding(self, account_id: str) -> None:
        """Do what a seller finishing Express onboarding does: enable transfers and payouts.

        Stripe refuses a transfer to an account whose ``transfers`` capability is
        not active, so a payout test must onboard its seller first.
        """
        with self._lock:
            account = self._objects["account"][account_id]
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["capabilities"] = {name: "active" for name in account["capabilities"]}

    def requests(self) -> list[SeenRequest]:
        """Every request received so far (the most recent ``MAX_SEEN_REQUESTS``), oldest first."""
        with self._lock:
            return list(self._seen)

    def meter_events(self) -> list[dict[str, Any]]:
        """Meter events as accepted, oldest first; a refused repeat of an ``identifier`` is absent."""
        with self._lock:
            return json.loads(json.dumps(self._meter_events))

    def transfers(self) -> list[dict[str, Any]]:
        """Transfers created, oldest first."""
        return self._all("transfer")

    def customers(self) -> list[dict[str, Any]]:
        """Customers created, oldest first."""
        return self._all("customer")

    def _all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(list(self._objects.get(kind, {}).values())))

    def usage(self, meter_id: str, customer_id: str) -> int:
        """A customer's usage on a meter over all time, aggregated by the meter's formula.

        Stripe aggregates per billing period and asynchronously; the fake has no
        clock for periods, so a test reads the whole total, immediately.
        """
        with self._lock:
            meter = self._objects["billing.meter"][meter_id]
            customer_key = meter["customer_mapping"]["event_payload_key"]
            value_key = meter["value_settings"]["event_payload_key"]
            values = [
                int(event["payload"][value_key])
                for event in self._meter_events
                if event["event_name"] == meter["event_name"] and event["payload"].get(customer_key) == customer_id
            ]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return len(values)
        if formula == "last":
            return values[-1] if values else 0
        return sum(values)

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
            payload, replayed = self._execute(method, url.path, params, idempotency_key)
            status = 200
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
    ) -> tuple[dict[str, Any], bool]:
        """Run a request under the state lock, replaying or refusing a reused idempotency key.

        Like Stripe, only a request that executed stores its result: one that failed
        validation may be retried with the same key and different parameters. The
        stored result is a snapshot, so a replay shows the object as first returned
        even if it has changed since (a subscription canceled in between).
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
                return stored.body, True
            body = json.loads(json.dumps(handler(params, *match.groups())))
            if idempotency_key is not None:
                self._idempotent[idempotency_key] = _Stored(method, path, params, body)
                while len(self._idempotent) > MAX_IDEMPOTENT_RESPONSES:
                    self._idempotent.popitem(last=False)
            return body, False

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
            ("POST", "/v1/billing/meters", self._create_meter),
            ("GET", "/v1/billing/meters", self._list_meters),
            ("POST", "/v1/billing/meter_events", self._create_meter_event),
            ("POST", "/v1/subscriptions", self._create_subscription),
            ("GET", "/v1/subscriptions/([^/]+)", self._get_subscription),
            ("DELETE", "/v1/subscriptions/([^/]+)", self._cancel_subscription),
            ("POST", "/v1/accounts", self._create_account),
            ("POST", "/v1/account_links", self._create_account_link),
            ("POST", "/v1/transfers", self._create_transfer),
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
            raise StripeError(
                status, f"No such {kind.split('.')[-1]}: '{object_id}'", code="resource_missing", param=param
            )
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
        """A one-off or recurring price; a metered one must name its billing meter.

        Since API version 2025-03-31 Stripe bills usage only through meters, so
        ``recurring[usage_type]=metered`` without ``recurring[meter]`` is refused.
        """
        _allow(params, "currency", "product", "unit_amount", "recurring", "nickname", "lookup_key", "metadata")
        product = self._find("product", _required(params, "product"), param="product")["id"]
        recurring = params.get("recurring")
        if recurring is not None:
            recurring = _nested(recurring, "recurring")
            _allow(recurring, "interval", "interval_count", "usage_type", "meter", prefix="recurring")
            interval = _one_of(recurring, "interval", ("day", "week", "month", "year"), prefix="recurring")
            usage_type = recurring.get("usage_type", "licensed")
            _one_of({"usage_type": usage_type}, "usage_type", ("licensed", "metered"), prefix="recurring")
            meter = recurring.get("meter")
            if usage_type == "metered" and meter is None:
                raise StripeError(
                    400, "Metered prices must be backed by a meter.", code="parameter_missing", param="recurring[meter]"
                )
            if meter is not None:
                self._find("billing.meter", meter, param="recurring[meter]")
            recurring = {
                "interval": interval,
                "interval_count": _integer(recurring, "interval_count", prefix="recurring", default=1),
                "meter": meter,
                "usage_type": usage_type,
            }
        return self._store(
            {
                **_base("price", "price"),
                "active": True,
                "billing_scheme": "per_unit",
                "currency": _required(params, "currency").lower(),
                "product": product,
                "unit_amount": _integer(params, "unit_amount"),
                "recurring": recurring,
                "type": "one_time" if recurring is None else "recurring",
                "nickname": params.get("nickname"),
                "lookup_key": params.get("lookup_key"),
                "metadata": _metadata(params),
            }
        )

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
        meters = [
            meter
            for meter in self._objects.get("billing.meter", {}).values()
            if params.get("status") in (None, meter["status"])
        ]
        meters.reverse()  # Stripe lists newest first.
        if "starting_after" in params:
            ids = [meter["id"] for meter in meters]
            if params["starting_after"] not in ids:
                self._find("billing.meter", params["starting_after"], param="starting_after")
            meters = meters[ids.index(params["starting_after"]) + 1 :]
        limit = _integer(params, "limit", default=DEFAULT_LIST_LIMIT)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StripeError(400, f"Invalid limit: must be between 1 and {MAX_LIST_LIMIT}", param="limit")
        return {"object": "list", "data": meters[:limit], "has_more": len(meters) > limit, "url": "/v1/billing/meters"}

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
        _allow(params, "customer", "items", "metadata")
        customer = self._find("customer", _required(params, "customer"), param="customer")["id"]
        items = _required(params, "items")
        if not isinstance(items, list) or not items:
            raise StripeError(400, "Invalid array", param="items")
        subscription = _base("sub", "subscription")
        data = []
        for index, item in enumerate(items):
            prefix = f"items[{index}]"
            item = _nested(item, prefix)
            _allow(item, "price", "quantity", prefix=prefix)
            price = self._find("price", _required(item, "price", prefix=prefix), param=f"{prefix}[price]")
            if price["recurring"] is None:
                raise StripeError(
                    400,
                    "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                    param=f"{prefix}[price]",
                )
            metered = price["recurring"]["usage_type"] == "metered"
            data.append(
                {
                    **_base("si", "subscription_item"),
                    "price": price,
                    "quantity": None if metered else _integer(item, "quantity", prefix=prefix, default=1),
                    "subscription": subscription["id"],
                }
            )
        subscription.update(
            customer=customer,
            status="active",
            canceled_at=None,
            ended_at=None,
            items={
                "object": "list",
                "data": data,
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={subscription['id']}",
            },
            metadata=_metadata(params),
        )
        return self._store(subscription)

    def _get_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        _allow(params)
        return self._find("subscription", subscription_id)

    def _cancel_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        _allow(params)
        subscription = self._find("subscription", subscription_id)
        if subscription["status"] != "canceled":
            now = int(time.time())
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
        return subscription

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
    return json.dumps(
        {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": data_object},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()


@contextmanager
def running_stripe_fake() -> Iterator[StripeFake]:
    """Serve a fresh fake on a free loopback port for the length of the block."""
    server = ThreadingHTTPServer((HOST, 0), _Handler)
    server.daemon_threads = True
    fake = StripeFake(base_url=f"http://{HOST}:{server.server_address[1]}", api_key=f"sk_test_{secrets.token_hex(12)}")
    server.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="stripe-fake", daemon=True)
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


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _base(prefix: str, kind: str) -> dict[str, Any]:
    return {"id": _new_id(prefix), "object": kind, "created": int(time.time()), "livemode": False}


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


def _integer(params: dict[str, Any], name: str, prefix: str = "", default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d{1,18}", raw):
        full = _param(prefix, name)
        raise StripeError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=full)
    return int(raw)


def _one_of(params: dict[str, Any], name: str, allowed: tuple[str, ...], prefix: str = "") -> str:
    value = _required(params, name, prefix)
    if value not in allowed:
        full = _param(prefix, name)
        raise StripeError(400, f"Invalid {full}: must be one of {', '.join(allowed)}", param=full)
    return value


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    return dict(_nested(params.get("metadata", {}), "metadata"))
