"""A key's last use, as the aggregator records it from the usage records it counts."""

from datetime import UTC, datetime

import boto3
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.key_use import last_used
from api_direct.control_plane.billing.metering import Meter, UsageEvent
from tests.control_plane.billing.usage import body, marketplace, usage_event
from tests.control_plane.resources import REGION, TABLE
from tests.control_plane.tokens import Mint

NOW = datetime(2026, 11, 25, 16, tzinfo=UTC)


def test_the_latest_hour_counted_is_the_keys_last_use(api: TestClient, mint: Mint) -> None:
    key_id = marketplace(api, mint, plan="free")
    store = Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    assert last_used(store, key_id) is None
    for hour in ("2026-11-25T14:00:00Z", "2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z"):
        event = usage_event(key_id, hour=hour, calls=2, plan="free", record=hour)
        Meter(store).apply(UsageEvent.parse(body(event)), NOW)
    assert last_used(store, key_id) == "2026-11-25T14:00:00Z"
