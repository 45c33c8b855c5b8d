"""Usage records as a creator's forwarder sends them, and the marketplace they are billed in."""

import hashlib
import json
from typing import Any

from fastapi.testclient import TestClient

from api_direct.contracts import USAGE_DETAIL_TYPE, USAGE_SOURCE
from tests.control_plane.tokens import Mint, bearer
from tests.control_plane.marketplace import ALICE, CAROL, CREATOR_ACCOUNT, creator_key_bus, link_account, published
from tests.control_plane.typed_client import InProcessControlPlane

API = "weather-api"


def usage_event(
    key_id: str,
    *,
    calls: int = 10,
    ok: int | None = None,
    hour: str = "2026-11-25T13:00:00Z",
    plan: str = "pro",
    api: str = API,
    account: str = CREATOR_ACCOUNT,
    record: str = "1",
    statuses: dict[str, int] | None = None,
    units: dict[str, int] | None = None,
    measured: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An EventBridge ``UsageRecorded`` event; ``record`` names it (same name, same record id); without ``units``
    (per status class), the record of a forwarder from before route weights; ``measured``: the cost model's
    measures (``response_bytes``, ...), none in a forwarder's from before them."""
    counts = statuses or {
        "2xx": calls if ok is None else ok,
        "3xx": 0,
        "4xx": 0 if ok is None else calls - ok,
        "5xx": 0,
    }
    return {
        "version": "0",
        "id": f"event-{record}",
        "source": USAGE_SOURCE,
        "detail-type": USAGE_DETAIL_TYPE,
        "account": account,
        "region": "eu-west-1",
        "time": "2026-11-25T14:00:05Z",
        "resources": [],
        "detail": {
            "record_id": hashlib.sha256(record.encode()).hexdigest(),
            "api": api,
            "api_id": "abc123",
            "key_id": key_id,
            "plan": plan,
            "period_start": hour,
            "calls": calls,
            "status_counts": counts,
            "latency_ms_total": 5 * calls,
            "first_request_epoch_ms": 0,
            "last_request_epoch_ms": 0,
            "log_event_ids_digest": "0" * 64,
            **({"units_by_status": units} if units is not None else {}),
            **(measured or {}),
        },
    }


def body(event: dict[str, Any]) -> str:
    return json.dumps(event)


def sqs_event(*events: dict[str, Any] | str) -> dict[str, Any]:
    """What SQS hands the aggregator: the events (or message bodies) as records ``m0``, ``m1``, ..."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": event if isinstance(event, str) else body(event),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111111111111:usage",
                "awsRegion": "us-east-1",
            }
            for i, event in enumerate(events)
        ]
    }


def marketplace(api: TestClient, mint: Mint, plan: str = "pro", **listing: Any) -> str:
    """weather-api listed by Alice (with its account's key bus), Carol subscribed to ``plan``: Carol's key id."""
    link_account(ALICE)
    published(api, bearer(mint(ALICE, "creators")), **listing)
    creator_key_bus()
    return InProcessControlPlane(api, mint(CAROL, "consumers")).subscribe(API, plan)["key_id"]
