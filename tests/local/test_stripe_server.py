"""The Stripe fake, driven through the official ``stripe`` library as billing code will drive it.

Each test goes through ``stripe.StripeClient``, so what passes here is the
library's real form encoding, error mapping and retry policy meeting the fake's
wire format, not a hand-built request.
"""

import json
import socket
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
import stripe

from api_direct.local.stripe_server import (
    StripeFake,
    event_payload,
    parse_form,
    sign_webhook,
)
from tests.stripe_fake import WebhookReceiver, client_for, recurring_price, subscribe

WEBHOOK_SECRET = "whsec_test_secret"


def metered_setup(client: stripe.StripeClient) -> tuple[stripe.billing.Meter, stripe.Customer]:
    meter = client.v1.billing.meters.create(
        {
            "display_name": "API calls",
            "event_name": "api_calls",
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
        }
    )
    customer = client.v1.customers.create({"email": "buyer@example.com", "metadata": {"tenant": "t1"}})
    return meter, customer


#: The first 1000 units free, then a tenth of a cent each.
FREE_THEN_TENTH_OF_A_CENT: list[dict[str, Any]] = [
    {"up_to": 1000, "unit_amount": 0},
    {"up_to": "inf", "unit_amount_decimal": Decimal("0.1")},
]


def report(client: stripe.StripeClient, customer: stripe.Customer, value: int, timestamp: int | None = None) -> None:
    """Report ``value`` API calls for ``customer`` on the ``api_calls`` meter of ``metered_setup``."""
    params: stripe.params.billing.MeterEventCreateParams = {
        "event_name": "api_calls",
        "payload": {"stripe_customer_id": customer.id, "value": str(value)},
    }
    if timestamp is not None:
        params["timestamp"] = timestamp
    client.v1.billing.meter_events.create(params)


def test_parse_form_reads_stripe_nested_keys_and_indexed_lists() -> None:
    parsed = parse_form("a[b]=1&items[1][price]=p2&items[0][price]=p1&metadata[k]=&x=y")

    assert parsed == {"a": {"b": "1"}, "items": [{"price": "p1"}, {"price": "p2"}], "metadata": {"k": ""}, "x": "y"}


@pytest.mark.parametrize("body", ["a[b=1", "a=1&a[b]=2", "items[]=p"])
def test_malformed_form_keys_are_a_400_not_a_guess(fake: StripeFake, body: str) -> None:
    answer = requests.post(
        f"{fake.base_url}/v1/customers",
        data=body,
        headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert fake.customers() == []


def test_endpoint_outside_the_slice_is_stripes_unrecognized_url(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="Unrecognized request URL") as raised:
        client.v1.charges.list()

    assert raised.value.http_status == 404


def test_meter_list_pages_newest_first(client: stripe.StripeClient) -> None:
    made = [
        client.v1.billing.meters.create(
            {"display_name": name, "event_name": name, "default_aggregation": {"formula": "sum"}}
        ).id
        for name in ("a", "b", "c")
    ]

    first_page = client.v1.billing.meters.list({"limit": 2})

    assert first_page.has_more
    assert [meter.id for meter in first_page.auto_paging_iter()] == made[::-1]


def test_catalog_and_subscription_round_trip(client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    product = client.v1.products.create({"name": "Weather API"})
    base_fee = client.v1.prices.create(
        {"product": product.id, "currency": "usd", "unit_amount": 900, "recurring": {"interval": "month"}}
    )
    per_call = client.v1.prices.create(
        {
            "product": product.id,
            "currency": "usd",
            "unit_amount": 2,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )

    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": base_fee.id}, {"price": per_call.id}]}
    )
    canceled = client.v1.subscriptions.cancel(subscription.id)

    assert customer.id.startswith("cus_") and customer.metadata["tenant"] == "t1"
    assert client.v1.customers.retrieve(customer.id).email == "buyer@example.com"
    assert meter.id.startswith("mtr_") and meter.default_aggregation.formula == "sum"
    assert [m.id for m in client.v1.billing.meters.list()] == [meter.id]
    assert per_call.recurring.meter == meter.id and per_call.recurring.usage_type == "metered"
    assert subscription.id.startswith("sub_") and subscription.status == "active"
    assert [item.price.id for item in subscription["items"].data] == [base_fee.id, per_call.id]
    assert canceled.status == "canceled"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"


def test_metered_price_without_a_meter_is_refused(client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"name": "Weather API"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.create(
            {
                "product": product.id,
                "currency": "usd",
                "unit_amount": 2,
                "recurring": {"interval": "month", "usage_type": "metered"},
            }
        )

    assert raised.value.param == "recurring[meter]"


def test_meter_events_are_summed_per_customer(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    other = client.v1.customers.create({"email": "other@example.com"})
    for identifier, who, value in [("e1", customer, "3"), ("e2", customer, "4"), ("e3", other, "10")]:
        client.v1.billing.meter_events.create(
            {
                "event_name": "api_calls",
                "identifier": identifier,
                "payload": {"stripe_customer_id": who.id, "value": value},
            }
        )

    assert fake.usage(meter.id, customer.id) == 7
    assert fake.usage(meter.id, other.id) == 10
    assert [event["identifier"] for event in fake.meter_events()] == ["e1", "e2", "e3"]


def test_repeated_meter_event_identifier_is_refused_and_counted_once(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    meter, customer = metered_setup(client)
    params = {
        "event_name": "api_calls",
        "identifier": "usage-1",
        "payload": {"stripe_customer_id": customer.id, "value": "5"},
    }
    client.v1.billing.meter_events.create(params)

    with pytest.raises(stripe.InvalidRequestError, match="already exists with identifier usage-1"):
        client.v1.billing.meter_events.create(params)

    assert fake.usage(meter.id, customer.id) == 5
    assert fake.requests()[-1].status == 400


def test_meter_event_without_an_integer_value_is_refused(fake: StripeFake, client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meter_events.create(
            {"event_name": "api_calls", "payload": {"stripe_customer_id": customer.id, "value": "lots"}}
        )

    assert raised.value.param == "payload[value]"
    assert fake.meter_events() == []


def test_same_idempotency_key_and_params_replays_the_stored_response(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "create-buyer-1"}
    first = client.v1.customers.create({"email": "buyer@example.com"}, options)
    second = client.v1.customers.create({"email": "buyer@example.com"}, options)

    assert second.id == first.id
    assert len(fake.customers()) == 1
    assert [seen.replayed for seen in fake.requests()] == [False, True]
    assert second.last_response.headers["Idempotent-Replayed"] == "true"


def test_replay_returns_the_response_as_first_sent_not_the_current_object(client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)
    price = client.v1.prices.create(
        {
            "product": client.v1.products.create({"name": "Plan"}).id,
            "currency": "usd",
            "unit_amount": 900,
            "recurring": {"interval": "month"},
        }
    )
    params: stripe.params.SubscriptionCreateParams = {"customer": customer.id, "items": [{"price": price.id}]}
    created = client.v1.subscriptions.create(params, {"idempotency_key": "subscribe-1"})
    client.v1.subscriptions.cancel(created.id)

    replayed = client.v1.subscriptions.create(params, {"idempotency_key": "subscribe-1"})

    assert replayed.id == created.id and replayed.status == "active"


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "create-buyer-1"}
    client.v1.customers.create({"email": "buyer@example.com"}, options)

    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.customers.create({"email": "someone-else@example.com"}, options)


@pytest.mark.parametrize("api_key", ["sk_test_not_the_fakes_key", "sk_live_anything"])
def test_wrong_api_key_is_refused_with_401(fake: StripeFake, api_key: str) -> None:
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key") as raised:
        client_for(fake, api_key=api_key).v1.customers.create({"email": "buyer@example.com"})

    assert raised.value.http_status == 401
    assert fake.customers() == []


def test_missing_api_key_is_refused_with_401(fake: StripeFake) -> None:
    answer = requests.post(f"{fake.base_url}/v1/customers", data={"email": "buyer@example.com"}, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in answer.json()["error"]["message"]


def test_missing_object_is_a_404_the_library_raises_with_stripes_message(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.retrieve("cus_missing")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.user_message == "No such customer: 'cus_missing'"


def test_unknown_parameter_is_refused_as_stripe_does(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter: emial") as raised:
        client.v1.customers.create({"emial": "buyer@example.com"})  # type: ignore[typeddict-unknown-key]

    assert raised.value.code == "parameter_unknown"


def test_retryable_429_is_retried_by_the_library_with_the_same_idempotency_key(fake: StripeFake) -> None:
    fake.fail_next(429, should_retry=True)

    customer = client_for(fake, retries=2).v1.customers.create({"email": "buyer@example.com"})

    seen = fake.requests()
    assert [request.status for request in seen] == [429, 200]
    assert seen[0].idempotency_key is not None and seen[0].idempotency_key == seen[1].idempotency_key
    assert [c["id"] for c in fake.customers()] == [customer.id]


def test_429_without_should_retry_is_not_retried_by_the_library(fake: StripeFake) -> None:
    fake.fail_next(429)

    with pytest.raises(stripe.RateLimitError) as raised:
        client_for(fake, retries=2).v1.customers.create({"email": "buyer@example.com"})

    assert raised.value.json_body["error"]["code"] == "rate_limit"
    assert len(fake.requests()) == 1


def test_500s_are_retried_until_the_library_gives_up(fake: StripeFake) -> None:
    fake.fail_next(500, count=2)

    with pytest.raises(stripe.APIError):
        client_for(fake, retries=1).v1.customers.create({"email": "buyer@example.com"})

    assert [request.status for request in fake.requests()] == [500, 500]
    assert fake.customers() == []


def test_timed_out_transfer_retried_with_its_key_is_made_once(fake: StripeFake) -> None:
    client = client_for(fake, retries=2, timeout=0.5)
    seller = client.v1.accounts.create({"type": "express", "email": "seller@example.com"})
    fake.complete_onboarding(seller.id)
    fake.stall_next(2.0)

    transfer = client.v1.transfers.create(
        {"amount": 1234, "currency": "usd", "destination": seller.id}, {"idempotency_key": "payout-2026-11-seller"}
    )
    deadline = time.monotonic() + 5
    while len([r for r in fake.requests() if r.path == "/v1/transfers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert [t["id"] for t in fake.transfers()] == [transfer.id]
    assert {r.idempotency_key for r in fake.requests() if r.path == "/v1/transfers"} == {"payout-2026-11-seller"}


def test_transfers_happen_once_per_idempotency_key(fake: StripeFake, client: stripe.StripeClient) -> None:
    seller = client.v1.accounts.create({"type": "express", "capabilities": {"transfers": {"requested": True}}})
    fake.complete_onboarding(seller.id)
    params: stripe.params.TransferCreateParams = {
        "amount": 1234,
        "currency": "usd",
        "destination": seller.id,
        "transfer_group": "2026-11",
        "metadata": {"period": "2026-11"},
    }

    first = client.v1.transfers.create(params, {"idempotency_key": "payout-1"})
    again = client.v1.transfers.create(params, {"idempotency_key": "payout-1"})
    other = client.v1.transfers.create(params, {"idempotency_key": "payout-2"})

    assert first.id.startswith("tr_") and again.id == first.id and other.id != first.id
    assert [t["id"] for t in fake.transfers()] == [first.id, other.id]
    assert fake.transfers()[0]["metadata"] == {"period": "2026-11"}
    assert fake.transfers()[0]["transfer_group"] == "2026-11"


def test_transfer_to_a_seller_who_has_not_onboarded_is_refused(fake: StripeFake, client: stripe.StripeClient) -> None:
    seller = client.v1.accounts.create({"type": "express"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": seller.id})

    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert fake.transfers() == []


def test_account_link_points_at_the_fake_not_stripe(fake: StripeFake, client: stripe.StripeClient) -> None:
    seller = client.v1.accounts.create({"type": "express"})

    link = client.v1.account_links.create(
        {
            "account": seller.id,
            "refresh_url": "https://seller.example/refresh",
            "return_url": "https://seller.example/done",
            "type": "account_onboarding",
        }
    )

    assert seller.id.startswith("acct_") and not seller.payouts_enabled
    assert link.url.startswith(fake.base_url + "/")


def test_signed_webhook_is_accepted_by_the_library() -> None:
    payload = event_payload("invoice.paid", {"id": "in_1", "object": "invoice", "customer": "cus_1"})

    event = stripe.Webhook.construct_event(payload, sign_webhook(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)

    assert event.id.startswith("evt_") and event.type == "invoice.paid"
    assert event.data.object.customer == "cus_1"


def test_tampered_webhook_is_rejected() -> None:
    payload = event_payload("invoice.paid", {"id": "in_1", "object": "invoice", "amount_paid": 900})
    header = sign_webhook(payload, WEBHOOK_SECRET)
    tampered = json.dumps({**json.loads(payload), "type": "invoice.voided"}).encode()

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_webhook(payload, "whsec_other"), WEBHOOK_SECRET)


def test_webhook_older_than_the_tolerance_is_rejected() -> None:
    payload = event_payload("invoice.paid", {"id": "in_1", "object": "invoice"})
    stale = sign_webhook(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - stripe.Webhook.DEFAULT_TOLERANCE - 60)

    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, stale, WEBHOOK_SECRET)


def test_per_unit_price_takes_whole_or_decimal_cents(client: stripe.StripeClient) -> None:
    whole = recurring_price(client, unit_amount=900)
    fraction = recurring_price(client, unit_amount_decimal=Decimal("0.15"))

    assert whole.unit_amount == 900 and whole.unit_amount_decimal == Decimal("900")
    assert fraction.unit_amount is None and fraction.unit_amount_decimal == Decimal("0.15")
    assert fraction.billing_scheme == "per_unit" and fraction.tiers_mode is None


def test_tiered_price_shows_its_tiers_only_when_expanded(client: stripe.StripeClient) -> None:
    meter, _ = metered_setup(client)

    price = recurring_price(
        client,
        meter,
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=FREE_THEN_TENTH_OF_A_CENT,
        expand=["tiers"],
    )

    assert price.billing_scheme == "tiered" and price.tiers_mode == "graduated"
    assert price.unit_amount is None and price.unit_amount_decimal is None
    assert [tier.up_to for tier in price.tiers] == [1000, None]
    assert price.tiers[0].unit_amount == 0 and price.tiers[0].flat_amount is None
    assert price.tiers[1].unit_amount is None and price.tiers[1].unit_amount_decimal == Decimal("0.1")
    assert "tiers" not in client.v1.prices.retrieve(price.id)
    assert client.v1.prices.retrieve(price.id, {"expand": ["tiers"]}).tiers == price.tiers


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"tiers_mode": None}, "tiers_mode"),
        ({"tiers": None}, "tiers"),
        ({"unit_amount": 5}, "unit_amount"),
        ({"billing_scheme": "per_unit", "unit_amount": 5}, "tiers"),
        ({"billing_scheme": None, "tiers": None, "tiers_mode": None}, "unit_amount"),
        ({"tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": 5000, "unit_amount": 1}]}, "tiers[1][up_to]"),
        ({"tiers": [{"up_to": "inf", "unit_amount": 0}, {"up_to": "inf", "unit_amount": 1}]}, "tiers[0][up_to]"),
        (
            {
                "tiers": [
                    {"up_to": 10, "unit_amount": 0},
                    {"up_to": 5, "unit_amount": 1},
                    {"up_to": "inf", "unit_amount": 1},
                ]
            },
            "tiers[1][up_to]",
        ),
        ({"tiers": [{"up_to": 1000}, {"up_to": "inf", "unit_amount": 1}]}, "tiers[0]"),
        (
            {"tiers": [{"up_to": "inf", "unit_amount": 1, "unit_amount_decimal": Decimal("0.5")}]},
            "tiers[0][unit_amount]",
        ),
    ],
)
def test_malformed_prices_are_refused_as_stripe_does(
    client: stripe.StripeClient, changes: dict[str, Any], param: str
) -> None:
    meter, _ = metered_setup(client)
    tiered = {"billing_scheme": "tiered", "tiers_mode": "graduated", "tiers": FREE_THEN_TENTH_OF_A_CENT}
    pricing = {name: value for name, value in {**tiered, **changes}.items() if value is not None}

    with pytest.raises(stripe.InvalidRequestError) as raised:
        recurring_price(client, meter, **pricing)

    assert raised.value.http_status == 400 and raised.value.param == param


def test_graduated_tiers_bill_each_unit_at_its_tier(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    price = recurring_price(
        client, meter, billing_scheme="tiered", tiers_mode="graduated", tiers=FREE_THEN_TENTH_OF_A_CENT
    )
    subscribe(client, customer, price)
    report(client, customer, 1000)
    report(client, customer, 1500)

    (invoice,) = fake.close_billing_period()

    (line,) = invoice["lines"]["data"]
    assert (line["quantity"], line["amount"]) == (2500, 150)  # 1000 free, then 1500 at 0.1 cent.
    assert invoice["amount_due"] == invoice["total"] == 150


def test_licensed_tiers_graduated_with_a_flat_fee_and_by_volume(fake: StripeFake, client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)
    flat_then_per_seat = recurring_price(
        client,
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 5, "flat_amount": 1000}, {"up_to": "inf", "unit_amount": 300}],
    )
    by_volume = recurring_price(
        client,
        billing_scheme="tiered",
        tiers_mode="volume",
        tiers=[{"up_to": 5, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400}],
    )
    client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": flat_then_per_seat.id, "quantity": 8}, {"price": by_volume.id, "quantity": 8}],
        }
    )

    (invoice,) = fake.close_billing_period()

    # Graduated: 1000 flat for seats 1-5, then 3 × 300; volume: all 8 seats at the 6+ rate.
    assert [line["amount"] for line in invoice["lines"]["data"]] == [1900, 3200]


def test_each_line_is_rounded_to_a_cent_half_up(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    half_cent_per_call = recurring_price(client, meter, unit_amount_decimal=Decimal("0.5"))
    quarter_cent_seat = recurring_price(client, unit_amount_decimal=Decimal("0.25"))
    client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": half_cent_per_call.id}, {"price": quarter_cent_seat.id, "quantity": 2}],
        }
    )
    report(client, customer, 5)

    (invoice,) = fake.close_billing_period()

    # 2.5 cents rounds up to 3 (banker's rounding would give 2); 0.5 to 1; the lines, not the sum, are rounded.
    assert [line["amount"] for line in invoice["lines"]["data"]] == [3, 1]
    assert invoice["total"] == 4


def test_closing_a_period_invoices_in_basil_shape(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    seats = recurring_price(client, unit_amount=900)
    per_call = recurring_price(client, meter, unit_amount=2)
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": seats.id, "quantity": 2}, {"price": per_call.id}],
            "metadata": {"listing": "weather-api"},
        }
    )
    report(client, customer, 40)

    (invoice,) = fake.close_billing_period()

    first_item = subscription["items"].data[0]
    assert invoice["id"].startswith("in_") and invoice["object"] == "invoice"
    assert (invoice["customer"], invoice["currency"], invoice["status"]) == (customer.id, "usd", "paid")
    assert invoice["amount_due"] == invoice["amount_paid"] == invoice["total"] == 2 * 900 + 40 * 2
    assert invoice["amount_remaining"] == 0 and invoice["attempt_count"] == 1
    assert invoice["parent"] == {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {
            "subscription": subscription.id,
            "metadata": {"listing": "weather-api"},
            "subscription_proration_date": None,
        },
    }
    assert "subscription" not in invoice and "paid" not in invoice  # Both gone since Basil.
    assert invoice["hosted_invoice_url"].startswith(f"{fake.base_url}/i/{invoice['id']}/")
    assert invoice["invoice_pdf"].startswith(f"{fake.base_url}/invoice/{invoice['id']}/")
    assert invoice["period_start"] == first_item.current_period_start == subscription.created
    assert invoice["status_transitions"]["paid_at"] >= invoice["period_end"] > invoice["period_start"]
    lines = invoice["lines"]["data"]
    assert [line["pricing"]["price_details"]["price"] for line in lines] == [seats.id, per_call.id]
    assert [(line["quantity"], line["amount"]) for line in lines] == [(2, 1800), (40, 80)]
    assert lines[0]["parent"]["subscription_item_details"]["subscription_item"] == first_item.id
    assert client.v1.invoices.retrieve(invoice["id"]).to_dict(for_json=True) == invoice
    assert fake.invoices() == [invoice]
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.latest_invoice == invoice["id"]
    assert renewed["items"].data[0].current_period_start == invoice["period_end"]
    assert renewed["items"].data[0].current_period_end > invoice["period_end"]


def test_usage_outside_the_period_is_not_billed_in_it(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    subscription = subscribe(client, customer, recurring_price(client, meter, unit_amount=1))
    period_start = subscription["items"].data[0].current_period_start
    report(client, customer, 100, timestamp=period_start - 3600)  # Before the subscription began.
    report(client, customer, 7)

    (first,) = fake.close_billing_period()
    report(client, customer, 11)  # After the close: the next period.
    (second,) = fake.close_billing_period()

    assert first["lines"]["data"][0]["quantity"] == 7
    assert second["lines"]["data"][0]["quantity"] == 11
    assert second["period_start"] == first["period_end"]
    assert fake.usage(meter.id, customer.id) == 118


def test_a_test_clock_close_bills_usage_stamped_up_to_then(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    subscribe(client, customer, recurring_price(client, meter, unit_amount=1))
    in_an_hour = int(time.time()) + 3600
    report(client, customer, 5, timestamp=in_an_hour - 1)
    (invoice,) = fake.close_billing_period(at=in_an_hour)
    assert (invoice["period_end"], invoice["lines"]["data"][0]["quantity"]) == (in_an_hour, 5)


def test_transfers_are_listed_by_transfer_group_newest_first(fake: StripeFake, client: stripe.StripeClient) -> None:
    seller = client.v1.accounts.create({"type": "express"})
    fake.complete_onboarding(seller.id)
    made = [
        client.v1.transfers.create(
            {"amount": amount, "currency": "usd", "destination": seller.id, "transfer_group": group}
        ).id
        for amount, group in ((100, "g1"), (200, "g2"), (300, "g1"))
    ]
    listed = client.v1.transfers.list({"transfer_group": "g1"})
    assert [t.id for t in listed.data] == [made[2], made[0]] and not listed.has_more
    assert client.v1.transfers.list({"transfer_group": "none"}).data == []
    assert [t.id for t in client.v1.transfers.list({"limit": 1}).data] == [made[2]]


def test_declined_card_refuses_a_subscription_that_must_be_paid_now(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    meter, customer = metered_setup(client)
    seats = recurring_price(client, unit_amount=900)
    fake.decline_cards(customer.id)

    with pytest.raises(stripe.CardError) as raised:
        subscribe(client, customer, seats, payment_behavior="error_if_incomplete")
    usage_only = subscribe(
        client, customer, recurring_price(client, meter, unit_amount=2), payment_behavior="error_if_incomplete"
    )
    allowed = subscribe(client, customer, seats)  # allow_incomplete, the default, takes it.

    assert raised.value.http_status == 402
    assert raised.value.code == "card_declined" and raised.value.error.decline_code == "generic_decline"
    assert raised.value.user_message == "Your card was declined."
    assert usage_only.status == allowed.status == "active"  # Nothing is due up front on usage.


def test_declined_subscription_replays_its_decline_under_the_same_idempotency_key(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    _, customer = metered_setup(client)
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer.id,
        "items": [{"price": recurring_price(client, unit_amount=900).id}],
        "payment_behavior": "error_if_incomplete",
    }
    fake.decline_cards(customer.id)
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.create(params, {"idempotency_key": "subscribe-1"})
    fake.accept_cards(customer.id)

    with pytest.raises(stripe.CardError):  # A decline is an outcome: Stripe stores and replays it.
        client.v1.subscriptions.create(params, {"idempotency_key": "subscribe-1"})
    subscription = client.v1.subscriptions.create(params, {"idempotency_key": "subscribe-2"})

    assert [seen.replayed for seen in fake.requests()[-3:]] == [False, True, False]
    assert subscription.status == "active"


def test_injected_card_error_is_a_card_declined(fake: StripeFake, client: stripe.StripeClient) -> None:
    fake.fail_next(402, error_type="card_error")

    with pytest.raises(stripe.CardError) as raised:
        client.v1.customers.create({"email": "buyer@example.com"})

    assert raised.value.code == "card_declined" and raised.value.http_status == 402


def test_invoices_are_delivered_as_signed_paid_and_payment_failed_events(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _, payer = metered_setup(client)
    declined = client.v1.customers.create({"email": "declined@example.com"})
    seats = recurring_price(client, unit_amount=900)
    subscribe(client, payer, seats)
    subscribe(client, declined, seats)
    fake.decline_cards(declined.id)
    secret = fake.add_webhook_endpoint(f"{receiver.url}/stripe/webhooks")

    paid, failed = fake.close_billing_period()

    events = receiver.events(secret)
    assert [(event.type, event.data.object.id) for event in events] == [
        ("invoice.paid", paid["id"]),
        ("invoice.payment_failed", failed["id"]),
    ]
    assert events[0].id.startswith("evt_") and events[0].id != events[1].id
    assert events[1].data.object.to_dict(for_json=True) == failed
    assert (failed["status"], failed["amount_paid"], failed["amount_remaining"]) == ("open", 0, 900)
    assert failed["attempt_count"] == 1 and failed["status_transitions"]["paid_at"] is None
    assert {got.path for got in receiver.received} == {"/stripe/webhooks"}
    assert {got.headers["content-type"] for got in receiver.received} == {"application/json; charset=utf-8"}
    assert [(d.event_id, d.event_type, d.status) for d in fake.deliveries()] == [
        (event.id, event.type, 200) for event in events
    ]


def test_every_endpoint_gets_each_event_signed_with_its_own_secret(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _, customer = metered_setup(client)
    subscribe(client, customer, recurring_price(client, unit_amount=900))
    first = fake.add_webhook_endpoint(f"{receiver.url}/first")
    second = fake.add_webhook_endpoint(f"{receiver.url}/second")

    fake.close_billing_period()

    by_path = {got.path: got for got in receiver.received}
    assert set(by_path) == {"/first", "/second"}
    for path, secret in (("/first", first), ("/second", second)):
        got = by_path[path]
        assert stripe.Webhook.construct_event(got.body, got.headers["stripe-signature"], secret).type == "invoice.paid"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(by_path["/first"].body, by_path["/first"].headers["stripe-signature"], second)


def test_failed_invoice_is_paid_once_the_card_works(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _, customer = metered_setup(client)
    subscribe(client, customer, recurring_price(client, unit_amount=900))
    fake.decline_cards(customer.id)
    secret = fake.add_webhook_endpoint(receiver.url)
    (invoice,) = fake.close_billing_period()

    still_declined = fake.pay_invoice(invoice["id"])
    fake.accept_cards(customer.id)
    paid = fake.pay_invoice(invoice["id"])

    assert (still_declined["status"], still_declined["attempt_count"]) == ("open", 2)
    assert (paid["status"], paid["amount_paid"], paid["attempt_count"]) == ("paid", 900, 3)
    assert [event.type for event in receiver.events(secret)] == [
        "invoice.payment_failed",
        "invoice.payment_failed",
        "invoice.paid",
    ]
    assert client.v1.invoices.retrieve(invoice["id"]).status_transitions.paid_at is not None
    with pytest.raises(ValueError, match="not open"):
        fake.pay_invoice(invoice["id"])


def test_cancel_at_period_end_cancels_at_the_close_and_says_so(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _, customer = metered_setup(client)
    subscription = subscribe(client, customer, recurring_price(client, unit_amount=900))
    secret = fake.add_webhook_endpoint(receiver.url)

    pending = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    (invoice,) = fake.close_billing_period()

    assert pending.status == "active" and pending.cancel_at_period_end
    assert pending.canceled_at is not None  # When cancellation was asked for, as on Stripe.
    assert pending.cancel_at == pending["items"].data[0].current_period_end
    paid, deleted = receiver.events(secret)
    assert (paid.type, paid.data.object.id) == ("invoice.paid", invoice["id"])
    assert deleted.type == "customer.subscription.deleted"
    assert (deleted.data.object.id, deleted.data.object.status) == (subscription.id, "canceled")
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled" and ended.ended_at == invoice["period_end"]
    assert fake.close_billing_period() == []  # Nothing more to bill.


def test_cancel_at_period_end_can_be_taken_back(fake: StripeFake, client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)
    subscription = subscribe(client, customer, recurring_price(client, unit_amount=900))
    client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})

    kept = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})
    fake.close_billing_period()

    assert not kept.cancel_at_period_end and kept.canceled_at is None and kept.cancel_at is None
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


def test_update_swaps_items_and_merges_metadata(fake: StripeFake, client: stripe.StripeClient) -> None:
    meter, customer = metered_setup(client)
    basic = recurring_price(client, meter, unit_amount=2)
    pro = recurring_price(client, meter, unit_amount=1)
    subscription = subscribe(client, customer, basic, metadata={"listing": "weather-api", "plan": "basic"})

    updated = client.v1.subscriptions.update(
        subscription.id,
        {
            "items": [{"id": subscription["items"].data[0].id, "deleted": True}, {"price": pro.id}],
            "metadata": {"plan": "pro", "listing": "", "seller": "acct_1"},
            "proration_behavior": "none",
        },
    )
    report(client, customer, 10)
    (invoice,) = fake.close_billing_period()

    assert [item.price.id for item in updated["items"].data] == [pro.id]
    assert updated.metadata.to_dict() == {"plan": "pro", "seller": "acct_1"}
    assert [line["pricing"]["price_details"]["price"] for line in invoice["lines"]["data"]] == [pro.id]
    assert invoice["parent"]["subscription_details"]["metadata"] == {"plan": "pro", "seller": "acct_1"}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"items": [{"id": "si_missing", "deleted": True}]}, "items[0][id]"),
        ({"proration_behavior": "sometimes"}, "proration_behavior"),
        ({"cancel_at_period_end": "maybe"}, "cancel_at_period_end"),
        ({"pause_collection": {"behavior": "void"}}, "pause_collection"),
    ],
)
def test_bad_update_is_refused_and_changes_nothing(
    client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    _, customer = metered_setup(client)
    subscription = subscribe(client, customer, recurring_price(client, unit_amount=900), metadata={"k": "v"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.update(subscription.id, {**params, "metadata": {"k": "changed"}})  # type: ignore[typeddict-item]

    assert raised.value.param == param
    assert client.v1.subscriptions.retrieve(subscription.id).to_dict(for_json=True) == subscription.to_dict(
        for_json=True
    )


def test_removing_the_last_item_or_adding_a_price_twice_is_refused(client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)
    price = recurring_price(client, unit_amount=900)
    subscription = subscribe(client, customer, price)

    with pytest.raises(stripe.InvalidRequestError, match="at least one item"):
        client.v1.subscriptions.update(
            subscription.id, {"items": [{"id": subscription["items"].data[0].id, "deleted": True}]}
        )
    with pytest.raises(stripe.InvalidRequestError, match="same price"):
        client.v1.subscriptions.update(subscription.id, {"items": [{"price": price.id}]})


def test_canceled_subscription_takes_only_metadata(client: stripe.StripeClient) -> None:
    _, customer = metered_setup(client)
    subscription = subscribe(client, customer, recurring_price(client, unit_amount=900))
    client.v1.subscriptions.cancel(subscription.id)

    with pytest.raises(stripe.InvalidRequestError, match="canceled subscription can only update") as raised:
        client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    noted = client.v1.subscriptions.update(subscription.id, {"metadata": {"reason": "churned"}})

    assert raised.value.http_status == 400
    assert noted.status == "canceled" and noted.metadata["reason"] == "churned"


def test_failed_delivery_is_recorded_and_redelivered_with_the_same_event_id(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _, customer = metered_setup(client)
    subscribe(client, customer, recurring_price(client, unit_amount=900))
    secret = fake.add_webhook_endpoint(receiver.url)
    receiver.status = 500

    fake.close_billing_period()  # Does not raise: Stripe just retries later.
    (failed,) = fake.deliveries()
    receiver.status = 200
    (retried,) = fake.redeliver(failed.event_id)

    assert (failed.status, retried.status) == (500, 200)
    first, second = receiver.events(secret)
    assert first.id == second.id == failed.event_id
    assert first.to_dict(for_json=True) == second.to_dict(for_json=True)
    assert [d.status for d in fake.deliveries()] == [500, 200]
    assert [event["id"] for event in fake.events()] == [failed.event_id]


def test_unreachable_endpoint_is_a_delivery_without_a_status(fake: StripeFake, client: stripe.StripeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    _, customer = metered_setup(client)
    subscribe(client, customer, recurring_price(client, unit_amount=900))
    fake.add_webhook_endpoint(f"http://127.0.0.1:{closed_port}/hooks")

    fake.close_billing_period()

    assert [(d.event_type, d.status) for d in fake.deliveries()] == [("invoice.paid", None)]


@pytest.mark.parametrize("url", ["https://example.com/hooks", "ftp://127.0.0.1/hooks", "not a url"])
def test_webhook_endpoints_must_be_on_loopback(fake: StripeFake, url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        fake.add_webhook_endpoint(url)


def test_connected_account_is_retrieved_and_its_balance_sums_its_transfers(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    seller = client.v1.accounts.create({"type": "express", "metadata": {"seller": "s1"}})
    other = client.v1.accounts.create({"type": "express"})
    for account in (seller, other):
        fake.complete_onboarding(account.id)
    for amount, destination in [(1234, seller), (766, seller), (50, other)]:
        client.v1.transfers.create(
            {"amount": amount, "currency": "usd", "destination": destination.id, "transfer_group": "2026-11"}
        )

    retrieved = client.v1.accounts.retrieve(seller.id)

    assert retrieved.metadata["seller"] == "s1" and retrieved.payouts_enabled
    assert fake.balance_of(seller.id) == 2000 and fake.balance_of(other.id) == 50
    with pytest.raises(KeyError):
        fake.balance_of("acct_missing")


# --- trials -----------------------------------------------------------------------------------------

DAY = 86_400


def trial_setup(client: stripe.StripeClient, **params: Any) -> tuple[stripe.Customer, stripe.Subscription]:
    """A customer subscribed to a $9 monthly fee and a per-call price on ``api_calls``, with ``params`` (a trial)."""
    meter, customer = metered_setup(client)
    fee, per_call = recurring_price(client, unit_amount=900), recurring_price(client, meter, unit_amount=2)
    return customer, subscribe(client, customer, fee, per_call, **params)


def test_a_trial_invoices_nothing_and_its_usage_is_never_billed(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    customer, subscription = trial_setup(client, trial_period_days=14)
    secret = fake.add_webhook_endpoint(receiver.url)
    start, end = subscription.trial_start, subscription.trial_end
    report(client, customer, 500, timestamp=start + DAY)

    assert subscription.status == "trialing" and end == start + 14 * DAY
    assert [item.current_period_end for item in subscription["items"].data] == [end, end]
    (opening,) = fake.invoices()
    assert (opening["billing_reason"], opening["status"], opening["total"]) == ("subscription_create", "paid", 0)
    assert [line["description"] for line in opening["lines"]["data"]] == ["Trial period for Weather API"] * 2
    assert opening["attempt_count"] == 0  # Nothing to charge: no card was tried.
    assert fake.close_billing_period(at=start + 2 * DAY) == []  # Still in its trial.

    fake.advance_clock(end - 3 * DAY)
    fake.advance_clock(end - DAY)  # The warning is sent once.
    fake.advance_clock(end)
    report(client, customer, 7, timestamp=end + DAY)
    (first,) = fake.close_billing_period(at=end + 10 * DAY)

    warning, started, paid = receiver.events(secret)
    assert (warning.type, warning.data.object.id) == ("customer.subscription.trial_will_end", subscription.id)
    assert (started.type, started.data.object.status) == ("customer.subscription.updated", "active")
    assert (paid.type, paid.data.object.id) == ("invoice.paid", first["id"])
    assert (first["period_start"], first["billing_reason"]) == (end, "subscription_cycle")
    assert [(line["quantity"], line["amount"]) for line in first["lines"]["data"]] == [(1, 900), (7, 14)]
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.status == "active" and renewed.trial_end == end
    assert renewed["items"].data[0].current_period_start == end + 10 * DAY


def test_a_close_past_a_trials_end_bills_from_the_end(fake: StripeFake, client: stripe.StripeClient) -> None:
    trial_end = int(time.time()) + 5 * DAY
    customer, subscription = trial_setup(client, trial_end=trial_end)
    report(client, customer, 3, timestamp=trial_end - 60)
    report(client, customer, 4, timestamp=trial_end + 60)

    (invoice,) = fake.close_billing_period(at=trial_end + 3600)

    assert (subscription.trial_end, invoice["period_start"]) == (trial_end, trial_end)
    assert [(line["quantity"], line["amount"]) for line in invoice["lines"]["data"]] == [(1, 900), (4, 8)]


def test_cancelling_at_period_end_in_a_trial_ends_it_at_the_trials_end_unpaid(
    fake: StripeFake, client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    customer, subscription = trial_setup(client, trial_period_days=2)
    secret = fake.add_webhook_endpoint(receiver.url)
    report(client, customer, 50)

    pending = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert (pending.status, pending.cancel_at) == ("trialing", subscription.trial_end)
    assert fake.close_billing_period(at=subscription.trial_end + DAY) == []

    warning, deleted = receiver.events(secret)
    assert warning.type == "customer.subscription.trial_will_end"  # A two-day trial is warned at its start.
    assert (deleted.type, deleted.data.object.status) == ("customer.subscription.deleted", "canceled")
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.ended_at == subscription.trial_end
    assert [invoice["total"] for invoice in fake.invoices()] == [0]


def test_a_trial_needs_no_payment_up_front_even_when_cards_decline(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    _, customer = metered_setup(client)
    fake.decline_cards(customer.id)
    subscription = subscribe(
        client,
        customer,
        recurring_price(client, unit_amount=900),
        payment_behavior="error_if_incomplete",
        trial_period_days=730,
    )
    assert subscription.status == "trialing"
    assert subscribe(client, customer, recurring_price(client, unit_amount=1), trial_end="now").status == "active"


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"trial_period_days": 731}, "trial_period_days", "maximum number of trial period days is 730"),
        ({"trial_period_days": 7, "trial_end": "now"}, "trial_end", "only specify one of these parameters"),
        ({"trial_end": 1_000_000}, "trial_end", "in the future"),
        ({"trial_end": int(time.time()) + 731 * DAY}, "trial_end", "at most 730 days"),
        ({"default_payment_method": "pm_missing"}, "default_payment_method", "No such payment method"),
    ],
)
def test_bad_trial_or_payment_method_is_refused_as_stripe_does(
    fake: StripeFake, client: stripe.StripeClient, params: dict[str, Any], param: str, message: str
) -> None:
    _, customer = metered_setup(client)
    with pytest.raises(stripe.InvalidRequestError, match=message) as refused:
        subscribe(client, customer, recurring_price(client, unit_amount=900), **params)
    assert refused.value.param == param
    assert fake._all("subscription") == []


def test_changing_items_in_a_trial_keeps_it_unless_trial_end_is_now(
    fake: StripeFake, client: stripe.StripeClient
) -> None:
    customer, subscription = trial_setup(client, trial_period_days=14)
    dearer = recurring_price(client, unit_amount=4900)
    fee_item = subscription["items"].data[0]
    swap = {"items": [{"id": fee_item.id, "deleted": True}, {"price": dearer.id}]}

    kept = client.v1.subscriptions.update(subscription.id, swap)  # type: ignore[arg-type]
    assert (kept.status, kept.trial_end) == ("trialing", subscription.trial_end)
    assert {item.current_period_end for item in kept["items"].data} == {subscription.trial_end}

    ended = client.v1.subscriptions.update(subscription.id, {"trial_end": "now"})
    assert ended.status == "active" and ended.trial_end == ended["items"].data[0].current_period_start
    (invoice,) = fake.close_billing_period(at=ended.trial_end + DAY)
    assert (invoice["period_start"], invoice["total"]) == (ended.trial_end, 4900)
    with pytest.raises(stripe.InvalidRequestError, match="trial_end=now"):
        client.v1.subscriptions.update(subscription.id, {"trial_end": ended.trial_end + DAY})
