"""All of a subscription's keys are counted under one API Gateway key: the plan's rate and quota are the subscription's.

API Gateway applies a usage plan's throttle and quota per API key. Keys issued with
the subscription's ``usage_id`` share one API key named and valued with it; a key
without one (from a control plane that predates it) keeps an API key of its own.
"""

from typing import Any

import pytest

from api_direct.runtime.api_keys import generate_key, hash_key, usage_id_of
from api_direct.runtime.key_check import decide
from api_direct.runtime.key_store import KeyTable
from api_direct.runtime.key_sync import InvalidKeyEvent

T2, T3 = "2026-11-25T13:05:00Z", "2026-11-25T13:10:00Z"
SHARED = usage_id_of("consumer-carol", "weather-api")


def key(number: int, plan: str = "free", usage_id: str | None = SHARED) -> dict[str, str]:
    detail = {"key_id": f"key-{number}", "key_hash": hash_key(f"key {number}"), "plan": plan}
    return {**detail, "usage_id": usage_id} if usage_id else detail


def revocation(detail: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {**{name: detail[name] for name in ("key_id", "key_hash", "usage_id") if name in detail}, **extra}


def named(apigateway: Any) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in apigateway.get_api_keys(includeValues=True)["items"]}


def usage_plan_ids(apigateway: Any, api_key_id: str) -> set[str]:
    return {plan["id"] for plan in apigateway.get_usage_plans(keyId=api_key_id)["items"]}


def test_two_keys_of_a_subscription_share_one_api_key_in_the_plan(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_plans: dict[str, str]
) -> None:
    first, second = key(1), key(2)
    sync("KeyIssued", first)
    sync("KeyIssued", second, T2)
    [shared] = named(apigateway).values()
    assert (shared["name"], shared["value"]) == (SHARED, SHARED)
    assert usage_plan_ids(apigateway, shared["id"]) == {usage_plans["free"]}
    records = [key_table.get(detail["key_hash"]) for detail in (first, second)]
    assert {(record.usage_id, record.usage_key_id) for record in records if record} == {(SHARED, shared["id"])}


def test_the_authorizer_counts_every_key_of_a_subscription_under_its_usage_id(sync: Any, key_table: KeyTable) -> None:
    keys = [generate_key(), generate_key()]
    for number, plaintext in enumerate(keys):
        sync(
            "KeyIssued",
            {"key_id": f"key-{number}", "key_hash": hash_key(plaintext), "plan": "free", "usage_id": SHARED},
        )
    decisions = [decide(plaintext, key_table.get) for plaintext in keys]
    assert [decision.usage_identifier_key for decision in decisions] == [SHARED, SHARED]
    assert {decision.key_id for decision in decisions} == {"key-0", "key-1"}, "calls are still billed per key"


def test_a_key_without_a_usage_id_is_counted_alone(sync: Any, key_table: KeyTable, apigateway: Any) -> None:
    plaintext = generate_key()
    sync("KeyIssued", {"key_id": "key-old", "key_hash": hash_key(plaintext), "plan": "free"})
    assert named(apigateway)["key-old"]["value"] == hash_key(plaintext)
    assert decide(plaintext, key_table.get).usage_identifier_key == hash_key(plaintext)


def test_a_plan_change_moves_the_shared_api_key(sync: Any, apigateway: Any, usage_plans: dict[str, str]) -> None:
    first, second = key(1), key(2)
    sync("KeyIssued", first)
    sync("KeyIssued", second)
    sync("PlanChanged", {**first, "plan": "pro"}, T2)
    sync("PlanChanged", {**second, "plan": "pro"}, T2)
    assert usage_plan_ids(apigateway, named(apigateway)[SHARED]["id"]) == {usage_plans["pro"]}


def test_a_key_counted_alone_joins_its_subscription_and_its_own_api_key_goes(
    sync: Any, key_table: KeyTable, apigateway: Any
) -> None:
    legacy = key(1, usage_id=None)
    sync("KeyIssued", legacy)
    assert set(named(apigateway)) == {"key-1"}
    sync("PlanChanged", {**legacy, "usage_id": SHARED}, T2)
    assert set(named(apigateway)) == {SHARED}
    record = key_table.get(legacy["key_hash"])
    assert record is not None and record.usage_key_id == named(apigateway)[SHARED]["id"]


def test_revoking_one_key_leaves_the_shared_api_key_for_the_others(
    sync: Any, key_table: KeyTable, apigateway: Any
) -> None:
    first, second = key(1), key(2)
    sync("KeyIssued", first)
    sync("KeyIssued", second)
    sync("KeyRevoked", revocation(first), T2)
    assert set(named(apigateway)) == {SHARED}
    revoked = key_table.get(first["key_hash"])
    assert revoked is not None and (revoked.status, revoked.usage_key_id) == ("revoked", None)


def test_the_revocation_that_ends_the_subscription_deletes_the_shared_api_key(sync: Any, apigateway: Any) -> None:
    first, second = key(1), key(2)
    sync("KeyIssued", first)
    sync("KeyIssued", second)
    sync("KeyRevoked", revocation(first, ends_usage=True), T2)
    sync("KeyRevoked", revocation(second, ends_usage=True), T2)
    assert named(apigateway) == {}
    sync("KeyRevoked", revocation(second, ends_usage=True), T3)
    assert named(apigateway) == {}, "safe to deliver again"


@pytest.mark.parametrize("usage_id", ["", "use_short", "use_" + "G" * 32, 42, "apid_" + "a" * 43])
def test_a_malformed_usage_id_is_refused_before_anything_is_written(
    sync: Any, key_table: KeyTable, apigateway: Any, usage_id: Any
) -> None:
    detail = {**key(1), "usage_id": usage_id}
    with pytest.raises(InvalidKeyEvent):
        sync("KeyIssued", detail)
    assert key_table.get(detail["key_hash"]) is None and named(apigateway) == {}
