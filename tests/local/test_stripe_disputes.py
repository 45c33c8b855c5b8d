"""The Stripe fake's disputes, read through the official ``stripe`` client: Stripe's dispute object, the money
withdrawn with the dispute fee and reinstated on a win (balance transactions), and the ``charge.dispute.*``
events in order."""

import pytest
import stripe

from api_direct.local.stripe_server import StripeFake
from api_direct.local.stripe_server.disputes import DISPUTE_FEE_CENTS
from tests.stripe_fake import WebhookReceiver


@pytest.mark.parametrize("won", [True, False])
def test_a_dispute_withdraws_the_amount_and_fee_and_a_win_reinstates_them(
    fake: StripeFake, client: stripe.StripeClient, paid: stripe.PaymentIntent, receiver: WebhookReceiver, won: bool
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    opened = fake.open_dispute(str(paid.latest_charge), amount=500, reason="product_not_received")
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (dispute.object, dispute.amount, dispute.charge, dispute.payment_intent) == (
        "dispute",
        500,
        paid.latest_charge,
        paid.id,
    )
    assert (dispute.status, dispute.reason, dispute.currency) == ("needs_response", "product_not_received", "usd")
    [withdrawn] = dispute.balance_transactions
    assert (withdrawn.amount, withdrawn.fee, withdrawn.net) == (-500, DISPUTE_FEE_CENTS, -500 - DISPUTE_FEE_CENTS)
    assert client.v1.charges.retrieve(str(paid.latest_charge)).disputed is True

    fake.close_dispute(opened["id"], won=won)
    closed = client.v1.disputes.retrieve(opened["id"])
    assert closed.status == ("won" if won else "lost")
    assert [t.net for t in closed.balance_transactions] == [-500 - DISPUTE_FEE_CENTS] + (
        [500 + DISPUTE_FEE_CENTS] if won else []
    )
    types = [event.type for event in receiver.events(secret)]
    assert types == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        *(["charge.dispute.funds_reinstated"] if won else []),
        "charge.dispute.closed",
    ]
    with pytest.raises(ValueError, match="already"):
        fake.close_dispute(opened["id"], won=not won)


def test_a_charge_is_disputed_once_and_an_unknown_dispute_is_stripe_s_404(
    fake: StripeFake, client: stripe.StripeClient, paid: stripe.PaymentIntent
) -> None:
    fake.open_dispute(str(paid.latest_charge))
    with pytest.raises(ValueError, match="cannot be disputed"):
        fake.open_dispute(str(paid.latest_charge))
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.disputes.retrieve("dp_missing")
    assert refused.value.http_status == 404
