"""The consumer's limits on every response: the authorizer's context, the adapter's headers, the 429s' Retry-After."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from api_direct.runtime import asgi_lambda, limit_headers, quota_usage
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.runtime.asgi_lambda import LambdaAsgiHandler, with_limit_headers
from api_direct.runtime.authorizer import handler
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE, render_headers
from api_direct.runtime.key_store import KeyTable
from api_direct.runtime.limit_headers import PLAN_LIMITS_ENV, PlanQuota, limits_context, next_month_start
from tests.runtime.emulated_aws import REGION
from tests.runtime.lambda_context import FakeLambdaContext
from tests.runtime.asgi_apps import answering, event

NOW = datetime(2026, 12, 5, 1, 0, 0, tzinfo=UTC)
PRO = PlanQuota(rate_limit=10, burst=20, monthly_quota=10_000)


@pytest.fixture(autouse=True)
def fresh_apigateway_client() -> Iterator[None]:
    """The cached client and plan ids belong to one test's emulated account (kept by reference: tests patch names)."""
    caches = (quota_usage.apigateway_client, quota_usage.usage_plan_of)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


class TestCalendar:
    @pytest.mark.parametrize(
        ("now", "reset"),
        [
            (NOW, datetime(2027, 1, 1, tzinfo=UTC)),
            (datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)),
            (datetime(2027, 2, 1, 0, 0, 0, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),
        ],
    )
    def test_a_month_quota_resets_at_midnight_utc_on_the_first(self, now: datetime, reset: datetime) -> None:
        assert next_month_start(now) == reset

    def test_a_time_in_another_zone_is_placed_in_its_utc_month(self) -> None:
        """Dec 31 20:00 in New York is already January 1 in UTC: the quota resets on February 1."""
        from zoneinfo import ZoneInfo

        evening = datetime(2026, 12, 31, 20, 0, tzinfo=ZoneInfo("America/New_York"))
        assert next_month_start(evening) == datetime(2027, 2, 1, tzinfo=UTC)


class TestContext:
    def test_policy_names_the_rate_and_the_month(self) -> None:
        context = limits_context(PRO, 9_500, NOW)
        assert context["rateLimitPolicy"] == '"rate";q=10;w=1, "monthly";q=10000;w=2678400'
        assert context["rateLimit"] == '"monthly";r=9500'
        assert context["quotaResetEpoch"] == str(int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()))
        assert context["quotaResetDate"] == "Fri, 01 Jan 2027 00:00:00 GMT"
        assert context["throttleRetryAfter"] == "1"

    def test_unknown_remaining_sends_no_rate_limit_rather_than_a_guess(self) -> None:
        context = limits_context(PRO, None, NOW)
        assert "rateLimit" not in context
        assert "quotaResetDate" in context

    def test_a_slow_rate_is_one_call_per_window_and_retries_after_it(self) -> None:
        slow = PlanQuota(rate_limit=0.2, burst=1)
        context = limits_context(slow, None, NOW)
        assert context == {"rateLimitPolicy": '"rate";q=1;w=5', "throttleRetryAfter": "5"}

    def test_the_adapter_reads_the_names_the_authorizer_writes(self) -> None:
        """The adapter ships alone in a bundle, so it keeps its own copy of the names."""
        assert (asgi_lambda.POLICY_CONTEXT, asgi_lambda.REMAINING_CONTEXT, asgi_lambda.RESET_EPOCH_CONTEXT) == (
            limit_headers.POLICY_CONTEXT,
            limit_headers.REMAINING_CONTEXT,
            limit_headers.RESET_EPOCH_CONTEXT,
        )


def stub_get_usage(response: dict[str, Any], expected: dict[str, Any]) -> Stubber:
    """A client finding the key's usage plan, then answering GetUsage with ``response``, the shape AWS documents.

    Stubbed rather than emulated: moto has no GetUsage (it answers 404).
    """
    client = boto3.client("apigateway", region_name=REGION)
    stubber = Stubber(client)
    other_stage = {"id": "plan-dev", "apiStages": [{"apiId": "abc123", "stage": "dev"}]}
    this_stage = {"id": "plan-pro", "apiStages": [{"apiId": "abc123", "stage": "v1"}]}
    stubber.add_response("get_usage_plans", {"items": [other_stage, this_stage]}, {"keyId": "uk-1"})
    stubber.add_response("get_usage", response, expected)
    stubber.activate()
    return stubber


class TestAuthorizer:
    def seed(self, table: KeyTable, plan: str) -> str:
        key = generate_key()
        table.table.put_item(
            Item={
                "key_hash": hash_key(key),
                "key_id": "key-1",
                "plan": plan,
                "status": "active",
                "usage_key_id": "uk-1",
                "updated_at": "2026-11-25T13:00:00.000000Z",
            }
        )
        return key

    def authorize(self, key: str, lambda_context: FakeLambdaContext) -> dict[str, Any]:
        return handler(
            {
                "type": "REQUEST",
                "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/",
                "headers": {"x-api-key": key},
                "requestContext": {},
            },
            lambda_context,
        )

    @pytest.fixture
    def plan_limits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            PLAN_LIMITS_ENV,
            json.dumps({"pro": PRO.__dict__, "free": {"rate_limit": 2, "burst": 5, "monthly_quota": None}}),
        )

    def test_the_context_carries_the_plan_limits_and_what_api_gateway_says_is_left(
        self,
        key_table: KeyTable,
        plan_limits: None,
        lambda_context: FakeLambdaContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        key = self.seed(key_table, "pro")
        today = datetime.now(UTC)
        stubber = stub_get_usage(
            {"usagePlanId": "plan-pro", "items": {"uk-1": [[300, 9_700], [200, 9_500]]}},
            {
                "usagePlanId": "plan-pro",
                "keyId": "uk-1",
                "startDate": today.replace(day=1).date().isoformat(),
                "endDate": today.date().isoformat(),
            },
        )
        monkeypatch.setattr(quota_usage, "apigateway_client", lambda: stubber.client)
        context = self.authorize(key, lambda_context)["context"]
        stubber.assert_no_pending_responses()
        assert context["rateLimit"] == '"monthly";r=9500'
        assert context["rateLimitPolicy"].startswith('"rate";q=10;w=1, "monthly";q=10000;w=')
        assert int(context["quotaResetEpoch"]) == int(next_month_start(today).timestamp())

    def test_a_key_unused_this_month_has_its_whole_quota_left(self) -> None:
        assert quota_usage.remaining_from_usage({"items": {}}, "uk-1", 10_000) == 10_000

    def test_when_api_gateway_cannot_say_the_call_still_passes_without_rate_limit(
        self, key_table: KeyTable, plan_limits: None, lambda_context: FakeLambdaContext
    ) -> None:
        """moto knows no usage plan holding the key here, as a key sync not yet applied would leave it."""
        response = self.authorize(self.seed(key_table, "pro"), lambda_context)
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert "rateLimit" not in response["context"]
        assert "rateLimitPolicy" in response["context"]

    def test_when_get_usage_fails_the_call_still_passes_without_rate_limit(
        self, key_table: KeyTable, plan_limits: None, lambda_context: FakeLambdaContext
    ) -> None:
        """The key is in this stage's usage plan, and GetUsage fails (moto answers it 404, as a missing grant would)."""
        apigateway = boto3.client("apigateway", region_name=REGION)
        plan_id = apigateway.create_usage_plan(name="pro", apiStages=[{"apiId": "abc123", "stage": "v1"}])["id"]
        usage_key_id = apigateway.create_api_key(name="key-1", enabled=True)["id"]
        apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=usage_key_id, keyType="API_KEY")
        key = self.seed(key_table, "pro")
        key_table.set_usage_key_id(hash_key(key), usage_key_id)
        assert quota_usage.usage_plan_of(usage_key_id, "pro", "abc123", "v1") == plan_id
        response = self.authorize(key, lambda_context)
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert "rateLimit" not in response["context"]
        assert response["context"]["quotaResetDate"].endswith(" 00:00:00 GMT")

    def test_a_plan_without_a_quota_costs_no_usage_read(
        self,
        key_table: KeyTable,
        plan_limits: None,
        lambda_context: FakeLambdaContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def no_client() -> Any:
            raise AssertionError("read usage for a plan without a quota")

        monkeypatch.setattr(quota_usage, "apigateway_client", no_client)
        context = self.authorize(self.seed(key_table, "free"), lambda_context)["context"]
        assert context["rateLimitPolicy"] == '"rate";q=2;w=1'
        assert "quotaResetDate" not in context

    def test_a_rejected_key_gets_no_limits(
        self, key_table: KeyTable, plan_limits: None, lambda_context: FakeLambdaContext
    ) -> None:
        response = self.authorize(generate_key(), lambda_context)
        assert not any(name in response["context"] for name in ("rateLimitPolicy", "quotaResetDate"))


def authorized_event(context: dict[str, str]) -> dict[str, Any]:
    sent = event("/items")
    return {**sent, "requestContext": {**sent["requestContext"], "authorizer": context}}


class TestAdapter:
    def respond(self, context: dict[str, str], headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        handler = LambdaAsgiHandler(answering(headers, b"{}"))
        try:
            return handler(authorized_event(context), None)
        finally:
            handler.close()

    def test_every_response_carries_the_policy_and_the_seconds_to_the_reset(self) -> None:
        context = limits_context(PRO, 9_500, NOW)
        result = with_limit_headers({"statusCode": 200, "headers": {}}, authorized_event(context), NOW.timestamp())
        assert result["headers"]["RateLimit-Policy"] == context["rateLimitPolicy"]
        assert result["headers"]["RateLimit"] == f'"monthly";r=9500;t={27 * 86400 - 3600}'

    def test_t_counts_from_when_the_response_leaves_not_from_the_cached_decision(self) -> None:
        context = limits_context(PRO, 9_500, NOW)
        later = NOW.timestamp() + 300
        result = with_limit_headers({"statusCode": 200, "headers": {}}, authorized_event(context), later)
        assert result["headers"]["RateLimit"].endswith(f";t={27 * 86400 - 3600 - 300}")

    def test_a_decision_cached_past_the_reset_sends_no_stale_count(self) -> None:
        context = limits_context(PRO, 12, NOW)
        after_reset = next_month_start(NOW).timestamp() + 1
        result = with_limit_headers({"statusCode": 200, "headers": {}}, authorized_event(context), after_reset)
        assert "RateLimit" not in result["headers"]
        assert result["headers"]["RateLimit-Policy"] == context["rateLimitPolicy"]

    def test_through_the_handler(self) -> None:
        result = self.respond(limits_context(PRO, 9_500, datetime.now(UTC)), [(b"content-type", b"application/json")])
        headers = {name.lower() for name in (*result.get("headers", {}), *result.get("multiValueHeaders", {}))}
        assert {"ratelimit-policy", "ratelimit"} <= headers

    def test_a_header_the_app_set_itself_is_kept(self) -> None:
        result = self.respond(
            limits_context(PRO, 9_500, datetime.now(UTC)),
            [(b"content-type", b"application/json"), (b"ratelimit-policy", b'"app";q=1;w=60')],
        )
        values = [
            value
            for part in ("headers", "multiValueHeaders")
            for name, value in (result.get(part) or {}).items()
            if name.lower() == "ratelimit-policy"
        ]
        assert all('"app";q=1;w=60' in str(value) for value in values) and values
        assert "RateLimit" in result["headers"]

    def test_no_authorizer_context_adds_nothing(self) -> None:
        result = self.respond({}, [(b"content-type", b"application/json")])
        assert not any(name.lower().startswith("ratelimit") for name in result.get("headers", {}))


class TestRetryAfter:
    def test_a_throttled_call_retries_after_the_rate_s_interval(self) -> None:
        throttled = BY_GATEWAY_RESPONSE_TYPE["THROTTLED"]
        headers = dict(render_headers(throttled.header_mappings(), limits_context(PlanQuota(0.5, 1), None, NOW)))
        assert headers["Retry-After"] == "2"

    def test_a_used_up_quota_retries_after_the_reset_as_an_http_date(self) -> None:
        exceeded = BY_GATEWAY_RESPONSE_TYPE["QUOTA_EXCEEDED"]
        assert exceeded.header_mappings()["Retry-After"] == "context.authorizer.quotaResetDate"
        headers = dict(render_headers(exceeded.header_mappings(), limits_context(PRO, 0, NOW)))
        assert headers["Retry-After"] == "Fri, 01 Jan 2027 00:00:00 GMT"

    def test_without_an_authorizer_context_there_is_no_retry_after(self) -> None:
        """Account- or stage-level throttling happens before the authorizer: nothing to map from."""
        throttled = BY_GATEWAY_RESPONSE_TYPE["THROTTLED"]
        assert dict(render_headers(throttled.header_mappings(), {})) == {"Content-Type": "application/json"}
