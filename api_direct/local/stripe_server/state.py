"""What one fake holds, and the lookups every resource shares: store, find, list.

Every resource module's class extends :class:`State`; one lock guards it all,
taken by the request dispatch and by each test hook. The records it keeps (requests
seen, webhook endpoints and deliveries, pending faults, idempotent responses) are
defined here with it.
"""

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from api_direct.local.stripe_server import expansion, wire
from api_direct.local.stripe_server.cards import Card
from api_direct.local.stripe_server.wire import StripeError

#: Objects of all kinds one fake may hold; a test that needs more has a bug.
MAX_OBJECTS = 10_000
MAX_SEEN_REQUESTS = 10_000
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10
#: The id prefix of each kind an id field may name, for ``expand[]``.
_KIND_OF_PREFIX = {
    "cus": "customer",
    "prod": "product",
    "price": "price",
    "sub": "subscription",
    "in": "invoice",
    "inpay": "invoice_payment",
    "pm": "payment_method",
    "seti": "setup_intent",
    "pi": "payment_intent",
    "ch": "charge",
    "txn": "balance_transaction",
    "cs_test": "checkout.session",
}


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
class State:
    """Everything one fake holds, under one lock; the resource classes extend it.

    Every state read a test makes returns copies, so a test cannot change the fake by accident.
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
    #: Events a request emitted, delivered once its response is sent (see :meth:`.webhooks.Webhooks._emit`).
    _outbox: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: How many requests' events are still being delivered, under its own lock (``settle`` waits on it).
    _in_flight: int = field(default=0, repr=False)
    _settled: threading.Condition = field(default_factory=threading.Condition, repr=False)
    #: The card behind each payment method: how it behaves when charged, which Stripe never shows.
    _cards: dict[str, Card] = field(default_factory=dict, repr=False)
    #: What each Checkout Session was created with that Stripe does not show on it: its line items (shown
    #: only when expanded) and the data for the PaymentIntent, SetupIntent or subscription it makes.
    _checkout_terms: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def _get(self, kind: str, object_id: str) -> dict[str, Any]:
        """An object for a test hook; a missing one is the test's bug, so a KeyError, not a 404."""
        found = self._objects.get(kind, {}).get(object_id)
        if found is None:
            raise KeyError(f"no {kind} {object_id!r} in the fake")
        return found

    def _all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return wire.copy_json(list(self._objects.get(kind, {}).values()))

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

    def _by_id(self, object_id: str) -> dict[str, Any] | None:
        """The object an id names, whatever its kind, by the prefix Stripe gives each kind; None if unknown."""
        kind = _KIND_OF_PREFIX.get(object_id.rsplit("_", 1)[0])
        return None if kind is None else self._objects.get(kind, {}).get(object_id)

    def _expanded(self, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as a response shows it: with the ids its ``expand[]`` parameter names replaced by their objects."""
        return expansion.expand(obj, expansion.paths(params), self._by_id)

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
        limit = wire.integer(params, "limit", default=DEFAULT_LIST_LIMIT)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise StripeError(400, f"Invalid limit: must be between 1 and {MAX_LIST_LIMIT}", param="limit")
        return {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": url}
