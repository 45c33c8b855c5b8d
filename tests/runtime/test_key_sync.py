from typing import Any

import pytest

from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.key_store import KeyRecord, KeyTable
from api_direct.runtime.key_sync import (
    InvalidKeyEvent,
    UnknownPlan,
    UsagePlans,
    apply,
    handler,
    parse_event,
)

T1, T2, T3 = "2026-11-25T13:00:00Z", "2026-11-25T13:05:00Z", "2026-11-25T13:10:00Z"
SOURCE = "api-direct.control-plane"


def event(
    detail_type: str, detail: dict[str, Any], time: str, source: str = SOURCE
) -> dict[str, Any]:
    """A control-plane event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "111111111111",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@pytest.fixture
def key_hash() -> str:
    return hash_key(generate_key())


@pytest.fixture
def sync(
    key_table: KeyTable, usage_plans: dict[str, str], lambda_context: Any
) -> Any:
    """Deliver a control-plane event to the Lambda handler, as EventBridge would."""

    def deliver(
        detail_type: str, detail: dict[str, Any], time: str = T1, source: str = SOURCE
    ) -> None:
        handler(event(detail_type, detail, time, source), lambda_context)

    return deliver


def issued(key_hash: str, plan: str = "free") -> dict[str, str]:
    return {"key_id": "key-1", "key_hash": key_hash, "plan": plan}


def api_keys(apigateway: Any) -> list[dict[str, Any]]:
    return apigateway.get_api_keys(includeValues=True)["items"]


def plans_of(apigateway: Any, api_key_id: str) -> set[str]:
    return {plan["id"] for plan in apigateway.get_usage_plans(keyId=api_key_id)["items"]}


def only_api_key(apigateway: Any) -> dict[str, Any]:
    keys = api_keys(apigateway)
    assert len(keys) == 1, keys
    return keys[0]


def test_issue_stores_the_key_and_binds_an_api_key_to_its_usage_plan(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="free"))
    api_key = only_api_key(apigateway)
    assert (api_key["name"], api_key["value"], api_key["enabled"]) == ("key-1", key_hash, True)
    assert plans_of(apigateway, api_key["id"]) == {usage_plans["free"]}
    assert key_table.get(key_hash) == KeyRecord(
        key_hash=key_hash,
        key_id="key-1",
        plan="free",
        status="active",
        updated_at="2026-11-25T13:00:00.000000Z",
        usage_key_id=api_key["id"],
    )


def test_duplicate_delivery_changes_nothing(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash))
    before = key_table.get(key_hash)
    sync("KeyIssued", issued(key_hash))
    sync("KeyIssued", issued(key_hash))
    api_key = only_api_key(apigateway)
    assert plans_of(apigateway, api_key["id"]) == {usage_plans["free"]}
    assert key_table.get(key_hash) == before


class Recording:
    """The moto API Gateway client, noting the name of every call made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name not in ("exceptions", "get_paginator"):
            self.calls.append(name)
        return getattr(self._client, name)


@pytest.mark.parametrize("detail_type", ["KeyIssued", "PlanChanged", "KeyRevoked"])
def test_redelivery_only_reads(
    sync: Any,
    key_table: KeyTable,
    apigateway: Any,
    usage_plans: dict[str, str],
    key_hash: str,
    detail_type: str,
) -> None:
    """A converged key costs no API Gateway writes, so duplicates cannot race anything."""
    sync(detail_type, issued(key_hash), T1)
    recording = Recording(apigateway)
    plans = UsagePlans(recording, usage_plans)
    apply(parse_event(event(detail_type, issued(key_hash), T1), plans), key_table, plans)
    assert [call for call in recording.calls if not call.startswith("get_")] == []


def test_revoke_marks_the_key_revoked_and_deletes_its_api_key(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    sync("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)
    sync("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)
    record = key_table.get(key_hash)
    assert record is not None
    assert (record.status, record.plan, record.usage_key_id) == ("revoked", "free", None)
    assert api_keys(apigateway) == []


@pytest.mark.parametrize("issue_time", [T1, T3], ids=["issued-before", "stamped-after"])
def test_late_issue_does_not_resurrect_a_revoked_key(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str, issue_time: str
) -> None:
    """KeyRevoked may overtake KeyIssued, and a redelivered KeyIssued may follow both."""
    sync("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)
    sync("KeyIssued", issued(key_hash), issue_time)
    record = key_table.get(key_hash)
    assert record is not None and record.status == "revoked"
    assert api_keys(apigateway) == []


def test_plan_change_moves_the_api_key_to_the_new_usage_plan(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    sync("PlanChanged", issued(key_hash, plan="pro"), T2)
    api_key = only_api_key(apigateway)
    assert plans_of(apigateway, api_key["id"]) == {usage_plans["pro"]}
    record = key_table.get(key_hash)
    assert record is not None
    assert (record.plan, record.updated_at) == ("pro", "2026-11-25T13:05:00.000000Z")


def test_out_of_order_plan_change_is_ignored(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    sync("PlanChanged", issued(key_hash, plan="pro"), T3)
    sync("PlanChanged", issued(key_hash, plan="free"), T2)
    record = key_table.get(key_hash)
    assert record is not None and record.plan == "pro"
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}


def test_an_event_as_old_as_the_applied_one_counts_as_already_applied(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    """Only strictly newer events apply: EventBridge times have one-second resolution."""
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    sync("PlanChanged", issued(key_hash, plan="pro"), T1)
    record = key_table.get(key_hash)
    assert record is not None and record.plan == "free"
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["free"]}


def test_plan_change_before_issue_wins_over_the_older_issue(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("PlanChanged", issued(key_hash, plan="pro"), T2)
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    record = key_table.get(key_hash)
    assert record is not None and (record.plan, record.status) == ("pro", "active")
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}


def test_plan_change_does_not_revive_a_revoked_key(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    sync("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)
    sync("PlanChanged", issued(key_hash, plan="pro"), T3)
    record = key_table.get(key_hash)
    assert record is not None and (record.status, record.plan) == ("revoked", "free")
    assert api_keys(apigateway) == []


@pytest.mark.parametrize("field", ["key_hash", "key_id", "plan", "note"])
def test_plaintext_key_in_detail_is_refused_and_nothing_is_stored(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str, field: str
) -> None:
    key = generate_key()
    detail = issued(key_hash) | {field: key}
    with pytest.raises(InvalidKeyEvent, match="plaintext API key") as raised:
        sync("KeyIssued", detail)
    assert key not in str(raised.value)
    assert key_table.table.scan()["Items"] == []
    assert api_keys(apigateway) == []


@pytest.mark.parametrize(
    "detail",
    [
        {"key_id": "key-1", "plan": "free"},
        {"key_id": "key-1", "key_hash": "ABC", "plan": "free"},
        {"key_id": "key-1", "key_hash": "A" * 64, "plan": "free"},
        {"key_id": "", "key_hash": "a" * 64, "plan": "free"},
        {"key_id": "key-1", "key_hash": "a" * 64},
        {"key_id": 7, "key_hash": "a" * 64, "plan": "free"},
    ],
)
def test_detail_without_a_valid_key_hash_and_fields_is_refused(
    sync: Any, key_table: KeyTable, apigateway: Any, detail: dict[str, Any]
) -> None:
    with pytest.raises(InvalidKeyEvent):
        sync("KeyIssued", detail)
    assert key_table.table.scan()["Items"] == []
    assert api_keys(apigateway) == []


@pytest.mark.parametrize("time", ["yesterday", "2026-11-25T13:00:00", ""])
def test_event_time_must_be_a_zoned_iso_time(
    sync: Any, key_table: KeyTable, key_hash: str, time: str
) -> None:
    with pytest.raises(InvalidKeyEvent, match="time"):
        sync("KeyIssued", issued(key_hash), time)
    assert key_table.table.scan()["Items"] == []


@pytest.mark.parametrize("detail_type", ["KeyIssued", "PlanChanged"])
def test_unknown_plan_names_the_plan_and_the_known_ones(
    sync: Any, key_table: KeyTable, key_hash: str, detail_type: str
) -> None:
    with pytest.raises(UnknownPlan, match=r"'enterprise'.*known plans: free, pro"):
        sync(detail_type, issued(key_hash, plan="enterprise"))
    assert key_table.table.scan()["Items"] == []


def test_unknown_detail_type_and_foreign_source_are_ignored(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str
) -> None:
    sync("KeySuspended", issued(key_hash))
    sync("KeyIssued", issued(key_hash), source="someone.else")
    assert key_table.table.scan()["Items"] == []
    assert api_keys(apigateway) == []


class Crash(Exception):
    pass


class CrashAfter:
    """The moto API Gateway client, dying right after one call succeeds (a timeout, say)."""

    def __init__(self, client: Any, method: str) -> None:
        self._client = client
        self._method = method

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._method:
            return attribute

        def call(**kwargs: Any) -> Any:
            attribute(**kwargs)
            raise Crash(name)

        return call


@pytest.mark.parametrize("crash_after", ["create_api_key", "create_usage_plan_key"])
def test_issue_interrupted_after_creating_the_api_key_converges_on_redelivery(
    sync: Any,
    key_table: KeyTable,
    apigateway: Any,
    usage_plans: dict[str, str],
    key_hash: str,
    crash_after: str,
) -> None:
    crashing = UsagePlans(CrashAfter(apigateway, crash_after), usage_plans)
    with pytest.raises(Crash):
        apply(parse_event(event("KeyIssued", issued(key_hash), T1), crashing), key_table, crashing)
    record = key_table.get(key_hash)
    assert record is not None and record.usage_key_id is None

    sync("KeyIssued", issued(key_hash), T1)

    api_key = only_api_key(apigateway)
    assert plans_of(apigateway, api_key["id"]) == {usage_plans["free"]}
    record = key_table.get(key_hash)
    assert record is not None and record.usage_key_id == api_key["id"]


def test_plan_change_interrupted_between_usage_plans_converges_on_redelivery(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    crashing = UsagePlans(CrashAfter(apigateway, "delete_usage_plan_key"), usage_plans)
    change = event("PlanChanged", issued(key_hash, plan="pro"), T2)
    with pytest.raises(Crash):
        apply(parse_event(change, crashing), key_table, crashing)
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == set()

    sync("PlanChanged", issued(key_hash, plan="pro"), T2)

    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}


def test_revoke_interrupted_after_deleting_the_api_key_converges_on_redelivery(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    crashing = UsagePlans(CrashAfter(apigateway, "delete_api_key"), usage_plans)
    revoke = event("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)
    with pytest.raises(Crash):
        apply(parse_event(revoke, crashing), key_table, crashing)

    sync("KeyRevoked", {"key_id": "key-1", "key_hash": key_hash}, T2)

    record = key_table.get(key_hash)
    assert record is not None and (record.status, record.usage_key_id) == ("revoked", None)
    assert api_keys(apigateway) == []


def test_an_existing_api_key_with_a_longer_name_is_not_mistaken_for_ours(
    sync: Any, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    """nameQuery matches prefixes: key-1 must not adopt key-10's API key."""
    other = apigateway.create_api_key(name="key-10", value="b" * 64, enabled=True)["id"]
    sync("KeyIssued", issued(key_hash), T1)
    ours = [key for key in api_keys(apigateway) if key["name"] == "key-1"]
    assert len(ours) == 1 and ours[0]["value"] == key_hash
    assert plans_of(apigateway, other) == set()



def test_issued_at_orders_events_within_the_same_second(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    """EventBridge's ``time`` has whole seconds; the control plane's ``issued_at`` does not."""
    sync("KeyIssued", {**issued(key_hash), "issued_at": "2026-11-25T13:00:00.100000+00:00"}, time=T1)
    sync("PlanChanged", {**issued(key_hash, "pro"), "issued_at": "2026-11-25T13:00:00.200000+00:00"}, time=T1)
    assert key_table.get(key_hash).plan == "pro"  # type: ignore[union-attr]
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}
    # ...and a late duplicate of the older event does not undo it.
    sync("KeyIssued", {**issued(key_hash), "issued_at": "2026-11-25T13:00:00.100000+00:00"}, time=T1)
    assert key_table.get(key_hash).plan == "pro"  # type: ignore[union-attr]
