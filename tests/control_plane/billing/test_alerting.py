"""Usage alerts end to end in one process: usage through the aggregator's batch, alerts fired once, then
emailed through moto's SES and posted, signed, to a webhook on loopback (retried with backoff, then given up)."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.ses.models import ses_backends

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.alert_delivery import MAX_ATTEMPTS, AlertDelivery
from api_direct.control_plane.billing.alerting import Alerter
from api_direct.runtime.limit_headers import next_month_start
from api_direct.control_plane.billing.handlers import UsageBatch, check_alerts, process_alerts, process_usage
from api_direct.control_plane.billing.periods import hour_text
from api_direct.webhook_signature import SIGNATURE_HEADER, verify
from tests.control_plane.billing.usage import API, sqs_event, usage_event
from tests.control_plane.marketplace import ALICE, EventLog, control_plane_events, creator_key_bus, link_account
from tests.control_plane.marketplace import published
from tests.control_plane.resources import REGION, user_with_email
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.typed_client import InProcessControlPlane
from tests.control_plane.webhook_receiver import Receiver, webhook_receiver

SENDER = "alerts@marketplace.example"
EMAIL = "carol@example.com"
NOW = datetime.now(UTC)


@dataclass
class Consumer:
    sub: str
    key_id: str
    headers: dict[str, str]
    api: TestClient

    def alerts(self, **body: Any) -> dict[str, Any]:
        response = self.api.put(f"/subscriptions/{API}/alerts", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def shown(self) -> dict[str, Any]:
        return self.api.get(f"/subscriptions/{API}/alerts", headers=self.headers).json()  # type: ignore[no-any-return]


class Queue:
    """The alert queue as the aggregator and the deliverer see it: what was sent, with its delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> None:  # noqa: N803
        self.sent.append((json.loads(MessageBody), DelaySeconds))

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.sent = self.sent, []
        return taken


@pytest.fixture
def pool(aws: Callable[[str], Any]) -> tuple[str, str]:
    """A user pool holding Carol with her email: its id and her ``sub``."""
    return user_with_email(aws("cognito-idp"), EMAIL)


@pytest.fixture
def local_api(aws: Callable[[str], Any], settings: ControlPlaneSettings) -> TestClient:
    """The app as ``apid sandbox`` runs it: loopback webhooks allowed."""
    return TestClient(create_app(settings.model_copy(update={"webhooks_allow_loopback": True})))


def subscribed(api: TestClient, mint: Mint, sub: str, plan: str) -> Consumer:
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")))
    creator_key_bus()
    token = mint(sub, "consumers")
    return Consumer(sub, InProcessControlPlane(api, token).subscribe(API, plan)["key_id"], bearer(token), api)


@pytest.fixture
def store(aws: Callable[[str], Any]) -> Store:
    return Store(boto3.resource("dynamodb", region_name=REGION).Table("apid-control-plane"))


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def bus_events(aws: Callable[[str], Any]) -> EventLog:
    return control_plane_events()


@pytest.fixture
def alerter(store: Store, queue: Queue) -> Alerter:
    return Alerter(store, queue, "alerts", "usd")


@pytest.fixture
def delivery(store: Store, queue: Queue, aws: Callable[[str], Any], pool: tuple[str, str]) -> AlertDelivery:
    aws("ses").verify_email_identity(EmailAddress=SENDER)
    return AlertDelivery(
        store,
        ses=aws("sesv2"),
        sender=SENDER,
        cognito=aws("cognito-idp"),
        user_pool_id=pool[0],
        sqs=queue,
        queue_url="alerts",
        allow_loopback=True,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


def count(store: Store, alerter: Alerter, consumer: Consumer, calls: int, record: str, plan: str = "free") -> int:
    """``calls`` successful calls in this hour through the aggregator's batch; the alerts that fired."""
    batch = UsageBatch(store, None, None, NOW)
    event = usage_event(consumer.key_id, calls=calls, plan=plan, hour=hour_text(NOW), record=record)
    assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}
    return check_alerts(batch, alerter)


def deliver(queue: Queue, delivery: AlertDelivery) -> None:
    """What the deliverer's event source mapping hands it (delays are the queue's business, not waited for here)."""
    bodies = [json.dumps(message) for message, _ in queue.take()]
    assert process_alerts(sqs_event(*bodies), delivery) == {"batchItemFailures": []}


def sent_emails(aws: Callable[[str], Any]) -> list[Any]:
    account = aws("sts").get_caller_identity()["Account"]
    return list(ses_backends[account][REGION].sent_messages)


def test_crossing_80_percent_emails_and_posts_a_signed_webhook_once(
    local_api: TestClient,
    mint: Mint,
    pool: tuple[str, str],
    store: Store,
    alerter: Alerter,
    delivery: AlertDelivery,
    queue: Queue,
    receiver: Receiver,
    aws: Callable[[str], Any],
) -> None:
    carol = subscribed(local_api, mint, pool[1], "free")
    secret = carol.alerts(thresholds=[80], webhook_url=receiver.url)["webhook_secret"]

    assert count(store, alerter, carol, 799, "a") == 0
    assert count(store, alerter, carol, 1, "b") == 1
    assert count(store, alerter, carol, 1, "b") == 0  # the same record again: a duplicate, and fired already
    assert count(store, alerter, carol, 5, "c") == 0
    deliver(queue, delivery)

    [email] = sent_emails(aws)
    assert (email.source, email.destinations["ToAddresses"]) == (SENDER, [EMAIL])
    assert email.subject == f"{API}: 80% of your monthly quota used"
    assert "800 of the 1,000 calls your free plan includes" in email.body
    [call] = receiver.received
    assert verify(call.body, call.headers[SIGNATURE_HEADER.lower()], secret) > 0
    event = json.loads(call.body)
    assert {
        k: event[k] for k in ("type", "api_id", "plan", "threshold", "used", "units", "limit", "unit", "period")
    } == {
        "type": "quota.threshold_reached",
        "api_id": API,
        "plan": "free",
        "threshold": 80,
        "used": 800,
        "units": 800,
        "limit": 1000,
        "unit": "calls",
        "period": NOW.strftime("%Y-%m"),
    }
    assert event["id"].startswith("evt_")
    delivered = carol.shown()["last_delivery"]
    assert (delivered["event_id"], delivered["status"], delivered["attempts"]) == (event["id"], "delivered", 1)


def test_each_threshold_fires_once_as_the_month_grows(
    local_api: TestClient, mint: Mint, pool: tuple[str, str], store: Store, alerter: Alerter, queue: Queue
) -> None:
    carol = subscribed(local_api, mint, pool[1], "free")
    fired = [count(store, alerter, carol, calls, str(calls)) for calls in (500, 300, 150, 50, 100)]
    assert fired == [0, 1, 0, 1, 0]
    assert [message["alert"]["threshold"] for message, _ in queue.take()] == [80, 100]


def test_a_failing_webhook_is_retried_with_backoff_then_given_up(
    local_api: TestClient,
    mint: Mint,
    pool: tuple[str, str],
    store: Store,
    alerter: Alerter,
    delivery: AlertDelivery,
    queue: Queue,
    receiver: Receiver,
) -> None:
    receiver.statuses = [500]
    carol = subscribed(local_api, mint, pool[1], "free")
    carol.alerts(thresholds=[50], webhook_url=receiver.url)
    count(store, alerter, carol, 600, "a")
    delays = []
    while queue.sent:
        delays.extend(delay for _, delay in queue.sent[1:] or queue.sent)
        deliver(queue, delivery)
        if carol.shown()["last_delivery"]["status"] == "failed":
            break
    assert len(receiver.received) == MAX_ATTEMPTS
    assert delays[1:] == [30, 60, 120, 240, 480]
    assert len({call.body for call in receiver.received}) == 1  # the same event each time, with its id
    given_up = carol.shown()["last_delivery"]
    assert (given_up["status"], given_up["attempts"], given_up["http_status"]) == ("failed", MAX_ATTEMPTS, 500)
    assert queue.sent == []


def test_a_hard_cap_caps_the_keys_until_the_month_ends(
    local_api: TestClient,
    mint: Mint,
    pool: tuple[str, str],
    store: Store,
    alerter: Alerter,
    queue: Queue,
    bus_events: EventLog,
) -> None:
    carol = subscribed(local_api, mint, pool[1], "pro")  # 9.90 a month and 0.0125 per 1000 calls
    carol.alerts(thresholds=[90], spend_cap="10.00", cap_mode="hard")
    assert count(store, alerter, carol, 7000, "a", plan="pro") == 1  # 9.99: 90 % of the cap
    assert count(store, alerter, carol, 1000, "b", plan="pro") == 1  # 10.00: the cap
    capped = [event["detail"] for event in bus_events.read() if event["detail-type"] == "KeyCapped"]
    until = next_month_start(NOW).isoformat()
    assert [(d["key_id"], d["capped_until"], d["api"]) for d in capped] == [(carol.key_id, until, API)]
    assert set(capped[0]) == {"key_id", "key_hash", "capped_until", "api", "issued_at", "event_id"}
    assert [(m["alert"]["kind"], m["alert"]["used"], m["alert"]["limit"]) for m, _ in queue.take()] == [
        ("spend", 999, 1000),
        ("spend_cap", 1000, 1000),
    ]
    assert datetime.fromisoformat(carol.shown()["capped_until"]) == next_month_start(NOW)


def test_a_soft_cap_alerts_and_leaves_the_keys_alone(
    local_api: TestClient,
    mint: Mint,
    pool: tuple[str, str],
    store: Store,
    alerter: Alerter,
    queue: Queue,
    bus_events: EventLog,
) -> None:
    carol = subscribed(local_api, mint, pool[1], "pro")
    carol.alerts(thresholds=[100], spend_cap="9.00")
    assert count(store, alerter, carol, 10, "a", plan="pro") == 1
    assert [kind for kind, _ in bus_events.details() if kind in ("KeyCapped", "KeyUncapped")] == []
    [(message, _)] = queue.take()
    assert (message["alert"]["kind"], message["alert"]["cap_mode"]) == ("spend_cap", "soft")
    assert carol.shown()["capped_until"] is None


def test_a_plan_without_a_quota_or_cap_fires_nothing(
    local_api: TestClient, mint: Mint, pool: tuple[str, str], store: Store, alerter: Alerter, queue: Queue
) -> None:
    carol = subscribed(local_api, mint, pool[1], "pro")
    assert count(store, alerter, carol, 1_000_000, "a", plan="pro") == 0
    assert queue.sent == []


def test_without_a_sender_the_webhook_is_called_and_no_email_sent(
    local_api: TestClient,
    mint: Mint,
    pool: tuple[str, str],
    store: Store,
    alerter: Alerter,
    delivery: AlertDelivery,
    queue: Queue,
    receiver: Receiver,
    aws: Callable[[str], Any],
) -> None:
    carol = subscribed(local_api, mint, pool[1], "free")
    carol.alerts(webhook_url=receiver.url)
    count(store, alerter, carol, 1000, "a")
    delivery._sender = None
    deliver(queue, delivery)
    assert sent_emails(aws) == []
    assert sorted(json.loads(call.body)["threshold"] for call in receiver.received) == [80, 100]


def test_a_quota_in_units_caps_the_keys_once_with_reason_quota_on_a_weighted_api(
    local_api: TestClient, mint: Mint, pool: tuple[str, str], store: Store, alerter: Alerter, bus_events: EventLog
) -> None:
    carol = subscribed(local_api, mint, pool[1], "free")  # a quota of 1000 units a month
    published(local_api, bearer(mint(ALICE, "creators")), route_weights=[{"path": "/current/{city}", "weight": 5}])

    def weighted_calls(calls: int, record: str) -> None:
        units = {"2xx": 5 * calls, "3xx": 0, "4xx": 0, "5xx": 0}
        event = usage_event(carol.key_id, calls=calls, plan="free", hour=hour_text(NOW), record=record, units=units)
        batch = UsageBatch(store, None, None, NOW)
        assert process_usage(sqs_event(event), batch) == {"batchItemFailures": []}
        check_alerts(batch, alerter)

    weighted_calls(199, "a")  # 995 units: 199 requests, far below the gateway's 1000
    assert [kind for kind, _ in bus_events.details() if kind == "KeyCapped"] == []
    weighted_calls(1, "b")  # 1000 units
    weighted_calls(1, "c")  # past it: capped once
    capped = [detail for kind, detail in bus_events.details() if kind == "KeyCapped"]
    assert [(d["key_id"], d["reason"], d["capped_until"]) for d in capped] == [
        (carol.key_id, "quota", next_month_start(NOW).isoformat())
    ]


def test_without_route_weights_the_gateway_s_quota_is_left_to_cap(
    local_api: TestClient, mint: Mint, pool: tuple[str, str], store: Store, alerter: Alerter, bus_events: EventLog
) -> None:
    carol = subscribed(local_api, mint, pool[1], "free")
    count(store, alerter, carol, 1000, "a")
    assert [kind for kind, _ in bus_events.details() if kind == "KeyCapped"] == []
