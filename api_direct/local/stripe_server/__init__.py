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
card works until ``decline_cards``, unless it is a declining test card) and delivers signed webhook events to the
endpoints registered with ``add_webhook_endpoint``.

Trials and prepaid credit need the slice where a customer pays or saves a card:
Checkout Sessions in ``payment``, ``setup`` and ``subscription`` mode, whose ``url``
is a plain HTML page the fake serves itself (``<base_url>/c/pay/<session id>``, a
form a browser test fills by label) and whose test hook ``complete_checkout`` does
what submitting it does; the PaymentMethods, SetupIntents and PaymentIntents they
make; off-session PaymentIntents charging a saved card (``confirm=true``,
``off_session=true``); and charges whose balance transactions carry Stripe's
standard US card fee, 2.9 % + 30 cents rounded half up, for invoices too (found
through the invoice's ``payments``, as basil shapes it). Stripe's test card numbers
decide outcomes (``4242424242424242`` pays, ``4000000000000002`` is declined,
``4000000000000341`` saves and fails when charged) alongside ``decline_cards``.
``expand[]`` follows id fields along dotted paths. Events a request causes are
delivered after its response, as Stripe delivers them apart from the request;
``settle`` waits for them.

The fake is a package, one module per resource: :mod:`.wire` (form decoding,
errors, parameter checks), :mod:`.state` (what a fake holds; store, find and list
pagination), :mod:`.server` (authentication, faults, idempotency, dispatch) with
:mod:`.routes` (every endpoint in one table), :mod:`.customers`,
:mod:`.prices` (products, prices, meters, meter events), :mod:`.subscriptions`
(with invoices), :mod:`.invoice_payments` (how an invoice is paid),
:mod:`.cards` (test card numbers), :mod:`.payment_methods`, :mod:`.setup_intents`,
:mod:`.payment_intents`, :mod:`.charges` (with balance transactions and the fee),
:mod:`.checkout` with :mod:`.checkout_page` (the hosted page), :mod:`.expansion`
(``expand[]``), :mod:`.connect` (accounts, account links, transfers),
:mod:`.refunds`, :mod:`.disputes` (chargebacks opened and decided by a test),
:mod:`.webhooks` (endpoints, signing, delivery) and :mod:`.clock` (closing
periods); :mod:`.fake` puts them together as :class:`StripeFake`.

    with running_stripe_fake() as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.base_url})
        client.v1.customers.create({"email": "a@example.com"})
"""

from api_direct.local.stripe_server.fake import HOST, StripeFake, running_stripe_fake
from api_direct.local.stripe_server.state import Delivery, SeenRequest
from api_direct.local.stripe_server.webhooks import event_payload, sign_webhook
from api_direct.local.stripe_server.wire import StripeError, parse_form

__all__ = [
    "HOST",
    "Delivery",
    "SeenRequest",
    "StripeError",
    "StripeFake",
    "event_payload",
    "parse_form",
    "running_stripe_fake",
    "sign_webhook",
]
