"""The Stripe fake's refunds, through the official ``stripe`` client: whole or in part, by payment intent or
charge, never beyond what is left (Stripe's own errors), the charge following, ``charge.refunded`` delivered,
an idempotency key never refunding twice."""

import pytest
import stripe

from api_direct.local.stripe_server import StripeFake
from tests.stripe_fake import serving_receiver


def test_a_partial_then_the_rest_refunded_by_payment_intent_and_the_charge_follows(
    client: stripe.StripeClient, paid: stripe.PaymentIntent
) -> None:
    first = client.v1.refunds.create(
        {"payment_intent": paid.id, "amount": 300, "reason": "requested_by_customer", "metadata": {"why": "test"}}
    )
    assert (first.object, first.status, first.amount, first.currency, first.reason) == (
        "refund",
        "succeeded",
        300,
        "usd",
        "requested_by_customer",
    )
    assert (first.payment_intent, first.charge, first.metadata.to_dict()) == (
        paid.id,
        paid.latest_charge,
        {"why": "test"},
    )
    charge = client.v1.charges.retrieve(str(paid.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (300, False)
    rest = client.v1.refunds.create({"charge": str(paid.latest_charge)})  # no amount: all that is left
    assert rest.amount == 500
    charge = client.v1.charges.retrieve(str(paid.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (800, True)
    assert [r.id for r in client.v1.refunds.list({"charge": charge.id}).data] == [rest.id, first.id]
    assert client.v1.refunds.retrieve(first.id).amount == 300
    # Stripe keeps its fee: the refund's balance transaction returns the amount and no fee.
    txn = client.v1.balance_transactions.retrieve(str(first.balance_transaction))
    assert (txn.type, txn.amount, txn.fee, txn.net, txn.source) == ("refund", -300, 0, -300, first.id)


def test_more_than_is_left_and_a_refunded_charge_are_stripes_errors(
    client: stripe.StripeClient, paid: stripe.PaymentIntent
) -> None:
    client.v1.refunds.create({"payment_intent": paid.id, "amount": 700})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create({"payment_intent": paid.id, "amount": 101})
    assert (too_much.value.http_status, too_much.value.param, too_much.value.code) == (400, "amount", None)
    assert str(too_much.value.user_message) == (
        "Refund amount ($1.01) is greater than unrefunded amount on charge ($1.00)"
    )
    client.v1.refunds.create({"payment_intent": paid.id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"payment_intent": paid.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    assert str(again.value.user_message) == f"Charge {paid.latest_charge} has already been refunded."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "You must pass either `charge` or `payment_intent` (and not both)."),
        ({"payment_intent": "pi_missing"}, "No such payment intent: 'pi_missing'"),
        ({"amount": "0"}, "Invalid positive integer"),
        ({"reason": "bored"}, "Invalid reason: must be one of duplicate, fraudulent, requested_by_customer"),
    ],
)
def test_bad_refunds_are_refused_in_stripes_words(
    client: stripe.StripeClient, paid: stripe.PaymentIntent, params: dict[str, str], message: str
) -> None:
    if params and "payment_intent" not in params:
        params = {"payment_intent": paid.id, **params}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params)  # type: ignore[arg-type]
    assert refused.value.user_message == message


def test_an_idempotency_key_never_refunds_twice(client: stripe.StripeClient, paid: stripe.PaymentIntent) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "refund-1"}
    first = client.v1.refunds.create({"payment_intent": paid.id, "amount": 200}, options)
    again = client.v1.refunds.create({"payment_intent": paid.id, "amount": 200}, options)
    assert again.id == first.id
    assert client.v1.charges.retrieve(str(paid.latest_charge)).amount_refunded == 200


def test_charge_refunded_is_delivered_with_the_charge(
    fake: StripeFake, client: stripe.StripeClient, paid: stripe.PaymentIntent
) -> None:
    with serving_receiver() as receiver:
        secret = fake.add_webhook_endpoint(receiver.url)
        refund = client.v1.refunds.create({"payment_intent": paid.id, "amount": 250})
        fake.settle()
        [event] = [e for e in receiver.events(secret) if e.type == "charge.refunded"]
    charge = event.data.object
    assert (charge["id"], charge["amount_refunded"], charge["refunded"], charge["payment_intent"]) == (
        refund.charge,
        250,
        False,
        paid.id,
    )
