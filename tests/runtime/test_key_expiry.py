"""A rotated-out key: KeyRevoked with ``expires_at`` keeps it working until then, against moto."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from api_direct.constructs.key_store import ApiKeyStore
from api_direct.contracts import KEY_TTL_ATTRIBUTE
from api_direct.runtime import authorizer, key_sync
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.key_check import decide
from api_direct.runtime.key_store import TOMBSTONE_DAYS, KeyTable

ISSUED, EXPIRY_SENT = datetime(2026, 11, 25, 13, tzinfo=UTC), datetime(2026, 11, 25, 14, tzinfo=UTC)


def deliver(lambda_context: Any, detail_type: str, detail: dict[str, str], at: datetime) -> None:
    """One control-plane event through the key sync's Lambda handler, as EventBridge delivers it."""
    key_sync.handler(
        {
            "detail-type": detail_type,
            "source": "api-direct.control-plane",
            "time": at.isoformat(),
            "detail": {**detail, "issued_at": at.isoformat()},
        },
        lambda_context,
    )


@pytest.fixture(autouse=True)
def _key_sync_environment(usage_plans: dict[str, str], key_table: KeyTable) -> None:
    """The key table and usage plans the key sync's handler reads from its environment."""


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def issue(key: str, lambda_context: Any, key_table: KeyTable) -> dict[str, str]:
    reference = {"key_id": "key-old", "key_hash": hash_key(key)}
    deliver(lambda_context, "KeyIssued", {**reference, "plan": "free"}, ISSUED)
    return reference


def authorize(key: str, lambda_context: Any) -> str:
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:abc/prod/GET/x", "headers": {}}
    response = authorizer.handler({**event, "headers": {"x-api-key": key}}, lambda_context)
    return str(response["policyDocument"]["Statement"][0]["Effect"])


def test_an_expiry_keeps_the_key_active_and_bound_until_then(
    issue: dict[str, str], key: str, lambda_context: Any, key_table: KeyTable, apigateway: Any
) -> None:
    expires = EXPIRY_SENT + timedelta(hours=24)
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": expires.isoformat()}, EXPIRY_SENT)
    record = key_table.get(issue["key_hash"], consistent=True)
    assert record is not None
    assert (record.status, record.plan, record.expires_at) == ("active", "free", "2026-11-26T14:00:00.000000Z")
    item = key_table.table.get_item(Key={"key_hash": issue["key_hash"]})["Item"]
    assert item[KEY_TTL_ATTRIBUTE] == int((expires + timedelta(days=TOMBSTONE_DAYS)).timestamp())
    assert [api_key["name"] for api_key in apigateway.get_api_keys()["items"]] == ["key-old"]
    assert decide(key, key_table.get, now=expires - timedelta(seconds=1)).allowed
    refused = decide(key, key_table.get, now=expires)
    assert (refused.allowed, refused.reason) == (False, "expired")


def test_the_authorizer_refuses_a_key_past_its_expiry(issue: dict[str, str], key: str, lambda_context: Any) -> None:
    assert authorize(key, lambda_context) == "Allow"
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": "2026-11-25T15:00:00+00:00"}, EXPIRY_SENT)
    assert authorize(key, lambda_context) == "Deny"


def test_the_authorizer_allows_a_key_within_its_grace_period(
    issue: dict[str, str], key: str, lambda_context: Any
) -> None:
    sent = datetime.now(UTC)
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": (sent + timedelta(days=1)).isoformat()}, sent)
    assert authorize(key, lambda_context) == "Allow"


def test_an_expiry_only_moves_earlier_and_a_revocation_ends_it_at_once(
    issue: dict[str, str], lambda_context: Any, key_table: KeyTable, apigateway: Any
) -> None:
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": "2026-11-26T14:00:00Z"}, EXPIRY_SENT)
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": "2026-11-27T14:00:00Z"}, EXPIRY_SENT)
    record = key_table.get(issue["key_hash"], consistent=True)
    assert record is not None and record.expires_at == "2026-11-26T14:00:00.000000Z"
    deliver(lambda_context, "KeyRevoked", issue, EXPIRY_SENT + timedelta(minutes=5))
    record = key_table.get(issue["key_hash"], consistent=True)
    assert record is not None and record.status == "revoked"
    assert apigateway.get_api_keys()["items"] == []


def test_an_expiry_at_or_before_the_event_revokes_at_once(
    issue: dict[str, str], lambda_context: Any, key_table: KeyTable
) -> None:
    deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": EXPIRY_SENT.isoformat()}, EXPIRY_SENT)
    record = key_table.get(issue["key_hash"], consistent=True)
    assert record is not None and record.status == "revoked"


def test_an_expiry_overtaking_its_issue_is_kept(key: str, lambda_context: Any, key_table: KeyTable) -> None:
    reference = {"key_id": "key-old", "key_hash": hash_key(key)}
    deliver(lambda_context, "KeyRevoked", {**reference, "expires_at": "2026-11-26T14:00:00Z"}, EXPIRY_SENT)
    assert decide(key, key_table.get, now=EXPIRY_SENT).reason == "unissued"
    deliver(lambda_context, "KeyIssued", {**reference, "plan": "free"}, ISSUED)
    record = key_table.get(reference["key_hash"], consistent=True)
    assert record is not None
    assert (record.status, record.plan, record.expires_at) == ("active", "free", "2026-11-26T14:00:00.000000Z")


@pytest.mark.parametrize("expires_at", ["tomorrow", "2026-11-26T14:00:00"], ids=["not-iso", "no-zone"])
def test_an_expiry_must_be_a_zoned_iso_time(
    issue: dict[str, str], lambda_context: Any, key_table: KeyTable, expires_at: str
) -> None:
    with pytest.raises(key_sync.InvalidKeyEvent, match="KeyRevoked"):
        deliver(lambda_context, "KeyRevoked", {**issue, "expires_at": expires_at}, EXPIRY_SENT)
    record = key_table.get(issue["key_hash"], consistent=True)
    assert record is not None and (record.status, record.expires_at) == ("active", None)


def test_the_key_table_lets_dynamodb_delete_expired_records() -> None:
    stack = Stack(App(), "Keys")
    ApiKeyStore(stack, "Keys", control_plane_account_id="111111111111")
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table",
        {"TimeToLiveSpecification": {"AttributeName": KEY_TTL_ATTRIBUTE, "Enabled": True}},
    )
