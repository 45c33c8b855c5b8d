"""The Stripe fake's Checkout Sessions and hosted page, through the official ``stripe`` client and a plain HTTP client.

What billing builds on: a session in each mode, what completing it makes (a paid
PaymentIntent, a saved card and SetupIntent, a subscription), the page a browser
is sent to, and the ``checkout.session.completed`` event a webhook receives.
"""

import html
import re
import time
from types import SimpleNamespace

import pytest
import requests
import stripe

from api_direct.local.stripe_server import StripeError, StripeFake, checkout
from tests.stripe_fake import WebhookReceiver, one_time_price, recurring_price

SUCCESS_URL = "http://127.0.0.1:9/credits/bought?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://127.0.0.1:9/credits"


@pytest.fixture
def customer(client: stripe.StripeClient) -> stripe.Customer:
    return client.v1.customers.create({"email": "buyer@example.com", "name": "Ada"})


def pack_session(client: stripe.StripeClient, customer: stripe.Customer, **params: object) -> stripe.checkout.Session:
    """A payment-mode session selling two $8.00 credit packs."""
    price = one_time_price(client, 800)
    return client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            "success_url": SUCCESS_URL,
            "cancel_url": CANCEL_URL,
            "line_items": [{"price": price.id, "quantity": 2}],
            "metadata": {"apid_purpose": "credits"},
            **params,  # type: ignore[typeddict-item]
        }
    )


def setup_session(client: stripe.StripeClient, customer: stripe.Customer) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        {
            "mode": "setup",
            "customer": customer.id,
            "currency": "usd",
            "success_url": SUCCESS_URL,
            "setup_intent_data": {"metadata": {"apid_purpose": "trial"}},
        }
    )


def page(fake: StripeFake, session: stripe.checkout.Session, card: str | None = None) -> requests.Response:
    """The session's hosted page as a browser gets it, or what submitting ``card`` on it answers."""
    assert session.url is not None
    if card is None:
        return requests.get(session.url, timeout=10)
    return requests.post(
        session.url, data={"cardNumber": card, "cardExpiry": "", "cardCvc": "123"}, timeout=10, allow_redirects=False
    )


def test_payment_session_is_open_unpaid_and_points_at_the_fakes_page(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = pack_session(client, customer)

    assert re.fullmatch(r"cs_test_\w+", session.id)
    assert session.url == f"{fake.base_url}/c/pay/{session.id}"
    assert (session.object, session.mode, session.status, session.payment_status) == (
        "checkout.session",
        "payment",
        "open",
        "unpaid",
    )
    assert (session.amount_total, session.currency, session.customer) == (1600, "usd", customer.id)
    assert session.payment_intent is None  # Stripe makes it when the customer pays
    assert session.success_url == SUCCESS_URL
    assert 0 < session.expires_at - time.time() <= 24 * 3600
    assert "line_items" not in session
    expanded = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert expanded.line_items is not None
    assert [(item.description, item.quantity, item.amount_total) for item in expanded.line_items.data] == [
        ("10,000 calls", 2, 1600)
    ]


def test_completed_payment_session_has_a_paid_intent_with_the_charge_and_its_fee(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = pack_session(client, customer, payment_intent_data={"metadata": {"pack": "p1"}})

    done = fake.complete_checkout(session.id)

    assert (done["status"], done["payment_status"], done["url"]) == ("complete", "paid", None)
    assert done["customer_details"]["email"] == "buyer@example.com"
    got = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge.balance_transaction"]}
    )
    intent = got.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.status, intent.amount, intent.amount_received, intent.customer) == (
        "succeeded",
        1600,
        1600,
        customer.id,
    )
    assert intent.metadata.to_dict() == {"pack": "p1"}
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.paid and charge.payment_method_details is not None
    assert charge.payment_method_details.card is not None
    assert (charge.payment_method_details.card.brand, charge.payment_method_details.card.last4) == ("visa", "4242")
    fee = charge.balance_transaction
    assert isinstance(fee, stripe.BalanceTransaction)
    assert (fee.amount, fee.fee, fee.net) == (1600, 76, 1524)  # 2.9 % of 16.00 is 46.4 cents, plus 30


def test_card_saved_for_later_is_attached_to_the_customer_but_not_made_their_default(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = pack_session(client, customer, payment_intent_data={"setup_future_usage": "off_session"})

    fake.complete_checkout(session.id, card="5555555555554444")

    intent = client.v1.payment_intents.retrieve(str(client.v1.checkout.sessions.retrieve(session.id).payment_intent))
    assert intent.setup_future_usage == "off_session"
    saved = client.v1.customers.payment_methods.list(customer.id)
    assert [(method.id, method.card.brand if method.card else None) for method in saved.data] == [
        (intent.payment_method, "mastercard")
    ]
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None


def test_a_card_paid_once_without_saving_is_not_attached(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    fake.complete_checkout(pack_session(client, customer).id)

    assert client.v1.customers.payment_methods.list(customer.id).data == []


def test_setup_session_saves_the_card_with_a_succeeded_setup_intent(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = setup_session(client, customer)
    assert (session.amount_total, session.payment_status) == (None, "no_payment_required")

    fake.complete_checkout(session.id, card="4000000000000341")

    got = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["setup_intent.payment_method"]})
    assert (got.status, got.payment_status) == ("complete", "no_payment_required")
    setup = got.setup_intent
    assert isinstance(setup, stripe.SetupIntent)
    assert (setup.status, setup.usage, setup.customer, setup.metadata.to_dict()) == (
        "succeeded",
        "off_session",
        customer.id,
        {"apid_purpose": "trial"},
    )
    method = setup.payment_method
    assert isinstance(method, stripe.PaymentMethod)
    assert method.customer == customer.id
    assert method.card is not None and method.card.last4 == "0341"
    assert client.v1.setup_intents.retrieve(setup.id).payment_method == method.id


def test_subscription_session_starts_the_subscription_on_the_saved_card(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    price = recurring_price(client, unit_amount=1900)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "success_url": SUCCESS_URL,
            "line_items": [{"price": price.id, "quantity": 1}],
            "subscription_data": {"metadata": {"plan": "pro"}},
        }
    )
    assert session.amount_total == 1900

    fake.complete_checkout(session.id)

    got = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    subscription = got.subscription
    assert isinstance(subscription, stripe.Subscription)
    assert (subscription.status, subscription.customer, subscription.metadata.to_dict()) == (
        "active",
        customer.id,
        {"plan": "pro"},
    )
    assert [item.price.id for item in subscription["items"].data] == [price.id]
    assert subscription.default_payment_method == client.v1.customers.payment_methods.list(customer.id).data[0].id


def test_trial_session_saves_the_card_charges_nothing_and_starts_a_trialing_subscription(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    price = recurring_price(client, unit_amount=1900)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": customer.id,
            "success_url": SUCCESS_URL,
            "line_items": [{"price": price.id}],
            "subscription_data": {"trial_period_days": 14, "metadata": {"apid_purpose": "trial"}},
        }
    )
    assert session.amount_total == 0
    assert '<button id="submit" type="submit">Start trial</button>' in page(fake, session).text

    done = fake.complete_checkout(session.id)

    assert done["payment_status"] == "no_payment_required"
    subscription = client.v1.subscriptions.retrieve(done["subscription"])
    assert subscription.status == "trialing"
    assert subscription.trial_end is not None and subscription.trial_start is not None
    assert subscription.trial_end - subscription.trial_start == 14 * 86_400
    assert fake.charges() == []


def test_completion_is_delivered_as_a_signed_checkout_session_completed_event(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    session = pack_session(client, customer)

    fake.complete_checkout(session.id)

    events = receiver.events(secret)
    assert [event.type for event in events] == ["payment_intent.succeeded", "checkout.session.completed"]
    completed = events[1].data.object
    assert (completed["id"], completed["status"], completed["metadata"].to_dict()) == (
        session.id,
        "complete",
        {"apid_purpose": "credits"},
    )
    assert completed["payment_intent"] == events[0].data.object["id"]


def test_declined_card_leaves_the_session_open_and_a_second_card_pays_the_same_intent(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    session = pack_session(client, customer)

    with pytest.raises(StripeError, match="Your card was declined.") as raised:
        fake.complete_checkout(session.id, card="4000000000000002")

    assert raised.value.body["error"]["decline_code"] == "generic_decline"
    declined = client.v1.checkout.sessions.retrieve(session.id)
    assert (declined.status, declined.payment_status) == ("open", "unpaid")
    fake.complete_checkout(session.id)
    paid = client.v1.payment_intents.retrieve(str(declined.payment_intent))
    assert paid.status == "succeeded"
    assert [event.type for event in receiver.events(secret)] == [
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]


def test_a_completed_session_cannot_be_completed_again(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = pack_session(client, customer)
    fake.complete_checkout(session.id)

    with pytest.raises(StripeError, match="no longer active"):
        fake.complete_checkout(session.id)

    assert len(fake.charges()) == 1


def test_expired_session_takes_no_card_and_says_so(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    session = pack_session(client, customer)

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert page(fake, session).status_code == 410
    with pytest.raises(stripe.InvalidRequestError, match='status of "expired"'):
        client.v1.checkout.sessions.expire(session.id)
    fake.settle()
    assert [event.type for event in receiver.events(secret)] == ["checkout.session.expired"]


def test_session_past_its_expiry_expires_when_next_looked_at(
    fake: StripeFake,
    client: stripe.StripeClient,
    customer: stripe.Customer,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    session = pack_session(client, customer, expires_at=int(time.time()) + 1800)
    later = session.expires_at + 1
    monkeypatch.setattr(checkout, "time", SimpleNamespace(time=lambda: later))

    answer = page(fake, session, card="4242424242424242")

    assert answer.status_code == 410
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert [event.type for event in receiver.events(secret)] == ["checkout.session.expired"]
    assert fake.charges() == []


def test_hosted_page_is_a_form_a_browser_test_can_fill(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    answer = page(fake, pack_session(client, customer))

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<label for="cardNumber">Card number</label>' in answer.text
    assert 'id="cardNumber"' in answer.text
    assert "Total due today: $16.00" in answer.text
    assert re.search(r'<button id="submit" type="submit">Pay</button>', answer.text)
    assert f'href="{CANCEL_URL}"' in answer.text


def test_hosted_page_labels_its_button_by_mode(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    answer = page(fake, setup_session(client, customer))

    assert '<button id="submit" type="submit">Save card</button>' in answer.text


def test_paying_on_the_page_redirects_to_the_success_url_with_the_session_id(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = pack_session(client, customer)

    answer = page(fake, session, card="4242 4242 4242 4242")

    assert answer.status_code == 303
    assert answer.headers["Location"] == f"http://127.0.0.1:9/credits/bought?session={session.id}"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("4000000000000002", "Your card was declined."),
        ("4000000000009995", "Your card has insufficient funds."),
        ("4242424242424241", "Your card number is incorrect."),
    ],
)
def test_refused_card_shows_stripes_message_on_the_page_and_the_session_stays_open(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer, card: str, message: str
) -> None:
    session = pack_session(client, customer)

    answer = page(fake, session, card=card)

    assert answer.status_code == 200
    assert f'<p id="card-errors" role="alert">{html.escape(message)}</p>' in answer.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_expiry_date_typed_on_the_page_is_the_cards(
    fake: StripeFake, client: stripe.StripeClient, customer: stripe.Customer
) -> None:
    session = setup_session(client, customer)
    assert session.url is not None

    past = requests.post(session.url, data={"cardNumber": "4242424242424242", "cardExpiry": "01 / 20"}, timeout=10)
    paid = requests.post(
        session.url, data={"cardNumber": "4242424242424242", "cardExpiry": "07 / 41"}, timeout=10, allow_redirects=False
    )

    assert "Your card&#x27;s expiration date is in the past." in past.text
    assert paid.status_code == 303
    method = client.v1.customers.payment_methods.list(customer.id).data[0]
    assert method.card is not None and (method.card.exp_month, method.card.exp_year) == (7, 2041)


def test_unknown_session_page_is_404(fake: StripeFake) -> None:
    assert requests.get(f"{fake.base_url}/c/pay/cs_test_nope", timeout=10).status_code == 404


def test_session_without_a_customer_gets_one_when_it_completes(fake: StripeFake, client: stripe.StripeClient) -> None:
    price = one_time_price(client, 800)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer_email": "new@example.com",
            "success_url": SUCCESS_URL,
            "line_items": [{"price": price.id}],
        }
    )

    done = fake.complete_checkout(session.id)

    made = client.v1.customers.retrieve(done["customer"])
    assert made.email == "new@example.com"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "payment", "line_items": "recurring"}, "passed a recurring price"),
        ({"mode": "setup", "setup_intent_data": {"metadata": {}}}, "Missing required param: currency."),
        (
            {"mode": "setup", "currency": "usd", "payment_intent_data": {"description": "x"}},
            "only specify `payment_intent_data`",
        ),
        ({"mode": "subscription", "line_items": "one_time"}, "recurring prices only"),
        (
            {"mode": "subscription", "line_items": "recurring", "subscription_data": {"trial_period_days": 0}},
            "between 1 and 730 days",
        ),
        ({"mode": "payment", "line_items": "one_time", "shipping": "x"}, "Received unknown parameter: shipping"),
        ({"mode": "payment", "line_items": "one_time", "expires_at": 1}, "between 30 minutes and 24 hours"),
    ],
)
def test_sessions_stripe_would_refuse_are_refused(
    client: stripe.StripeClient, customer: stripe.Customer, params: dict[str, object], message: str
) -> None:
    prices = {"one_time": one_time_price(client, 800).id, "recurring": recurring_price(client, unit_amount=900).id}
    if "line_items" in params:
        params["line_items"] = [{"price": prices[str(params["line_items"])]}]

    with pytest.raises(stripe.InvalidRequestError, match=re.escape(message)):
        client.v1.checkout.sessions.create(
            {"customer": customer.id, "success_url": SUCCESS_URL, **params}  # type: ignore[typeddict-item]
        )
