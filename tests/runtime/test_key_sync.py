from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_direct.constructs import key_store as key_store_construct
from api_direct.control_plane.api import bus as control_plane_bus
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.key_store import KeyRecord, KeyTable
from api_direct.contracts import KEY_EVENT_TYPES
from api_direct.runtime import key_sync
from api_direct.runtime.key_sync import (
    InvalidKeyEvent,
    KeyEvent,
    KeyIssued,
    KeyRestored,
    KeyRevoked,
    KeySuspended,
    PlanChanged,
    UnknownPlan,
    UsagePlans,
    apply,
    parse_event,
)
from tests.runtime.emulated_aws import PLANS
from tests.runtime.key_events import event

T1, T2, T3 = "2026-11-25T13:00:00Z", "2026-11-25T13:05:00Z", "2026-11-25T13:10:00Z"


@pytest.fixture
def key_hash() -> str:
    return hash_key(generate_key())


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


@pytest.mark.parametrize("detail_type", ["KeyIssued", "PlanChanged", "KeyRevoked", "KeySuspended", "KeyRestored"])
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
def test_event_time_must_be_a_zoned_iso_time(sync: Any, key_table: KeyTable, key_hash: str, time: str) -> None:
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
    sync("KeyExpired", issued(key_hash))
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


# Suspension for unpaid invoices: KeySuspended / KeyRestored.

T4 = "2026-11-25T13:15:00Z"


def key_only(key_hash: str) -> dict[str, str]:
    """The detail of KeySuspended, KeyRestored and KeyRevoked."""
    return {"key_id": "key-1", "key_hash": key_hash}


def stored(key_table: KeyTable, key_hash: str) -> KeyRecord:
    record = key_table.get(key_hash, consistent=True)
    assert record is not None
    return record


def test_every_key_event_type_is_one_the_sync_applies(usage_plans: dict[str, str], key_hash: str) -> None:
    """The rules (key store, control-plane forwarding) import this list: nothing they admit is dropped,
    and nothing the sync applies is filtered out."""
    assert KEY_EVENT_TYPES == (
        "KeyCapped",
        "KeyIssued",
        "KeyRestored",
        "KeyRevoked",
        "KeySuspended",
        "KeyUncapped",
        "PlanChanged",
    )
    assert sorted(key_sync._EVENTS) == sorted(KEY_EVENT_TYPES)
    plans = UsagePlans(None, usage_plans)  # type: ignore[arg-type]
    every_field = {**issued(key_hash), "capped_until": "2026-12-01T00:00:00Z"}
    for detail_type in KEY_EVENT_TYPES:
        parsed = parse_event(event(detail_type, every_field, T1), plans)
        assert type(parsed).__name__ == detail_type


def test_the_construct_and_the_control_plane_route_the_same_event_types() -> None:
    assert key_store_construct.KEY_EVENT_TYPES is KEY_EVENT_TYPES
    assert control_plane_bus.KEY_EVENT_TYPES is KEY_EVENT_TYPES


def test_suspend_keeps_the_binding_and_restore_reactivates_on_the_same_plan(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="pro"), T1)
    bound = only_api_key(apigateway)["id"]

    sync("KeySuspended", key_only(key_hash), T2)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan, record.usage_key_id) == ("suspended", "pro", bound)
    assert (record.updated_at, record.suspension_at) == (
        "2026-11-25T13:00:00.000000Z",
        "2026-11-25T13:05:00.000000Z",
    )
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}

    sync("KeyRestored", key_only(key_hash), T3)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan, record.usage_key_id) == ("active", "pro", bound)
    assert record.suspension_at == "2026-11-25T13:10:00.000000Z"
    assert only_api_key(apigateway)["id"] == bound
    assert plans_of(apigateway, bound) == {usage_plans["pro"]}


def test_duplicate_suspensions_and_restores_change_nothing(sync: Any, key_table: KeyTable, key_hash: str) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    sync("KeySuspended", key_only(key_hash), T2)
    suspended = stored(key_table, key_hash)
    sync("KeySuspended", key_only(key_hash), T2)
    assert stored(key_table, key_hash) == suspended
    sync("KeyRestored", key_only(key_hash), T3)
    restored = stored(key_table, key_hash)
    sync("KeyRestored", key_only(key_hash), T3)
    sync("KeySuspended", key_only(key_hash), T2)
    assert stored(key_table, key_hash) == restored
    assert restored.status == "active"


def test_a_restore_overtaking_its_suspension_leaves_the_key_active(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    """Suspended at T2, restored at T3, delivered restore first: the late suspension is stale."""
    sync("KeyIssued", issued(key_hash), T1)
    sync("KeyRestored", key_only(key_hash), T3)
    record = stored(key_table, key_hash)
    assert (record.status, record.suspension_at) == ("active", "2026-11-25T13:10:00.000000Z")
    sync("KeySuspended", key_only(key_hash), T2)
    assert stored(key_table, key_hash).status == "active"
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["free"]}


def test_a_suspension_as_old_as_the_restore_counts_as_already_applied(
    sync: Any, key_table: KeyTable, key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    sync("KeyRestored", key_only(key_hash), T2)
    sync("KeySuspended", key_only(key_hash), T2)
    assert stored(key_table, key_hash).status == "active"


def test_a_suspension_overtaking_its_issue_is_kept_and_the_issue_fills_in_the_plan(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeySuspended", key_only(key_hash), T2)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan, record.updated_at) == ("suspended", "", "")
    assert api_keys(apigateway) == []

    sync("KeyIssued", issued(key_hash, plan="pro"), T1)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan, record.updated_at) == ("suspended", "pro", "2026-11-25T13:00:00.000000Z")
    assert api_keys(apigateway) == []

    sync("KeyRestored", key_only(key_hash), T3)
    assert stored(key_table, key_hash).status == "active"
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}


def test_a_restore_overtaking_everything_waits_for_the_issue(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    """Issued T1, suspended T2, restored T3, delivered restore, issue, suspension."""
    sync("KeyRestored", key_only(key_hash), T3)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan) == ("active", "")
    assert api_keys(apigateway) == []  # nothing to bind yet, and no UnknownPlan either

    sync("KeyIssued", issued(key_hash), T1)
    sync("KeySuspended", key_only(key_hash), T2)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan) == ("active", "free")
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["free"]}


def test_a_plan_change_while_suspended_takes_effect_on_restore(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str], key_hash: str
) -> None:
    sync("KeyIssued", issued(key_hash, plan="free"), T1)
    sync("KeySuspended", key_only(key_hash), T2)
    sync("PlanChanged", issued(key_hash, plan="pro"), T3)
    record = stored(key_table, key_hash)
    assert (record.status, record.plan) == ("suspended", "pro")
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["free"]}  # left alone

    sync("KeyRestored", key_only(key_hash), T4)
    assert stored(key_table, key_hash).status == "active"
    assert plans_of(apigateway, only_api_key(apigateway)["id"]) == {usage_plans["pro"]}


@pytest.mark.parametrize(
    "deliveries",
    [
        [("KeySuspended", T2), ("KeyRevoked", T3)],
        [("KeyRevoked", T3), ("KeySuspended", T2)],
        [("KeyRevoked", T2), ("KeyRestored", T3)],
        [("KeySuspended", T2), ("KeyRevoked", T3), ("KeyRestored", T4)],
        [("KeyRestored", T4), ("KeyRevoked", T3)],
    ],
    ids=repr,
)
def test_revoked_wins_over_suspension_and_restore(
    sync: Any, key_table: KeyTable, apigateway: Any, key_hash: str, deliveries: list[tuple[str, str]]
) -> None:
    sync("KeyIssued", issued(key_hash), T1)
    for detail_type, time in deliveries:
        sync(detail_type, key_only(key_hash), time)
    record = stored(key_table, key_hash)
    assert (record.status, record.usage_key_id) == ("revoked", None)
    assert api_keys(apigateway) == []


@pytest.mark.parametrize("detail_type", ["KeySuspended", "KeyRestored"])
def test_suspension_events_are_validated_like_the_others(
    sync: Any, key_table: KeyTable, key_hash: str, detail_type: str
) -> None:
    with pytest.raises(InvalidKeyEvent, match="key_hash"):
        sync(detail_type, {"key_id": "key-1"})
    key = generate_key()
    with pytest.raises(InvalidKeyEvent, match="plaintext API key") as raised:
        sync(detail_type, key_only(key_hash) | {"note": key})
    assert key not in str(raised.value)
    assert key_table.table.scan()["Items"] == []


# The property: whatever EventBridge does to the order and number of deliveries, the
# key ends as if its events had been applied once each, in the order they happened.

BASE = datetime(2026, 11, 25, 13, tzinfo=UTC)


@st.composite
def key_histories(draw: st.DrawFn) -> list[tuple[str, str, int]]:
    """(detail type, plan, microseconds after BASE) of one key's events, in time order.

    A KeyIssued first; then plan changes and alternating suspensions and restores,
    interleaved; maybe a KeyRevoked anywhere after the KeyIssued (revoked is final).
    """
    plan_changes = draw(st.integers(min_value=0, max_value=3))
    suspensions = draw(st.integers(min_value=0, max_value=5))
    kinds = draw(st.permutations(["PlanChanged"] * plan_changes + ["suspension"] * suspensions))
    toggles = iter(["KeySuspended", "KeyRestored"] * suspensions)
    kinds = ["KeyIssued"] + [next(toggles) if kind == "suspension" else kind for kind in kinds]
    if draw(st.booleans()):
        kinds.insert(draw(st.integers(min_value=1, max_value=len(kinds))), "KeyRevoked")
    times = st.integers(min_value=0, max_value=10**10)
    offsets = sorted(draw(st.lists(times, min_size=len(kinds), max_size=len(kinds), unique=True)))
    return [
        (kind, draw(st.sampled_from(PLANS)) if kind in ("KeyIssued", "PlanChanged") else "", offset)
        for kind, offset in zip(kinds, offsets, strict=True)
    ]


def key_events(history: list[tuple[str, str, int]], key_hash: str, key_id: str) -> list[KeyEvent]:
    kinds = {kind.__name__: kind for kind in (KeyIssued, PlanChanged, KeySuspended, KeyRestored, KeyRevoked)}
    made = []
    for detail_type, plan, offset in history:
        at = BASE + timedelta(microseconds=offset)
        extra = {"plan": plan} if plan else {}
        made.append(kinds[detail_type](key_id=key_id, key_hash=key_hash, at=at, **extra))
    return made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=key_histories(), data=st.data())
def test_any_delivery_order_ends_where_time_order_does(
    key_table: KeyTable,
    apigateway: Any,
    usage_plans: dict[str, str],
    history: list[tuple[str, str, int]],
    data: st.DataObject,
) -> None:
    # Fresh keys per example: the moto account lives as long as the test, not the example.
    in_order_hash, delivered_hash = hash_key(generate_key()), hash_key(generate_key())
    key_id = f"key-{delivered_hash[:12]}"
    for key_event in key_events(history, in_order_hash, f"key-{in_order_hash[:12]}"):
        key_event.apply_to(key_table)
    expected = stored(key_table, in_order_hash)

    copies = [
        key_event
        for key_event in key_events(history, delivered_hash, key_id)
        for _ in range(data.draw(st.integers(min_value=1, max_value=2)))  # redelivered, or not
    ]
    plans = UsagePlans(apigateway, usage_plans)
    for key_event in data.draw(st.permutations(copies)):
        apply(key_event, key_table, plans)  # every intermediate state reconciles without error
    final = stored(key_table, delivered_hash)

    # What time order means, spelled out.
    kinds = [kind for kind, _, _ in history]
    toggles = [kind for kind in kinds if kind in ("KeySuspended", "KeyRestored")]
    if "KeyRevoked" in kinds:
        # Revoked is terminal and final: the rest of a revoked record is not used.
        assert expected.status == final.status == "revoked"
        assert final.usage_key_id is None
        assert [key for key in api_keys(apigateway) if key["name"] == key_id] == []
        return
    assert expected.status == ("suspended" if toggles and toggles[-1] == "KeySuspended" else "active")
    assert expected.plan == [plan for _, plan, _ in history if plan][-1]
    assert replace(final, key_hash="", key_id="", usage_key_id=None) == replace(
        expected, key_hash="", key_id="", usage_key_id=None
    )
    ours = [key for key in api_keys(apigateway) if key["name"] == key_id]
    if final.status == "active":
        assert len(ours) == 1 and final.usage_key_id == ours[0]["id"]
        assert plans_of(apigateway, ours[0]["id"]) == {usage_plans[final.plan]}
    else:
        assert len(ours) <= 1
