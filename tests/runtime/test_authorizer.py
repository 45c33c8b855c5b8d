import json
from collections.abc import Callable
from io import StringIO
from typing import Any, Literal

import boto3
import pytest
from aws_lambda_powertools import Logger

from api_direct.runtime import authorizer
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.authorizer import decide, handler
from api_direct.runtime.gateway_responses import (
    BY_GATEWAY_RESPONSE_TYPE,
    INVALID_KEY,
    MISSING_KEY,
    SUSPENDED_KEY,
    GatewayRejection,
    render_template,
)
from api_direct.runtime.key_store import KeyRecord, KeyStatus, KeyTable, key_table_from_env
from tests.runtime.authorizer_events import STAGE_WILDCARD, request_event


def seed(table: KeyTable, status: KeyStatus, plan: str = "pro") -> str:
    """Store a key in ``status``; returns its plaintext, as only the consumer would hold it."""
    key = generate_key()
    table.table.put_item(
        Item={
            "key_hash": hash_key(key),
            "key_id": f"key-{status}",
            "plan": plan,
            "status": status,
            "usage_key_id": "uk-1",
            "updated_at": "2026-11-25T13:00:00.000000Z",
        }
    )
    return key


def record(status: KeyStatus, plan: str = "pro") -> KeyRecord:
    return KeyRecord("h", f"key-{status}", plan, status, "2026-11-25T13:00:00.000000Z")


def gateway_sends(response: dict[str, Any]) -> tuple[int, str]:
    """Status and body API Gateway answers a Deny with: ACCESS_DENIED, filled from the context.

    Gateway-response templates only substitute variables, so a plain replace is the
    whole rendering.
    """
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    denied = BY_GATEWAY_RESPONSE_TYPE["ACCESS_DENIED"]
    return denied.status, render_template(denied.body(), response["context"])


class TestDecide:
    """The decision alone, as ``apid dev`` uses it: no AWS involved."""

    def test_active_key_is_allowed_with_its_plan_and_hash(self) -> None:
        key = generate_key()
        decision = decide(key, {hash_key(key): record("active")}.get)
        assert decision.allowed
        assert (decision.key_id, decision.plan) == ("key-active", "pro")
        assert decision.usage_identifier_key == hash_key(key)

    @pytest.mark.parametrize("api_key", [None, ""])
    def test_missing_key_is_a_401(self, api_key: str | None) -> None:
        assert decide(api_key, {}.get).rejection is MISSING_KEY

    def test_malformed_key_is_refused_without_a_lookup(self) -> None:
        def lookup(key_hash: str) -> KeyRecord | None:
            raise AssertionError("looked up a malformed key")

        assert decide("apid_short", lookup).rejection is INVALID_KEY

    def test_unknown_key_is_a_403(self) -> None:
        assert decide(generate_key(), {}.get).rejection is INVALID_KEY

    @pytest.mark.parametrize(("status", "rejection"), [("revoked", INVALID_KEY), ("suspended", SUSPENDED_KEY)])
    def test_inactive_key_is_a_403(self, status: KeyStatus, rejection: GatewayRejection) -> None:
        key = generate_key()
        decision = decide(key, {hash_key(key): record(status)}.get)
        assert decision.rejection is rejection
        assert decision.rejection.status == 403
        assert (decision.reason, decision.key_id) == (status, f"key-{status}")
        assert decision.usage_identifier_key is None

    def test_suspended_key_without_a_plan_yet_is_still_suspended(self) -> None:
        """A KeySuspended applied before its KeyIssued: the control plane did suspend it."""
        key = generate_key()
        assert decide(key, {hash_key(key): record("suspended", plan="")}.get).rejection is SUSPENDED_KEY

    def test_active_key_without_a_plan_is_not_issued_yet(self) -> None:
        """A KeyRestored applied before its KeyIssued: nothing to allow it onto."""
        key = generate_key()
        decision = decide(key, {hash_key(key): record("active", plan="")}.get)
        assert (decision.rejection, decision.reason) == (INVALID_KEY, "unissued")
        assert decision.usage_identifier_key is None


class TestHandler:
    def test_active_key_gets_a_stage_wide_allow_with_plan_and_usage_key(
        self, key_table: KeyTable, lambda_context: Any
    ) -> None:
        key = seed(key_table, "active", plan="pro")
        response = handler(request_event({"x-api-key": key}), lambda_context)
        assert response == {
            "principalId": "key-active",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow",
                        "Resource": [STAGE_WILDCARD],
                    }
                ],
            },
            "context": {"keyId": "key-active", "plan": "pro", "decision": lambda_context.aws_request_id},
            "usageIdentifierKey": hash_key(key),
        }

    @pytest.mark.parametrize("header", ["x-api-key", "X-API-Key", "X-Api-Key", "X-API-KEY"])
    def test_header_name_is_case_insensitive(self, key_table: KeyTable, lambda_context: Any, header: str) -> None:
        key = seed(key_table, "active")
        response = handler(request_event({"Accept": "*/*", header: key}), lambda_context)
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"

    @pytest.mark.parametrize("case", ["unknown", "revoked", "suspended", "malformed"])
    def test_rejected_keys_get_an_anonymous_deny_with_only_the_message(
        self, key_table: KeyTable, lambda_context: Any, case: str
    ) -> None:
        key = {
            "unknown": generate_key(),
            "revoked": seed(key_table, "revoked"),
            "suspended": seed(key_table, "suspended"),
            "malformed": "apid_" + "x" * 10,
        }[case]
        response = handler(request_event({"X-Api-Key": key}), lambda_context)
        assert response == {
            "principalId": "anonymous",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Deny",
                        "Resource": [STAGE_WILDCARD],
                    }
                ],
            },
            "context": {
                "keyId": "",
                "plan": "",
                "message": (SUSPENDED_KEY if case == "suspended" else INVALID_KEY).message,
                "decision": lambda_context.aws_request_id,
            },
        }

    @pytest.mark.parametrize("status", ["revoked", "suspended", "unissued", "unknown", "malformed"])
    def test_the_gateway_sends_what_apid_dev_sends(self, key_table: KeyTable, lambda_context: Any, status: str) -> None:
        """``apid dev`` answers with decide()'s rejection; the deployed API with ACCESS_DENIED."""
        if status in ("revoked", "suspended"):
            key = seed(key_table, status)  # type: ignore[arg-type]
        elif status == "unissued":
            key = seed(key_table, "active", plan="")
        else:
            key = generate_key() if status == "unknown" else "apid_" + "x" * 10
        expected = decide(key, key_table.get).rejection
        assert expected is not None
        sent = gateway_sends(handler(request_event({"x-api-key": key}), lambda_context))
        assert sent == (expected.status, expected.body())

    @pytest.mark.parametrize("headers", [None, {}, {"Authorization": "Bearer x"}, {"x-api-key": ""}])
    def test_missing_key_raises_unauthorized(
        self, key_table: KeyTable, lambda_context: Any, headers: dict[str, str] | None
    ) -> None:
        with pytest.raises(Exception) as raised:
            handler(request_event(headers), lambda_context)
        assert str(raised.value) == "Unauthorized"

    def test_policy_keeps_the_partition_of_the_method_arn(self, key_table: KeyTable, lambda_context: Any) -> None:
        key = seed(key_table, "active")
        arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/POST/orders"
        response = handler(request_event({"x-api-key": key}, arn), lambda_context)
        assert response["policyDocument"]["Statement"][0]["Resource"] == [
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/v1/*/*"
        ]


@pytest.mark.parametrize("status", ["active", "revoked", "suspended", "unknown"])
def test_plaintext_key_never_appears_in_logs_or_response(
    key_table: KeyTable,
    lambda_context: Any,
    capture_logs: Callable[[Logger], StringIO],
    status: KeyStatus | Literal["unknown"],
) -> None:
    key = generate_key() if status == "unknown" else seed(key_table, status)
    logs = capture_logs(authorizer.logger)
    response = handler(request_event({"x-api-key": key}), lambda_context)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [line["reason"] for line in lines] == [status]
    assert key not in logs.getvalue()
    assert hash_key(key) not in logs.getvalue()
    assert key not in json.dumps(response)


def test_a_live_key_of_another_api_is_refused_like_an_unknown_one(
    key_table: KeyTable, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each API's authorizer reads its own stack's key table: a consumer's key for another API (its own MCP endpoint
    included) is no key here."""
    other = KeyTable(
        boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="apid-other-api-keys",
            KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    )
    key = seed(other, "active", plan="pro")
    monkeypatch.setenv("KEY_TABLE_NAME", "apid-other-api-keys")
    key_table_from_env.cache_clear()
    assert handler(request_event({"x-api-key": key}), lambda_context)["policyDocument"]["Statement"][0]["Effect"] == (
        "Allow"
    )
    monkeypatch.setenv("KEY_TABLE_NAME", key_table.table.name)
    key_table_from_env.cache_clear()
    response = handler(request_event({"x-api-key": key}), lambda_context)
    assert gateway_sends(response) == (INVALID_KEY.status, INVALID_KEY.body())
