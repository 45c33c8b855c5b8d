"""What the marketplace tests share: a linked creator, a published listing, the events on the buses."""

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import boto3
from fastapi.testclient import TestClient

from api_direct.contracts import KEY_EVENT_TYPES
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.store import PK, SK, api_pk, creator_pk
from tests.control_plane.resources import BUS, REGION, TABLE
from tests.control_plane.stream_relay import relay_outbox

CREATOR_ACCOUNT = "222222222222"
CREATOR_REGION = "eu-west-1"
ALICE, BOB = "creator-alice", "creator-bob"
CAROL, DAVE = "consumer-carol", "consumer-dave"
Headers = dict[str, str]


def table() -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE)


def link_account(
    creator: str, account: str = CREATOR_ACCOUNT, region: str = CREATOR_REGION, status: str = "linked"
) -> None:
    """The item ``accounts.py`` writes once a creator confirmed the link."""
    table().put_item(
        Item={
            PK: creator_pk(creator),
            SK: f"ACCOUNT#{account}#{region}",
            "account_id": account,
            "region": region,
            "status": status,
        }
    )


def listing_body(**overrides: Any) -> dict[str, Any]:
    """What ``apid publish`` sends for a small weather API."""
    return {
        "name": "Weather API",
        "description": "Current conditions and 7-day forecasts for any city",
        "category": "weather",
        "tags": ["forecast", "climate"],
        "base_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/v1",
        "openapi": {
            "openapi": "3.1.0",
            "info": {"title": "Weather", "version": "1"},
            "paths": {"/current/{city}": {"get": {"parameters": [{"schema": {"minimum": 0.5}}]}}},
        },
        "account_id": CREATOR_ACCOUNT,
        "region": CREATOR_REGION,
        "plans": [
            {
                "name": "free",
                "description": "to try it",
                "free_calls": 1000,
                "price_per_1000": "0",
                "monthly_fee": "0",
                "rate_limit": 2,
                "burst": 5,
                "monthly_quota": 1000,
            },
            {
                "name": "pro",
                "description": "",
                "free_calls": 0,
                "price_per_1000": "0.0125",
                "monthly_fee": "9.90",
                "rate_limit": 50.5,
                "burst": 100,
                "monthly_quota": None,
            },
        ],
        "mcp": {"exclude": []},
        **overrides,
    }


def publish(api: TestClient, headers: Headers, api_id: str = "weather-api", **overrides: Any) -> Any:
    return api.put(f"/listings/{api_id}", json=listing_body(**overrides), headers=headers)


def published(api: TestClient, headers: Headers, api_id: str = "weather-api", **overrides: Any) -> dict[str, Any]:
    response = publish(api, headers, api_id, **overrides)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def set_counters(api_id: str, **counters: int) -> None:
    """What reviews and subscriptions would have counted (for ranking tests)."""
    names = {f"#{name}": name for name in counters}
    table().update_item(
        Key={PK: api_pk(api_id), SK: "LISTING"},
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in counters),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{n}": v for n, v in counters.items()},
    )


class EventLog:
    """Every event that reaches a bus, through a catch-all rule into an SQS queue (moto delivers at once).

    The control plane's outbox is relayed (:func:`~tests.control_plane.stream_relay.relay_outbox`) as the log is
    made, so it holds what reaches the bus from then on, and again before each read, as the table's stream would
    have by then.
    """

    def __init__(self, session: boto3.Session, bus: str) -> None:
        relay_outbox()
        self._sqs = session.client("sqs")
        self._url = self._sqs.create_queue(QueueName=f"everything-on-{bus}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = session.client("events")
        events.put_rule(Name="everything", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
        events.put_targets(Rule="everything", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self.events: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """All events so far, oldest first."""
        relay_outbox()
        while messages := self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                self.events.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return self.events

    def details(self) -> list[tuple[str, dict[str, Any]]]:
        """Detail type and detail, less the ``issued_at`` stamp (checked here to be a microsecond UTC time) and
        the outbox's ``event_id`` (checked to be there, on every key event)."""
        found = []
        for event in self.read():
            detail = dict(event["detail"])
            stamp = detail.pop("issued_at", None)
            event_id = detail.pop("event_id", None)
            if event["detail-type"] in KEY_EVENT_TYPES:
                assert str(event_id).startswith("evt_"), event
            if event["detail-type"] in ("KeyIssued", "KeyRevoked", "PlanChanged"):
                assert stamp is not None and datetime.fromisoformat(stamp).microsecond is not None, event
                assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0), stamp
            found.append((event["detail-type"], detail))
        return found


def control_plane_events() -> EventLog:
    return EventLog(boto3.Session(region_name=REGION), BUS)


def creator_key_bus(
    api_id: str = "weather-api", account: str = CREATOR_ACCOUNT, region: str = CREATOR_REGION
) -> EventLog:
    """The ``apid-<api>-keys`` bus ``UserApiStack`` creates in the creator's account, and what reaches it."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/apid-tests", RoleSessionName="tests"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    session.client("events").create_event_bus(Name=f"apid-{api_id}-keys")
    return EventLog(session, f"apid-{api_id}-keys")


def rejecting_events(monkeypatch: Any) -> Callable[[Callable[[dict[str, Any]], bool]], None]:
    """A switch making the bus reject the key events a predicate picks (on the detail plus ``type``), as
    EventBridge does: a failed entry, not an exception. ``lambda detail: False`` takes them all again."""
    real = ControlPlaneBus.send

    def fail_when(rejects: Callable[[dict[str, Any]], bool]) -> None:
        def send(bus: ControlPlaneBus, detail_type: str, detail: Mapping[str, Any]) -> None:
            if not rejects({**detail, "type": detail_type}):
                real(bus, detail_type, detail)
                return
            failed = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}]}
            with patch.object(bus._events, "put_events", return_value=failed):
                real(bus, detail_type, detail)

        monkeypatch.setattr(ControlPlaneBus, "send", send)

    return fail_when
