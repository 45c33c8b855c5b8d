"""The Stripe fake, driven through the official ``stripe`` library as billing code will drive it.

Each test goes through ``stripe.StripeClient``, so what passes here is the
library's real form encoding, error mapping and retry policy meeting the fake's
wire format, not a hand-built request.
"""

import json
import time
from collections.abc import Iterator

import pytest
import requests
import stripe

from tests.stripe_fake import (
    StripeFake,
    event_payload,
    parse_form,
    running_stripe_fake,
    sign_webhook,
)

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as running:
        yield running


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


@pytest.fixture
def client(fake: StripeFake) -> stripe.StripeClient:
    return client_for(fake)


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
        client.v1.invoices.list()

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
