"""The Stripe fake's saved cards and off-session payments, through the official ``stripe`` client.

What an auto-reload of prepaid credit does against Stripe: charge the customer's
saved card with ``confirm=true, off_session=true`` under an idempotency key, read
Stripe's fee from the charge's balance transaction, and learn of a decline from the
402 that carries the PaymentIntent.
"""

import pytest
import stripe

from api_direct.local.stripe_server import StripeFake
from tests.stripe_fake import WebhookReceiver


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create({"email": "buyer@example.com"})


def reload(
    client: stripe.StripeClient, customer: stripe.Customer, method: str, amount: int = 800, key: str | None = None
) -> stripe.PaymentIntent:
    """Charge ``method`` off-session, as an auto-reload does."""
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method,
            "off_session": True,
            "confirm": True,
            "metadata": {"apid_purpose": "credits"},
            "description": "10,000 calls",
        },
        {"idempotency_key": key} if key else None,
    )


def test_off_session_payment_succeeds_with_a_charge_and_stripes_fee(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    method = fake.attach_card(customer.id)

    intent = reload(client, customer, method)

    assert (intent.status, intent.amount_received, intent.payment_method) == ("succeeded", 800, method)
    assert intent.metadata.to_dict() == {"apid_purpose": "credits"}
    charge = client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})
    assert (charge.status, charge.amount, charge.payment_intent, charge.customer) == (
        "succeeded",
        800,
        intent.id,
        customer.id,
    )
    fee = charge.balance_transaction
    assert isinstance(fee, stripe.BalanceTransaction)
    assert (fee.type, fee.source, fee.fee, fee.net) == ("charge", charge.id, 53, 747)  # 23.2 + 30 cents, rounded
    assert [(detail.type, detail.amount) for detail in fee.fee_details] == [("stripe_fee", 53)]
    assert client.v1.balance_transactions.retrieve(fee.id).fee == 53


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(50, 31), (500, 45), (1000, 59), (1234, 66), (999_99, 29_30)],  # 500: 14.5 + 30 rounds half up
)
def test_fee_is_two_point_nine_percent_plus_thirty_cents_rounded_half_up(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, amount: int, fee: int
) -> None:
    intent = reload(client, customer, fake.attach_card(customer.id), amount=amount)

    charge = client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})
    assert isinstance(charge.balance_transaction, stripe.BalanceTransaction)
    assert (charge.balance_transaction.fee, charge.balance_transaction.net) == (fee, amount - fee)


def test_success_is_delivered_as_payment_intent_succeeded_after_the_response(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)

    intent = reload(client, customer, fake.attach_card(customer.id))

    fake.settle()
    events = receiver.events(secret)
    assert [(event.type, event.data.object["id"]) for event in events] == [("payment_intent.succeeded", intent.id)]


def test_declined_customer_gets_stripes_card_error_carrying_the_intent(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    method = fake.attach_card(customer.id)
    fake.decline_cards(customer.id)

    with pytest.raises(stripe.CardError, match="Your card was declined.") as raised:
        reload(client, customer, method)

    error = raised.value
    assert (error.http_status, error.code) == (402, "card_declined")
    assert error.error is not None and error.error.decline_code == "generic_decline"
    intent = error.error.payment_intent
    assert intent is not None
    assert (intent.status, intent.payment_method) == ("requires_payment_method", None)
    assert intent.last_payment_error is not None and intent.last_payment_error.payment_method is not None
    assert intent.last_payment_error.payment_method.id == method
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.status, charge.paid, charge.balance_transaction, charge.failure_code) == (
        "failed",
        False,
        None,
        "card_declined",
    )
    fake.settle()
    assert [event.type for event in receiver.events(secret)] == ["payment_intent.payment_failed"]


def test_a_card_that_attaches_but_fails_when_charged_declines_off_session(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    method = fake.attach_card(customer.id, "4000000000000341")

    with pytest.raises(stripe.CardError) as raised:
        reload(client, customer, method)

    assert raised.value.error is not None and raised.value.error.payment_intent is not None
    got = client.v1.payment_intents.retrieve(raised.value.error.payment_intent.id)
    assert got.status == "requires_payment_method"


def test_a_reload_retried_with_its_key_charges_once_and_replays_a_decline_even_after_the_card_works(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    method = fake.attach_card(customer.id)
    first = reload(client, customer, method, key="reload-1")
    again = reload(client, customer, method, key="reload-1")
    fake.decline_cards(customer.id)
    with pytest.raises(stripe.CardError):
        reload(client, customer, method, key="reload-2")
    fake.accept_cards(customer.id)

    with pytest.raises(stripe.CardError):
        reload(client, customer, method, key="reload-2")

    assert again.id == first.id
    assert [charge["status"] for charge in fake.charges()] == ["succeeded", "failed"]


def test_attach_card_sets_the_customers_default_which_update_can_change(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    first = fake.attach_card(customer.id)
    second = fake.attach_card(customer.id, "5555555555554444", default=False)

    updated = client.v1.customers.update(
        customer.id,
        {"invoice_settings": {"default_payment_method": second}, "expand": ["invoice_settings.default_payment_method"]},
    )

    default = updated.invoice_settings.default_payment_method
    assert isinstance(default, stripe.PaymentMethod)
    assert default.card is not None and (default.id, default.card.brand) == (second, "mastercard")
    listed = client.v1.customers.payment_methods.list(customer.id, {"type": "card"})
    assert [method.id for method in listed.data] == [second, first]
    assert client.v1.payment_methods.retrieve(first).customer == customer.id


def test_default_card_must_be_the_customers_own(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    other = client.v1.customers.create({"email": "other@example.com"})
    theirs = fake.attach_card(other.id)

    with pytest.raises(stripe.InvalidRequestError, match="does not have a payment method with the ID"):
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": theirs}})

    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"payment_method": None}, "missing a payment method"),
        ({"payment_method": "theirs"}, "does not belong to the Customer"),
        ({"confirm": False}, "only specify `off_session` when confirming"),
        ({"amount": 49}, "Amount must be at least $0.50 usd"),
        ({"expand": ["latest_charge.balance_transaction.source.payment_intent.customer"]}, "more than 4 levels"),
        ({"expand": ["metadata"]}, "cannot be expanded (metadata)"),
    ],
)
def test_payments_stripe_would_refuse_are_refused_and_charge_nothing(
    fake: StripeFake,
    client: stripe.StripeClient,
    customer: stripe.Customer,
    params: dict[str, object],
    message: str,
) -> None:
    mine = fake.attach_card(customer.id)
    theirs = fake.attach_card(client.v1.customers.create({"email": "other@example.com"}).id)
    request: dict[str, object] = {
        "amount": 800,
        "currency": "usd",
        "customer": customer.id,
        "payment_method": mine,
        "off_session": True,
        "confirm": True,
        **params,
    }
    if request["payment_method"] is None:
        del request["payment_method"]
    elif request["payment_method"] == "theirs":
        request["payment_method"] = theirs

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(request)  # type: ignore[arg-type]

    assert message in str(raised.value.user_message)
    assert fake.charges() == []


def test_an_intent_not_confirmed_waits_for_confirmation(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    method = fake.attach_card(customer.id)

    intent = client.v1.payment_intents.create(
        {"amount": 800, "currency": "usd", "customer": customer.id, "payment_method": method}
    )

    assert (intent.status, intent.latest_charge) == ("requires_confirmation", None)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_confirmation"
