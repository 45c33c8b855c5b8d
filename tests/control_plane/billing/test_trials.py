"""Free trials: a card saved through Stripe Checkout first, nothing charged until the trial ends, one trial per
consumer and API, usage in the trial never reported, the consumer told three days before the end.

The control plane runs on moto with Stripe as the local fake; the consumer's part on Stripe's Checkout page is
the fake's ``complete_checkout``, and time is the fake's clock.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto.ses.models import ses_backends

from api_direct.contracts import ALERT_QUEUE_URL_ENV
from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store, consumer_pk
from api_direct.control_plane.billing.alert_delivery import AlertDelivery
from api_direct.control_plane.billing.alerting import Alerter
from api_direct.control_plane.billing.handlers import UsageBatch, check_alerts, process_usage
from api_direct.control_plane.billing.periods import hour_text
from api_direct.control_plane.billing.reporting import close_and_report
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.control_plane.web.rendering import when
from api_direct.local.card_checkout import subscribe_with_card
from api_direct.local.stripe_server import StripeError, StripeFake, sign_webhook
from tests.control_plane.billing.cli_harness import SignIn, apid, ok
from tests.control_plane.billing.stripe_settings import WEBHOOK_SECRET
from tests.control_plane.billing.usage import sqs_event, usage_event
from tests.control_plane.mcp_agent import marketplace_agent, outcome
from tests.control_plane.marketplace import (
    ALICE,
    CAROL,
    DAVE,
    EventLog,
    Headers,
    creator_key_bus,
    link_account,
    listing_body,
    published,
)
from tests.control_plane.resources import REGION, user_with_email
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.typed_client import InProcessControlPlane
from tests.control_plane.web.pages import ORIGIN, as_user, text
from tests.control_plane.webhook_receiver import webhook_receiver
from tests.errors import one_line_problem

API = "weather-api"
DAY = 86_400
HOUR = timedelta(hours=1)
TRIAL_DAYS = 14
#: What the Stripe fake charges pro's month once the trial is over: its 9.90 fee (no calls).
PRO_FEE_CENTS = 990
TEAM_FEE_CENTS = 4900
SENDER = "alerts@marketplace.example"
EMAIL = "carol@example.com"


# --- set-up ---------------------------------------------------------------------------------------


@pytest.fixture
def listed(billed_api: TestClient, mint: Mint, billing: SubscriptionBilling) -> EventLog:
    """weather-api by Alice: free, pro with a 14-day trial, and team (paid, no trial)."""
    free, pro = listing_body()["plans"]
    team = {**pro, "name": "team", "monthly_fee": "49.00"}
    link_account(ALICE)
    published(billed_api, bearer(mint(ALICE, "creators")), plans=[free, {**pro, "trial_days": TRIAL_DAYS}, team])
    return creator_key_bus()


@pytest.fixture
def dave(mint: Mint) -> Headers:
    return bearer(mint(DAVE, "consumers"))


@pytest.fixture
def alert_queue(aws: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The alert queue, named to the app as the stack names it to its function."""
    url = str(aws("sqs").create_queue(QueueName="alerts")["QueueUrl"])
    monkeypatch.setenv(ALERT_QUEUE_URL_ENV, url)
    return url


@pytest.fixture
def pool(aws: Callable[[str], Any]) -> tuple[str, str]:
    """A user pool holding a consumer with an email address: its id and their ``sub``."""
    return user_with_email(aws("cognito-idp"), EMAIL)


def delivery(store: Store, aws: Callable[[str], Any], pool_id: str) -> AlertDelivery:
    aws("ses").verify_email_identity(EmailAddress=SENDER)
    return AlertDelivery(
        store,
        ses=aws("sesv2"),
        sender=SENDER,
        cognito=aws("cognito-idp"),
        user_pool_id=pool_id,
        sqs=aws("sqs"),
        queue_url="unused",
        allow_loopback=True,
    )


def sent_emails(aws: Callable[[str], Any]) -> list[Any]:
    account = aws("sts").get_caller_identity()["Account"]
    return list(ses_backends[account][REGION].sent_messages)


def checkout(api: TestClient, who: Headers, plan: str = "pro") -> Any:
    return api.post("/subscriptions/checkout", json={"api_id": API, "plan": plan}, headers=who)


def card_saved(api: TestClient, fake: StripeFake, who: Headers, plan: str = "pro") -> str:
    """The consumer's part: a Checkout Session made through the API and completed on Stripe's page."""
    started = checkout(api, who, plan)
    assert started.status_code == 200, started.text
    fake.complete_checkout(started.json()["session_id"])
    return str(started.json()["session_id"])


def subscribe(api: TestClient, who: Headers, session: str | None, plan: str = "pro") -> Any:
    body = {"api_id": API, "plan": plan, **({"checkout_session": session} if session else {})}
    return api.post("/subscriptions", json=body, headers=who)


def on_trial(api: TestClient, fake: StripeFake, who: Headers) -> dict[str, Any]:
    response = subscribe(api, who, card_saved(api, fake, who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def newest_subscription(fake: StripeFake) -> dict[str, Any]:
    """The Stripe subscription made last (one cancelled in its trial lives on until the trial's end)."""
    return fake._all("subscription")[-1]


def post_event(api: TestClient, event: dict[str, Any]) -> Any:
    """Deliver one of the fake's events to the control plane's webhook, signed with its endpoint's secret."""
    payload = json.dumps(event).encode()
    return api.post(
        "/stripe/webhook", content=payload, headers={"Stripe-Signature": sign_webhook(payload, WEBHOOK_SECRET)}
    )


# --- the trial ------------------------------------------------------------------------------------


def test_a_trial_plan_without_a_card_is_a_402_that_says_how_to_add_one(
    billed_api: TestClient, carol: Headers, store: Store, listed: EventLog
) -> None:
    response = subscribe(billed_api, carol, None)
    detail = one_line_problem(response, 402)
    assert "14-day free trial" in detail and "needs a card up front" in detail
    assert "POST /subscriptions/checkout" in detail and response.json()["checkout"] == "/subscriptions/checkout"
    assert store.get(consumer_pk(CAROL), f"SUB#{API}") is None and listed.details() == []


def test_the_trial_uses_the_saved_card_and_charges_nothing_until_its_end(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, store: Store, listed: EventLog
) -> None:
    started = checkout(billed_api, carol).json()
    [session] = stripe_fake.checkout_sessions()
    assert started["url"] == session["url"] and session["mode"] == "setup"
    assert session["metadata"] == {"apid_purpose": "trial", "apid_consumer": CAROL, "apid_api": API, "apid_plan": "pro"}
    assert session["success_url"].endswith(f"/web/apis/{API}/subscribed?plan=pro&session_id={{CHECKOUT_SESSION_ID}}")
    stripe_fake.complete_checkout(started["session_id"])

    issued = subscribe(billed_api, carol, started["session_id"])

    assert issued.status_code == 201 and issued.json()["api_key"]
    subscription = newest_subscription(stripe_fake)
    card = subscription["default_payment_method"]
    assert subscription["status"] == "trialing" and card is not None
    [customer] = stripe_fake.customers()
    assert customer["invoice_settings"]["default_payment_method"] == card
    trial_end = subscription["trial_end"]
    assert trial_end - subscription["trial_start"] == TRIAL_DAYS * DAY
    [listed_sub] = billed_api.get("/subscriptions", headers=carol).json()
    assert datetime.fromisoformat(listed_sub["trial_end"]) == datetime.fromtimestamp(trial_end, UTC)
    assert store.get(consumer_pk(CAROL), f"TRIAL#{API}") is not None
    assert [kind for kind, _ in listed.details()] == ["KeyIssued"]

    assert stripe_fake.close_billing_period(at=trial_end - DAY) == []  # nothing to bill in the trial
    (first,) = stripe_fake.close_billing_period(at=trial_end + 30 * DAY)
    assert (first["period_start"], first["total"], first["status"]) == (trial_end, PRO_FEE_CENTS, "paid")
    assert [invoice["total"] for invoice in stripe_fake.invoices()] == [0, PRO_FEE_CENTS]


def test_cancelling_during_the_trial_charges_nothing(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    on_trial(billed_api, stripe_fake, carol)
    trial_end = newest_subscription(stripe_fake)["trial_end"]

    assert billed_api.delete(f"/subscriptions/{API}", headers=carol).status_code == 204

    assert stripe_fake.close_billing_period(at=trial_end + 30 * DAY) == []
    [ended] = stripe_fake._all("subscription")
    assert (ended["status"], ended["ended_at"]) == ("canceled", trial_end)
    assert [invoice["total"] for invoice in stripe_fake.invoices()] == [0]


def test_one_trial_per_consumer_and_api_a_second_subscription_starts_paid(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    on_trial(billed_api, stripe_fake, carol)
    billed_api.delete(f"/subscriptions/{API}", headers=carol)
    assert "free trial, card required" in billed_api.get(f"/web/apis/{API}").text

    again = subscribe(billed_api, carol, None)
    assert "needs a card up front" in one_line_problem(again, 402)  # still with a card
    on_trial(billed_api, stripe_fake, carol)

    second = newest_subscription(stripe_fake)
    assert (second["status"], second["trial_end"]) == ("active", None)
    [listed_sub] = [s for s in billed_api.get("/subscriptions", headers=carol).json() if s["status"] == "active"]
    assert listed_sub["trial_end"] is None
    (invoice,) = stripe_fake.close_billing_period(at=second["start_date"] + DAY)
    assert invoice["total"] == PRO_FEE_CENTS


def test_the_api_page_says_whether_a_trial_is_left(
    billed_api: TestClient, carol: Headers, mint: Mint, stripe_fake: StripeFake, listed: EventLog
) -> None:
    signed_in = as_user(billed_api, mint(CAROL, "consumers"))
    page = text(signed_in.get(f"/web/apis/{API}").text)
    assert "14-day free trial, card required" in page and "Add a card and start the trial" in page
    on_trial(billed_api, stripe_fake, carol)
    billed_api.delete(f"/subscriptions/{API}", headers=carol)
    page = text(signed_in.get(f"/web/apis/{API}").text)
    assert "14-day free trial already used: paid from the start, card required" in page
    assert "Add a card and subscribe" in page


def test_the_pages_subscribe_through_checkout_and_show_the_key_once(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, store: Store, listed: EventLog
) -> None:
    signed_in = as_user(billed_api, mint(CAROL, "consumers"))
    to_stripe = signed_in.post(
        f"/web/apis/{API}/checkout", data={"plan": "pro"}, headers=ORIGIN, follow_redirects=False
    )
    assert to_stripe.status_code == 303
    [session] = stripe_fake.checkout_sessions()
    assert to_stripe.headers["location"] == session["url"]
    stripe_fake.complete_checkout(session["id"])
    back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]).removeprefix("http://testserver")

    shown = signed_in.get(back)

    assert shown.status_code == 201 and shown.headers["cache-control"] == "no-store"
    [key] = store.query(consumer_pk(CAROL), "KEY#", index="gsi2")
    assert key["key_id"] in shown.text and newest_subscription(stripe_fake)["status"] == "trialing"
    again = signed_in.get(back)
    assert again.status_code == 409 and "its key was shown when you subscribed" in again.text
    trial_end = datetime.fromtimestamp(newest_subscription(stripe_fake)["trial_end"], UTC)
    assert f"trial ends {when(trial_end)}" in text(signed_in.get("/web/dashboard").text)


# --- refused ----------------------------------------------------------------------------------------


def test_another_consumers_session_is_refused(
    billed_api: TestClient, carol: Headers, dave: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    daves = card_saved(billed_api, stripe_fake, dave)
    assert "is not yours" in one_line_problem(subscribe(billed_api, carol, daves), 403)
    assert stripe_fake._all("subscription") == []


@pytest.mark.parametrize(
    ("session", "status", "says"),
    [
        ("cs_test_missing", 422, "no Checkout Session cs_test_missing"),
        ("pi_123", 422, "a Checkout Session id"),
    ],
)
def test_a_session_that_is_not_one_is_refused(
    billed_api: TestClient, carol: Headers, listed: EventLog, session: str, status: int, says: str
) -> None:
    assert says in one_line_problem(subscribe(billed_api, carol, session), status)


def test_an_open_session_or_one_for_another_plan_is_refused(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    started = checkout(billed_api, carol).json()
    detail = one_line_problem(subscribe(billed_api, carol, started["session_id"]), 402)
    assert f"complete the checkout at {started['url']}" in detail
    stripe_fake.complete_checkout(started["session_id"])
    other = subscribe(billed_api, carol, started["session_id"], plan="team")
    assert "was made for plan pro of weather-api, not team" in one_line_problem(other, 422)
    assert stripe_fake._all("subscription") == []


def test_checkout_is_only_for_a_trial_plan_not_subscribed_yet(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    assert "has no free trial" in one_line_problem(checkout(billed_api, carol, "team"), 422)
    assert one_line_problem(checkout(billed_api, carol, "gold"), 422)
    on_trial(billed_api, stripe_fake, carol)
    assert "you already subscribe" in one_line_problem(checkout(billed_api, carol), 409)


# --- usage and the end ------------------------------------------------------------------------------


def test_usage_in_the_trial_is_never_reported_and_after_it_is(
    billed_api: TestClient,
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    billing: SubscriptionBilling,
    listed: EventLog,
) -> None:
    key = on_trial(billed_api, stripe_fake, carol)
    trial_end = datetime.fromtimestamp(newest_subscription(stripe_fake)["trial_end"], UTC)
    ending_hour = trial_end.replace(minute=0, second=0, microsecond=0)
    hours = (ending_hour - timedelta(days=2), ending_hour, ending_hour + HOUR)
    for number, hour in enumerate(hours):
        batch = UsageBatch(store, None, None, hour + HOUR)
        event = usage_event(key["key_id"], calls=40, hour=hour_text(hour), record=f"r{number}")
        assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}

    summary = close_and_report(store, billing, hours[-1] + 2 * HOUR, timedelta(minutes=0))

    assert (summary.closed, summary.meter_events, summary.billed_calls, summary.unbilled) == (3, 1, 40, 2)
    [event] = stripe_fake.meter_events()
    assert event["timestamp"] == int((hours[-1] + HOUR).timestamp()) - 1


def test_three_days_before_the_end_the_consumer_is_emailed_and_their_webhook_called(
    billing_settings: ControlPlaneSettings,
    mint: Mint,
    stripe_fake: StripeFake,
    listed: EventLog,
    alert_queue: str,
    pool: tuple[str, str],
    store: Store,
    aws: Callable[[str], Any],
) -> None:
    billed_api = TestClient(create_app(billing_settings.model_copy(update={"webhooks_allow_loopback": True})))
    pool_id, sub = pool
    consumer = bearer(mint(sub, "consumers"))
    on_trial(billed_api, stripe_fake, consumer)
    with webhook_receiver() as receiver:
        hook = billed_api.put(f"/subscriptions/{API}/alerts", json={"webhook_url": receiver.url}, headers=consumer)
        assert hook.status_code == 200, hook.text
        trial_end = newest_subscription(stripe_fake)["trial_end"]
        stripe_fake.advance_clock(trial_end - 3 * DAY)
        [warning] = [e for e in stripe_fake.events() if e["type"] == "customer.subscription.trial_will_end"]

        assert post_event(billed_api, warning).json()["outcome"] == "handled"
        assert post_event(billed_api, warning).json()["outcome"] == "duplicate"
        [message] = aws("sqs").receive_message(QueueUrl=alert_queue, MaxNumberOfMessages=10)["Messages"]
        delivery(store, aws, pool_id).handle(json.loads(message["Body"]))

        [call] = receiver.received
    ends = datetime.fromtimestamp(trial_end, UTC)
    event = json.loads(call.body)
    assert (event["type"], event["api_id"], event["plan"]) == ("trial.ending", API, "pro")
    assert (event["trial_end"], event["monthly_fee"], event["currency"]) == (ends.isoformat(), "9.90", "usd")
    assert event["cancel"] == f"DELETE /subscriptions/{API}" and sub not in call.body.decode()
    [email] = sent_emails(aws)
    assert email.destinations["ToAddresses"] == [EMAIL]
    assert email.subject == f"{API}: your free trial of the pro plan ends on {ends:%Y-%m-%d}"
    assert f"ends at {ends:%Y-%m-%d %H:%M} UTC" in email.body
    assert "9.90 USD a month plus 0.0125 USD per 1,000 units" in email.body
    assert f"DELETE /subscriptions/{API}" in email.body and event["id"] in email.body


def test_a_trial_ending_after_a_cancel_tells_nobody(
    billed_api: TestClient,
    carol: Headers,
    stripe_fake: StripeFake,
    listed: EventLog,
    alert_queue: str,
    aws: Callable[[str], Any],
) -> None:
    on_trial(billed_api, stripe_fake, carol)
    billed_api.delete(f"/subscriptions/{API}", headers=carol)
    stripe_fake.advance_clock(newest_subscription(stripe_fake)["trial_end"] - 3 * DAY)
    [warning] = [e for e in stripe_fake.events() if e["type"] == "customer.subscription.trial_will_end"]
    assert post_event(billed_api, warning).json()["outcome"] == "no change"
    assert "Messages" not in aws("sqs").receive_message(QueueUrl=alert_queue)


# --- agents ---------------------------------------------------------------------------------------------


def test_an_agent_never_starts_a_trial_its_person_adds_the_card_on_stripes_page(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, listed: EventLog
) -> None:
    person = as_user(billed_api, mint(CAROL, "consumers"))
    with marketplace_agent(billed_api.app) as agent:
        plans = {plan["name"]: plan for plan in outcome(agent.call("get_api", {"api": API}))["plans"]}
        asked = outcome(agent.call("subscribe", {"api": API, "plan": "pro"}))
        confirm = asked["confirm_url"].removeprefix("http://testserver")
        assert "14-day free trial needs a card" in asked["next"]
        assert "needs a card up front" in text(person.get(confirm).text)

        to_stripe = person.post(f"{confirm}/confirm", headers=ORIGIN, follow_redirects=False)
        assert to_stripe.status_code == 303 and stripe_fake._all("subscription") == []
        assert outcome(agent.call("fetch_key", {k: asked[k] for k in ("request_id", "claim_token")}))["status"] == (
            "pending"
        )
        [session] = stripe_fake.checkout_sessions()
        assert to_stripe.headers["location"] == session["url"]
        stripe_fake.complete_checkout(session["id"])
        back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        assert person.get(back.removeprefix("http://testserver")).status_code == 201

        fetched = outcome(agent.call("fetch_key", {k: asked[k] for k in ("request_id", "claim_token")}))
    assert plans["pro"]["free_trial_days"] == TRIAL_DAYS and plans["free"]["free_trial_days"] is None
    assert fetched["status"] == "issued" and newest_subscription(stripe_fake)["status"] == "trialing"


# --- without a browser ------------------------------------------------------------------------------------


def test_the_sandbox_subscribes_to_a_trial_through_the_client_and_the_fakes_checkout(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, listed: EventLog
) -> None:
    consumer = InProcessControlPlane(billed_api, mint(CAROL, "consumers"))
    with pytest.raises(StripeError, match="Your card was declined"):
        subscribe_with_card(consumer, stripe_fake, API, "pro", card="4000000000000002")
    assert stripe_fake._all("subscription") == []

    issued = subscribe_with_card(consumer, stripe_fake, API, "pro")

    [subscription] = consumer.subscriptions()
    assert subscription["key_id"] == issued["key_id"] and issued["api_key"].startswith("apid_")
    assert subscription.get("trial_end") is not None and newest_subscription(stripe_fake)["status"] == "trialing"


def test_moving_to_a_plan_without_a_trial_ends_the_trial_now(
    billed_api: TestClient, carol: Headers, stripe_fake: StripeFake, listed: EventLog
) -> None:
    on_trial(billed_api, stripe_fake, carol)

    moved = billed_api.put(f"/subscriptions/{API}/plan", json={"plan": "team"}, headers=carol)

    assert moved.status_code == 200, moved.text
    subscription = newest_subscription(stripe_fake)
    assert subscription["status"] == "active"
    ended = datetime.fromtimestamp(subscription["trial_end"], UTC)
    assert abs(datetime.fromisoformat(moved.json()["trial_end"]) - ended) < timedelta(seconds=5)
    (invoice,) = stripe_fake.close_billing_period(at=subscription["trial_end"] + DAY)
    assert (invoice["period_start"], invoice["total"]) == (subscription["trial_end"], TEAM_FEE_CENTS)


def test_a_trial_spends_nothing_so_a_spend_cap_neither_alerts_nor_stops_the_key(
    billed_api: TestClient,
    carol: Headers,
    stripe_fake: StripeFake,
    store: Store,
    listed: EventLog,
    alert_queue: str,
    aws: Callable[[str], Any],
) -> None:
    key = on_trial(billed_api, stripe_fake, carol)
    capped = billed_api.put(
        f"/subscriptions/{API}/alerts", json={"spend_cap": "5.00", "cap_mode": "hard"}, headers=carol
    )
    assert capped.status_code == 200, capped.text
    alerter = Alerter(store, aws("sqs"), alert_queue, "usd")
    now = datetime.now(UTC)
    batch = UsageBatch(store, None, None, now)
    event = usage_event(key["key_id"], calls=1000, hour=hour_text(now.replace(minute=0, second=0, microsecond=0)))
    assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}

    assert check_alerts(batch, alerter) == 0  # pro's 9.90 fee alone is past the 5.00 cap once the trial is over
    assert "Messages" not in aws("sqs").receive_message(QueueUrl=alert_queue)


def test_the_cli_prints_the_checkout_page_then_subscribes_with_the_saved_card(
    control_plane: str, billed_app: FastAPI, mint: Mint, sign_in_as: SignIn, stripe_fake: StripeFake
) -> None:
    free, pro = listing_body()["plans"]
    link_account(ALICE)
    published(TestClient(billed_app), bearer(mint(ALICE, "creators")), plans=[free, {**pro, "trial_days": 7}])
    creator_key_bus()
    sign_in_as(control_plane, CAROL, "consumers")

    first = json.loads(ok(apid("keys", "create", "--api", API, "--plan", "pro", "--json")))
    assert first["status"] == "card required" and stripe_fake._all("subscription") == []
    told = ok(apid("keys", "create", "--api", API, "--plan", "pro"))
    [command] = [line for line in told.splitlines() if line.startswith("then run: ")]
    stripe_fake.complete_checkout(command.rsplit(" ", 1)[1])

    created = ok(apid(*command.removeprefix("then run: apid ").split()))
    assert "Your API key, shown only this once" in created
    assert newest_subscription(stripe_fake)["status"] == "trialing"


def test_only_a_signed_in_consumer_may_start_a_checkout(
    billed_api: TestClient, mint: Mint, stripe_fake: StripeFake, listed: EventLog
) -> None:
    creator = bearer(mint(ALICE, "creators"))
    assert "only consumers" in one_line_problem(checkout(billed_api, creator), 403)
    assert "sign in first" in one_line_problem(checkout(billed_api, {}), 401)
    assert stripe_fake.checkout_sessions() == []
