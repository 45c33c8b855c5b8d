"""Notices of a price change and of a retiring API: emailed through moto's SES and posted, signed, to the
subscriber's alert webhook, as usage alerts are."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from moto.ses.models import ses_backends

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.billing.alert_delivery import AlertDelivery
from api_direct.control_plane.billing.handlers import process_alerts
from api_direct.webhook_signature import SIGNATURE_HEADER, verify
from tests.control_plane.billing.usage import sqs_event
from tests.control_plane.lifecycle.plans import plans, subscribe
from tests.control_plane.lifecycle.sweeps import Outbox, sweep
from tests.control_plane.marketplace import Headers, published
from tests.control_plane.resources import REGION, user_with_email
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.webhook_receiver import webhook_receiver

SENDER = "alerts@marketplace.example"
EMAIL = "carol@example.com"


def test_subscribers_are_told_of_a_price_change_and_a_retirement_by_email_and_webhook(
    aws: Callable[[str], Any], settings: ControlPlaneSettings, alice: Headers, mint: Mint
) -> None:
    pool, sub = user_with_email(aws("cognito-idp"), EMAIL)
    aws("ses").verify_email_identity(EmailAddress=SENDER)
    api = TestClient(create_app(settings.model_copy(update={"webhooks_allow_loopback": True})))
    carol = bearer(mint(sub, "consumers"))
    published(api, alice)
    assert subscribe(api, carol, "pro").status_code == 201
    outbox = Outbox()
    delivery = AlertDelivery(
        api.app.state.services.store,  # type: ignore[attr-defined]
        ses=aws("sesv2"),
        sender=SENDER,
        cognito=aws("cognito-idp"),
        user_pool_id=pool,
        sqs=outbox,
        queue_url="alerts",
        allow_loopback=True,
    )
    with webhook_receiver() as receiver:
        hook = api.put("/subscriptions/weather-api/alerts", json={"webhook_url": receiver.url}, headers=carol)
        secret = hook.json()["webhook_secret"]
        published(api, alice, plans=plans(pro={"price_per_1000": "0.02"})[:2])
        until = date.today() + timedelta(days=9)
        assert api.post("/listings/weather-api/unpublish", json={"until": str(until)}, headers=alice).status_code == 200
        summary = sweep(api.app, outbox, datetime.now(UTC))  # type: ignore[arg-type]
        assert (summary.repriced, summary.notices) == (1, 1)
        bodies = [json.dumps(message) for message in outbox.sent]
        assert process_alerts(sqs_event(*bodies), delivery) == {"batchItemFailures": []}
        calls = receiver.received
    events = [json.loads(call.body) for call in calls]
    assert sorted(event["type"] for event in events) == ["listing.retiring", "plan.price_changing"]
    assert all(verify(call.body, call.headers[SIGNATURE_HEADER.lower()], secret) > 0 for call in calls)
    changing = next(event for event in events if event["type"] == "plan.price_changing")
    assert (changing["old"]["price_per_1000"], changing["new"]["price_per_1000"]) == ("0.0125", "0.02")
    assert changing["effective_at"] >= (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    account = aws("sts").get_caller_identity()["Account"]
    subjects = sorted(message.subject for message in ses_backends[account][REGION].sent_messages)
    assert subjects[0] == f"weather-api is retiring on {until}"
    assert subjects[1].startswith("weather-api: the price of your pro plan changes on ")
