"""Webhooks: endpoints, events, signatures and delivery.

Events are signed as Stripe signs them (``Stripe-Signature``) and POSTed to loopback
endpoints only; :func:`sign_webhook` and :func:`event_payload` let a test build a
delivery by hand.
"""

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.state import Delivery, State, _Endpoint

#: Webhook endpoints must be on this machine: no test may reach the internet.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Events kept for ``redeliver``; the oldest is forgotten first, as Stripe forgets after 30 days.
MAX_EVENTS = 10_000
#: Stripe allows 16 webhook endpoints per account.
MAX_WEBHOOK_ENDPOINTS = 16
#: How long one delivery may take before it counts as failed (the fake's bound, not Stripe's).
WEBHOOK_TIMEOUT_SECONDS = 10.0


class Webhooks(State):
    """Registered endpoints, the events emitted, and every delivery attempt."""

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

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt, redeliveries included, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def events(self) -> list[dict[str, Any]]:
        """Events emitted (the most recent ``MAX_EVENTS``), oldest first, whether or not delivered."""
        with self._lock:
            return wire.copy_json(list(self._events.values()))

    def settle(self, timeout: float = 2 * WEBHOOK_TIMEOUT_SECONDS) -> None:
        """Wait until the events API requests emitted have been delivered.

        Stripe delivers an event apart from the request that caused it, so the fake
        delivers a request's events only after sending its response: a caller that
        holds its own request open while calling Stripe never waits on its own
        webhook. A test that checks what a webhook did calls this first. Test hooks
        (``complete_checkout``, ``close_billing_period``) deliver before returning.
        """
        with self._settled:
            if not self._settled.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError(f"webhook deliveries still running after {timeout} s")

    def _emit(self, event_type: str, data_object: dict[str, Any]) -> None:
        """Record an event to deliver once the request or hook that caused it is done; called with the lock held."""
        self._outbox.append(self._record_event(event_type, data_object))

    def _take_outbox(self) -> list[dict[str, Any]]:
        """The events emitted since the last call, now counted in flight; called with the lock held."""
        events = list(self._outbox)
        self._outbox.clear()
        if events:
            with self._settled:
                self._in_flight += 1
        return events

    def _deliver_emitted(self, events: list[dict[str, Any]]) -> None:
        """Deliver what ``_take_outbox`` returned, without the lock, to the endpoints registered now."""
        if not events:
            return
        try:
            with self._lock:
                endpoints = list(self._endpoints)
            self._deliver(events, endpoints)
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def _record_event(self, event_type: str, data_object: dict[str, Any]) -> dict[str, Any]:
        """An event carrying a snapshot of ``data_object``, kept for ``redeliver``; called with the lock held."""
        event = _event_object(event_type, wire.copy_json(data_object), pending_webhooks=len(self._endpoints))
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
        "id": wire.new_id("evt"),
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
