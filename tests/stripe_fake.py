"""The Stripe fake as its tests drive it: a client pointed at it, a catalog, and a webhook endpoint to deliver to.

Shared by the fake's test modules (``tests/local/test_stripe_server.py``,
``tests/local/test_stripe_*.py``), which each declare their fixtures over these.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe

from api_direct.local.stripe_server import StripeFake


def client_for(
    fake: StripeFake, retries: int = 0, api_key: str | None = None, timeout: float = 10
) -> stripe.StripeClient:
    """A client pointed at the fake; retries are off unless a test is about them."""
    return stripe.StripeClient(
        api_key or fake.api_key,
        base_addresses={"api": fake.base_url},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def recurring_price(
    client: stripe.StripeClient, meter: stripe.billing.Meter | None = None, **pricing: Any
) -> stripe.Price:
    """A monthly price of a new product, licensed or metered on ``meter``; ``pricing`` says how much."""
    recurring: dict[str, Any] = {"interval": "month"}
    if meter is not None:
        recurring.update(usage_type="metered", meter=meter.id)
    product = client.v1.products.create({"name": "Weather API"})
    return client.v1.prices.create(
        {"product": product.id, "currency": "usd", "recurring": recurring, **pricing}  # type: ignore[typeddict-item]
    )


def subscribe(
    client: stripe.StripeClient, customer: stripe.Customer, *prices: stripe.Price, **params: Any
) -> stripe.Subscription:
    return client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id} for price in prices], **params}  # type: ignore[typeddict-item]
    )


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # Lower-cased names: urllib sends "Stripe-signature".
    body: bytes


@dataclass
class WebhookReceiver:
    """A product's webhook endpoint stand-in: records every POST and answers ``status``."""

    url: str
    status: int = 200
    received: list[Received] = field(default_factory=list)

    def events(self, secret: str) -> list[stripe.Event]:
        """Every event received, each verified against ``secret`` as the product's endpoint would."""
        return [
            stripe.Webhook.construct_event(got.body, got.headers["stripe-signature"], secret) for got in self.received
        ]


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        receiver: WebhookReceiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver.received.append(Received(self.path, headers, body))
        self.send_response(receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: ``received`` is the record."""


@contextmanager
def serving_receiver() -> Iterator[WebhookReceiver]:
    """A webhook endpoint on a loopback port for the length of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReceiverHandler)
    server.receiver = WebhookReceiver(f"http://127.0.0.1:{server.server_address[1]}")  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver", daemon=True
    )
    thread.start()
    try:
        yield server.receiver  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def one_time_price(client: stripe.StripeClient, unit_amount: int, name: str = "10,000 calls") -> stripe.Price:
    """A one-off price of a new product: what a credit pack sells at."""
    product = client.v1.products.create({"name": name})
    return client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": unit_amount})
