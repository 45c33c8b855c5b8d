"""The aggregator against moto: each record counted once, in its hour, for the right consumer."""

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from api_direct.control_plane.api.store import GSI2, PK, SK, Store
from api_direct.control_plane.billing.handlers import UsageBatch, process_usage
from api_direct.control_plane.billing.metering import (
    MARKERS_PER_TRANSACTION,
    KeyNotFound,
    KeyOwner,
    MEASURED,
    KeyOwners,
    Meter,
    PoisonRecord,
    UsageEvent,
    counter_key,
    traffic_of,
    unattributed_pk,
    usage_index_pk,
)
from api_direct.aws_costs.traffic import Traffic
from api_direct.runtime.usage_records import UsageRecord
from api_direct.control_plane.billing.reporting import close_and_report
from tests.control_plane.billing.usage import API, CAROL, body, marketplace, sqs_event, usage_event
from tests.control_plane.tokens import Mint
from tests.control_plane.resources import REGION

NOW = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
HOUR = "2026-11-25T13:00:00Z"


@pytest.fixture
def key_id(api: TestClient, mint: Mint) -> str:
    return marketplace(api, mint, plan="free")


def apply(store: Store, event: dict[str, Any], now: datetime = NOW) -> str:
    return Meter(store).apply(UsageEvent.parse(body(event)), now)


def counter(store: Store, plan: str = "free", hour: str = HOUR) -> dict[str, Any] | None:
    key = counter_key(API, CAROL, hour, plan)
    return store.get(key[PK], key[SK])


def test_a_record_is_counted_once_however_often_it_arrives(store: Store, key_id: str) -> None:
    event = usage_event(key_id, plan="free", calls=10, ok=7)
    assert [apply(store, event) for _ in range(3)] == ["applied", "duplicate", "duplicate"]
    hour = counter(store)
    assert hour is not None and (hour["calls"], hour["billable"], hour["state"]) == (10, 7, "open")


def test_records_of_one_hour_add_up_and_other_hours_are_apart(store: Store, key_id: str) -> None:
    apply(store, usage_event(key_id, plan="free", calls=3, record="a"))
    apply(store, usage_event(key_id, plan="free", calls=4, record="b"))
    apply(store, usage_event(key_id, plan="free", calls=5, record="c", hour="2026-11-25T12:00:00Z"))
    assert counter(store)["calls"] == 7  # type: ignore[index]
    assert counter(store, hour="2026-11-25T12:00:00Z")["calls"] == 5  # type: ignore[index]


def test_a_plan_may_bill_client_errors_too(api: TestClient, mint: Mint, store: Store) -> None:
    from tests.control_plane.marketplace import listing_body

    plans = listing_body()["plans"]
    plans[0]["billable_statuses"] = ["2xx", "4xx"]
    key_id = marketplace(api, mint, plan="free", plans=plans)
    apply(store, usage_event(key_id, plan="free", statuses={"2xx": 5, "3xx": 1, "4xx": 3, "5xx": 1}, calls=10))
    assert counter(store)["billable"] == 8  # type: ignore[index]


def test_units_are_counted_and_billed_and_an_older_record_is_a_unit_per_call(store: Store, key_id: str) -> None:
    weighted = {"2xx": 35, "3xx": 0, "4xx": 3, "5xx": 0}
    apply(store, usage_event(key_id, plan="free", calls=10, ok=7, units=weighted, record="weighted"))
    apply(store, usage_event(key_id, plan="free", calls=4, ok=4, record="older"))
    hour = counter(store)
    assert hour is not None and (hour["calls"], hour["units"], hour["billable"]) == (14, 38 + 4, 35 + 4)
    [day] = store.query(counter_key(API, CAROL, HOUR, "free")[PK], "KEYDAY#")
    assert (day["calls"], day["units"]) == (14, 42)


def test_a_late_record_for_a_closed_hour_is_kept_but_not_billed_and_counts_for_its_cost_once(
    store: Store, key_id: str
) -> None:
    apply(store, usage_event(key_id, plan="free", calls=3, record="early"))
    close_and_report(store, None, NOW + timedelta(hours=3), timedelta(hours=2))
    late = usage_event(key_id, plan="free", calls=4, record="late")
    assert [apply(store, late, NOW + timedelta(hours=3)) for _ in range(2)] == ["late", "duplicate"]
    assert counter(store)["calls"] == 3  # type: ignore[index]
    marker = store.get(f"USAGE#{usage_event(key_id, record='late')['detail']['record_id']}", "RECORD")
    assert marker is not None and marker["outcome"] == "late"
    # AWS served the calls all the same: they count for the API's cost, once.
    [hour] = store.query(unattributed_pk(API), "HOUR#")
    assert traffic_of(hour) == Traffic(calls=4, records=1)


MEASURED_RECORD = {
    "response_bytes": 20_000,
    "integration_ms": 900,
    "authorizer_invocations": 2,
    "authorizer_ms": 45,
    "log_bytes": 5_260,
    "active_seconds": 7,
}


def test_a_record_carries_what_the_cost_model_reads_under_its_names() -> None:
    measures = set(Traffic.model_fields) - {"calls", "records"}
    assert set(MEASURED_RECORD) == set(MEASURED) == measures <= {field.name for field in fields(UsageRecord)}


def test_what_the_cost_model_reads_adds_up_on_the_counter(store: Store, key_id: str) -> None:
    apply(store, usage_event(key_id, plan="free", calls=10, record="a", measured=MEASURED_RECORD))
    apply(store, usage_event(key_id, plan="free", calls=10, record="a", measured=MEASURED_RECORD))  # a duplicate
    apply(store, usage_event(key_id, plan="free", calls=4, record="older"))  # a forwarder's from before measures
    hour = counter(store)
    assert hour is not None
    assert traffic_of(hour) == Traffic(calls=14, records=2, **MEASURED_RECORD)
    assert traffic_of({"calls": 3}) == Traffic(calls=3)


def test_calls_nobody_is_billed_for_are_counted_once_for_their_cost_only(store: Store, key_id: str) -> None:
    rejected = usage_event("", plan="", calls=8, ok=0, record="rejected", measured=MEASURED_RECORD)
    mcp = usage_event("", plan="", calls=2, record="mcp")
    assert [apply(store, rejected) for _ in range(2)] == ["anonymous", "duplicate"]
    batch = UsageBatch(store, None, None, NOW)
    assert process_usage(sqs_event(mcp, rejected, mcp), batch) == {"batchItemFailures": []}
    assert batch.outcomes == {"anonymous": 1, "duplicate": 2}
    [hour] = store.query(unattributed_pk(API), "HOUR#")
    assert (hour[SK], hour["period_start"]) == (f"HOUR#{HOUR}", HOUR)
    assert traffic_of(hour) == Traffic(calls=10, records=2, **MEASURED_RECORD)
    assert not {"gsi1pk", "gsi2pk", "state"} & set(hour)  # never closed, reported, billed or on a dashboard
    assert counter(store) is None and list(store.query(usage_index_pk(API), index=GSI2)) == []
    with pytest.raises(PoisonRecord, match="sent by account 999999999999"):
        apply(store, usage_event("", plan="", record="foreign", account="999999999999"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"api": "other-api"}, "other-api, which is not listed"),
        ({"account": "999999999999"}, "sent by account 999999999999, not its account 222222222222"),
    ],
)
def test_usage_from_the_wrong_sender_is_poison(store: Store, key_id: str, change: dict[str, str], reason: str) -> None:
    with pytest.raises(PoisonRecord, match=reason):
        apply(store, usage_event(key_id, plan="free", **change))


def test_an_unknown_key_is_retried_not_dropped(store: Store, key_id: str) -> None:
    with pytest.raises(KeyNotFound):
        apply(store, usage_event("key_0000000000000000", plan="free"))


@pytest.mark.parametrize(
    ("detail", "where"),
    [
        ({"calls": -1}, "detail.calls"),
        ({"calls": 0}, "detail.calls"),
        ({"period_start": "2026-11-25T13:30:00Z"}, "detail"),
        ({"status_counts": {"2xx": 11}}, "detail"),
        ({"record_id": "not-hex"}, "detail.record_id"),
        ({"units_by_status": {"2xx": 10_001}}, "more than 1000 units a call"),
        ({"units_by_status": {"2xx": -1}}, "detail.units_by_status.2xx"),
        ({"authorizer_invocations": 11}, "authorizer_invocations is more than 1 a call"),
        ({"response_bytes": 10 * 10 * 1024 * 1024 + 1}, "response_bytes is more than"),
        ({"active_seconds": 3601}, "detail.active_seconds"),
        ({"log_bytes": -1}, "detail.log_bytes"),
    ],
)
def test_malformed_records_are_poison_naming_the_field(
    store: Store, key_id: str, detail: dict[str, Any], where: str
) -> None:
    event = usage_event(key_id, plan="free")
    event["detail"].update(detail)
    with pytest.raises(PoisonRecord, match=f"{where}"):
        UsageEvent.parse(body(event))


def test_a_batch_dead_letters_poison_with_its_reason_and_retries_only_what_may_succeed(
    store: Store, key_id: str
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letters = sqs.create_queue(QueueName="usage-dead-letters")["QueueUrl"]
    batch = UsageBatch(store, sqs, dead_letters, NOW)
    response = process_usage(
        sqs_event(
            usage_event(key_id, plan="free", record="good"),
            usage_event(key_id, plan="free", record="foreign", account="999999999999"),
            usage_event("key_ffffffffffffffff", plan="free", record="unknown-key"),
            "not json",
        ),
        batch,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert batch.outcomes == {"applied": 1, "poison": 2}
    messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    reasons = sorted(message["MessageAttributes"]["reason"]["StringValue"] for message in messages)
    assert reasons[0].startswith("not a api-direct.usage UsageRecorded event")
    assert "sent by account 999999999999" in reasons[1]
    assert json.loads(next(m["Body"] for m in messages if "999999999999" in m["Body"]))["account"] == "999999999999"


class CountingStore:
    """The real store, counting the transactions it runs and failing those that touch ``failing_hour``."""

    def __init__(self, store: Store, failing_hour: str | None = None) -> None:
        self._store = store
        self.transactions: list[int] = []
        self._failing_hour = failing_hour

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def transact_conditionally(self, operations: Any, answered: Any) -> list[str]:
        self.transactions.append(len(operations))
        if self._failing_hour and self._failing_hour in json.dumps(operations, default=str):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")
        return self._store.transact_conditionally(operations, answered)


def test_a_batch_is_one_transaction_per_counter(store: Store, key_id: str) -> None:
    counting = CountingStore(store)
    events = [usage_event(key_id, plan="free", calls=2, record=f"r{i}") for i in range(5)]
    events += [usage_event(key_id, plan="free", calls=7, record="other-hour", hour="2026-11-25T12:00:00Z")]
    batch = UsageBatch(counting, None, None, NOW)  # type: ignore[arg-type]
    assert process_usage(sqs_event(*events), batch) == {"batchItemFailures": []}
    assert sorted(counting.transactions) == [3, 7]  # markers, one counter update and one key day update each
    assert counter(store)["calls"] == 10  # type: ignore[index]
    assert counter(store, hour="2026-11-25T12:00:00Z")["calls"] == 7  # type: ignore[index]
    assert batch.outcomes == {"applied": 6}


def test_duplicates_in_and_across_batches_are_dropped_and_the_rest_counted(store: Store, key_id: str) -> None:
    apply(store, usage_event(key_id, plan="free", calls=3, record="seen"))
    counting = CountingStore(store)
    batch = UsageBatch(counting, None, None, NOW)  # type: ignore[arg-type]
    events = [usage_event(key_id, plan="free", calls=3, record=name) for name in ("new", "seen", "new", "newer")]
    assert process_usage(sqs_event(*events), batch) == {"batchItemFailures": []}
    assert batch.outcomes == {"applied": 2, "duplicate": 2}
    assert counting.transactions == [5, 4]  # refused for "seen", then committed without it
    assert counter(store)["calls"] == 9  # type: ignore[index]


def test_a_closed_hour_keeps_a_group_as_late_and_its_duplicates_as_duplicates(store: Store, key_id: str) -> None:
    apply(store, usage_event(key_id, plan="free", calls=3, record="early"))
    close_and_report(store, None, NOW + timedelta(hours=3), timedelta(hours=2))
    batch = UsageBatch(store, None, None, NOW + timedelta(hours=3))
    events = [usage_event(key_id, plan="free", calls=4, record=name) for name in ("early", "late-1", "late-2")]
    assert process_usage(sqs_event(*events), batch) == {"batchItemFailures": []}
    assert batch.outcomes == {"duplicate": 1, "late": 2}
    assert counter(store)["calls"] == 3  # type: ignore[index]
    for name in ("late-1", "late-2"):
        marker = store.get(f"USAGE#{usage_event(key_id, record=name)['detail']['record_id']}", "RECORD")
        assert marker is not None and marker["outcome"] == "late"


def test_a_failed_counter_retries_only_its_own_messages(store: Store, key_id: str) -> None:
    counting = CountingStore(store, failing_hour="2026-11-25T12:00:00Z")
    batch = UsageBatch(counting, None, None, NOW)  # type: ignore[arg-type]
    response = process_usage(
        sqs_event(
            usage_event(key_id, plan="free", calls=2, record="a"),
            usage_event(key_id, plan="free", calls=2, record="b", hour="2026-11-25T12:00:00Z"),
            usage_event(key_id, plan="free", calls=2, record="c"),
            usage_event(key_id, plan="free", calls=2, record="d", hour="2026-11-25T12:00:00Z"),
        ),
        batch,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert counter(store)["calls"] == 4  # type: ignore[index]
    assert counter(store, hour="2026-11-25T12:00:00Z") is None


def test_a_counter_with_more_records_than_a_transaction_holds_takes_several(store: Store, key_id: str) -> None:
    counting = CountingStore(store)
    events = [usage_event(key_id, plan="free", calls=1, record=f"r{i}") for i in range(MARKERS_PER_TRANSACTION + 2)]
    assert process_usage(sqs_event(*events), UsageBatch(counting, None, None, NOW)) == {"batchItemFailures": []}  # type: ignore[arg-type]
    assert counting.transactions == [MARKERS_PER_TRANSACTION + 2, 2 + 2]  # markers, the counter, the key's day
    assert counter(store)["calls"] == MARKERS_PER_TRANSACTION + 2  # type: ignore[index]


def test_key_owners_outlive_the_batch_so_later_batches_skip_the_index(
    store: Store, key_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    lookup = Meter._key
    monkeypatch.setattr(Meter, "_key", lambda self, key: asked.append(key) or lookup(self, key))
    owners = KeyOwners()
    for batch in range(2):
        events = [usage_event(key_id, plan="free", calls=1, record=f"b{batch}-{i}") for i in range(3)]
        assert process_usage(sqs_event(*events), UsageBatch(store, None, None, NOW, owners)) == {
            "batchItemFailures": []
        }
    assert asked == [key_id]
    assert counter(store)["calls"] == 6  # type: ignore[index]
    process_usage(
        sqs_event(usage_event(key_id, plan="", calls=1, record="no-plan")), UsageBatch(store, None, None, NOW, owners)
    )
    assert asked == [key_id, key_id]  # a record without its plan asks for the key's plan as it is now


def test_key_owners_forget_the_oldest_beyond_their_capacity() -> None:
    owners = KeyOwners(capacity=2)
    for name in ("a", "b", "c"):
        owners.remember(name, KeyOwner(f"consumer-{name}", "weather-api"))
    assert owners.get("a") is None and owners.get("c") == KeyOwner("consumer-c", "weather-api")
