"""Key events through the outbox, under crashes: whatever dies where, every committed key event reaches the
API's account, its effect is applied once, and the creator's key table ends as the control plane says.

The control plane writes through :func:`~api_direct.control_plane.api.subscriptions.commit`, the relay is
:func:`~api_direct.control_plane.api.outbox.relay_batch` run on the table's stream as Lambda's mapping runs it
(:func:`~api_direct.local.event_sources.drain_stream`), and the creator's side is the key sync's own parsing
and table writes (:mod:`api_direct.runtime.key_sync`); AWS is moto in process, EventBridge a list.
"""

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from api_direct.contracts import CONTROL_PLANE_SOURCE, OUTBOX_PREFIX
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.outbox import KeyEvent, is_relayed, outbox_writes, relay_batch
from api_direct.control_plane.api.store import PK, SK, Store, update_op
from api_direct.control_plane.api.subscriptions import commit
from api_direct.local.event_sources import drain_stream
from api_direct.runtime.key_store import KeyTable
from api_direct.runtime.key_sync import UsagePlans, parse_event
from tests.control_plane.resources import BUS, REGION, TABLE, create_table

KEYS = tuple(f"{n:064x}" for n in (1, 2, 3))
PLANS = ("free", "pro")
Fault = Literal["ok", "refused", "crash"]


class RelayCrashed(BaseException):
    """The relay's process died after a put: not an error its batch processor can catch and report."""


@dataclass
class FaultyBus:
    """EventBridge's ``put_events`` for the relay: each call takes the next of ``faults`` (then ``ok``), and what
    it took is delivered (``crash``: taken, then the relay dies before it can say so)."""

    faults: list[Fault]
    delivered: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "refused":
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "later"}]}
        [entry] = Entries
        self.delivered.append(
            {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
        )
        if fault == "crash":
            raise RelayCrashed
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(len(self.delivered))}]}


Operation = tuple[str, int, str]
operations = st.lists(
    st.tuples(
        st.sampled_from(["issue", "plan", "suspend", "restore", "revoke"]),
        st.integers(0, len(KEYS) - 1),
        st.sampled_from(PLANS),
    ),
    max_size=12,
)


def event_of(kind: str, key_hash: str, plan: str) -> KeyEvent:
    detail = {"key_id": f"key_{key_hash[-4:]}", "key_hash": key_hash}
    named = {
        "issue": "KeyIssued",
        "plan": "PlanChanged",
        "suspend": "KeySuspended",
        "restore": "KeyRestored",
        "revoke": "KeyRevoked",
    }[kind]
    return KeyEvent(named, "weather-api", {**detail, **({"plan": plan} if kind in ("issue", "plan") else {})})  # type: ignore[arg-type]


def change(state: dict[str, str] | None, kind: str, plan: str) -> dict[str, str] | None:
    """What the control plane allows from ``state`` (``None``: never issued), and the key's state after; ``None``
    for a change it refuses."""
    if kind == "issue":
        return {"status": "active", "plan": plan} if state is None else None
    if state is None or state["status"] == "revoked":
        return None
    after = {
        "plan": {**state, "plan": plan},
        "suspend": {**state, "status": "suspended"},
        "restore": {**state, "status": "active"},
        "revoke": {**state, "status": "revoked"},
    }[kind]
    return after


def run_control_plane(store: Store, steps: list[Operation], crashes: list[bool]) -> dict[str, dict[str, str]]:
    """Each allowed change committed with its event, unless its request died before its transaction (``True``)."""
    truth: dict[str, dict[str, str]] = {}
    services: Any = SimpleNamespace(store=store)
    for (kind, index, plan), died_before in zip(steps, [*crashes, *[False] * len(steps)], strict=False):
        key_hash = KEYS[index]
        after = change(truth.get(key_hash), kind, plan)
        if after is None or died_before:
            continue
        key = {PK: f"KEY#{key_hash}", SK: "KEY"}
        commit(services, writes=[update_op(key, set_=after)], events=[event_of(kind, key_hash, plan)], conflict="x")
        truth[key_hash] = after
    return truth


def relay_until_done(bus: FaultyBus, table: str) -> None:
    """Run the relay over the stream as its mapping would while faults come (a crashed run is retried from the same
    checkpoint, a failed record from that record), then once more when they have passed."""
    streams = boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))
    stream = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"]["LatestStreamArn"]
    relay_bus = ControlPlaneBus(bus, BUS, None)
    checkpoints: dict[str, str] = {}
    for _ in range(len(bus.faults) + 1):
        with contextlib.suppress(RelayCrashed):
            drain_stream(streams, stream, lambda event: relay_batch(event, relay_bus), checkpoints, is_relayed)
    bus.faults.clear()
    drain_stream(streams, stream, lambda event: relay_batch(event, relay_bus), checkpoints, is_relayed)


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """One moto account for every example: each makes tables of its own."""
    with mock_aws():
        yield


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=operations,
    crashes=st.lists(st.booleans(), max_size=12),
    faults=st.lists(st.sampled_from(["ok", "refused", "crash"]), max_size=12),
    delivery=st.randoms(use_true_random=False),
)
def test_no_crash_loses_or_repeats_a_key_events_effect_and_the_creators_keys_converge(
    aws: None, steps: list[Operation], crashes: list[bool], faults: list[Fault], delivery: Any
) -> None:
    table = f"{TABLE}-{uuid.uuid4().hex}"
    create_table(boto3.client("dynamodb", region_name=REGION), table)
    store = Store(boto3.resource("dynamodb", region_name=REGION).Table(table))
    truth = run_control_plane(store, steps, crashes)
    bus = FaultyBus(list(faults))
    relay_until_done(bus, table)

    outbox = [item for item in store.table.scan()["Items"] if item[PK].startswith(OUTBOX_PREFIX)]
    committed = {item["detail"]["event_id"] for item in outbox}
    assert {event["detail"]["event_id"] for event in bus.delivered} == committed, "every event, and no other"

    # EventBridge delivers at least once and in no set order: some events twice, all shuffled.
    arriving = bus.delivered + [event for event in bus.delivered if delivery.random() < 0.3]
    delivery.shuffle(arriving)
    creator = KeyTable(
        boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName=f"keys-{uuid.uuid4().hex}",
            KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    )
    plans = UsagePlans(client=None, ids={plan: f"usage-{plan}" for plan in PLANS})  # type: ignore[arg-type]
    for event in arriving:
        key_event = parse_event({**event, "source": CONTROL_PLANE_SOURCE}, plans)
        assert key_event is not None
        key_event.apply_to(creator)

    for key_hash in KEYS:
        record, want = creator.get(key_hash, consistent=True), truth.get(key_hash)
        if want is None:
            assert record is None
            continue
        assert record is not None and record.status == want["status"]
        # A revoked key's plan is no one's concern: a KeyRevoked that came first leaves a tombstone without one.
        assert record.plan == want["plan"] or want["status"] == "revoked"


def test_a_changes_events_are_stamped_in_its_order_and_each_is_new() -> None:
    events = [
        KeyEvent("KeyIssued", "weather-api", {"key_id": "k"}),
        KeyEvent("KeyRevoked", "weather-api", {"key_id": "j"}),
    ]
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    first, second = (write["Put"] for write in outbox_writes(events, now))
    assert first["Item"]["detail"]["issued_at"] < second["Item"]["detail"]["issued_at"]
    assert first["Item"][PK] != second["Item"][PK] and first["Item"][PK].startswith(OUTBOX_PREFIX)
    assert first["ConditionExpression"] == "attribute_not_exists(pk)"
    assert first["Item"]["expires_at"] > now.timestamp() + 24 * 3600, "kept past the stream's 24 hours"


@pytest.mark.parametrize(
    "record",
    [
        {"eventName": "MODIFY", "dynamodb": {"Keys": {PK: {"S": "OUTBOX#evt_1"}, SK: {"S": "EVENT"}}}},
        {"eventName": "REMOVE", "dynamodb": {"Keys": {PK: {"S": "OUTBOX#evt_1"}, SK: {"S": "EVENT"}}}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {PK: {"S": "KEY#abc"}, SK: {"S": "KEY"}}}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {PK: {"S": "OUTBOX#evt_1"}, SK: {"S": "OTHER"}}}},
    ],
)
def test_the_relay_passes_over_what_is_not_a_new_outbox_item(record: dict[str, Any]) -> None:
    assert not is_relayed(record)
    bus = FaultyBus([])
    response = relay_batch({"Records": [{**record, "eventSource": "aws:dynamodb"}]}, ControlPlaneBus(bus, BUS, None))
    assert response == {"batchItemFailures": []} and bus.delivered == []
