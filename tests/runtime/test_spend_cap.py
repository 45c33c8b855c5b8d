"""Caps in the creator's account: KeyCapped holds a subscription's keys to 402 (429 for a quota) until it lifts.

API Gateway's authorizer can only allow or deny, so a capped key is allowed with
the reason in its context, unattributed (no key id, no plan: nobody is billed), and
the app's adapter answers the 402 without running the app. Each reason (a hard
spend cap, used-up prepaid credit, a used-up weighted quota) is a cap of its own.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from api_direct.runtime import asgi_lambda, gateway_responses
from api_direct.runtime.api_keys import generate_key, hash_key, usage_id_of
from api_direct.runtime.asgi_lambda import LambdaAsgiHandler
from api_direct.runtime.authorizer import handler as authorize
from api_direct.runtime.key_check import decide
from api_direct.runtime.key_store import KeyTable
from api_direct.runtime.key_sync import InvalidKeyEvent
from tests.runtime.asgi_apps import answering, event
from tests.runtime.authorizer_events import request_event

ISSUED, CAPPED, UNCAPPED = "2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z", "2026-11-25T15:00:00Z"
MONTH_END = "2026-12-01T00:00:00+00:00"
DURING, AFTER = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)


@pytest.fixture
def key(sync: Any) -> str:
    """A key issued on ``free``; its plaintext, as only the consumer holds it."""
    plaintext = generate_key()
    sync("KeyIssued", {**reference(plaintext), "plan": "free", "usage_id": usage_id_of("c", "api")}, ISSUED)
    return plaintext


def reference(plaintext: str) -> dict[str, str]:
    return {"key_id": "key-1", "key_hash": hash_key(plaintext)}


def test_a_capped_key_is_let_through_only_to_be_answered_402(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    decision = decide(key, key_table.get, DURING)
    assert decision.allowed and decision.reason == "capped"
    assert decision.payment_required is not None and "2026-12-01 00:00 UTC" in decision.payment_required
    assert decision.usage_identifier_key == usage_id_of("c", "api")


def test_the_cap_lets_go_when_its_month_ends(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    decision = decide(key, key_table.get, AFTER)
    assert (decision.reason, decision.payment_required) == ("active", None)


def test_raising_the_cap_lets_go_and_a_late_cap_does_not_come_back(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    sync("KeyUncapped", reference(key), UNCAPPED)
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    assert decide(key, key_table.get, DURING).payment_required is None


def test_an_uncap_overtaken_by_its_cap_still_wins(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyUncapped", reference(key), UNCAPPED)
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    assert decide(key, key_table.get, DURING).payment_required is None


def test_a_cap_before_its_key_is_issued_holds_once_it_is(sync: Any, key_table: KeyTable) -> None:
    plaintext = generate_key()
    sync("KeyCapped", {**reference(plaintext), "capped_until": MONTH_END}, CAPPED)
    assert decide(plaintext, key_table.get, DURING).reason == "unissued"
    sync("KeyIssued", {**reference(plaintext), "plan": "free"}, ISSUED)
    assert decide(plaintext, key_table.get, DURING).reason == "capped"


def test_a_revoked_key_stays_revoked(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyRevoked", reference(key), CAPPED)
    sync("KeyUncapped", reference(key), UNCAPPED)
    record = key_table.get(hash_key(key))
    assert record is not None and record.status == "revoked"


@pytest.mark.parametrize("until", [None, "", "next month", "2026-12-01T00:00:00"], ids=str)
def test_a_cap_without_a_zoned_end_is_refused(sync: Any, key_table: KeyTable, key: str, until: Any) -> None:
    detail = {**reference(key), **({"capped_until": until} if until is not None else {})}
    with pytest.raises(InvalidKeyEvent):
        sync("KeyCapped", detail, CAPPED)
    record = key_table.get(hash_key(key))
    assert record is not None and record.capped_until is None


def test_the_authorizer_attributes_a_capped_call_to_no_one(
    sync: Any, key_table: KeyTable, key: str, lambda_context: Any
) -> None:
    sync("KeyCapped", {**reference(key), "capped_until": "2999-12-01T00:00:00+00:00"}, CAPPED)
    response = authorize(request_event({"x-api-key": key}), lambda_context)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    context = response["context"]
    assert (context["keyId"], context["plan"]) == ("", ""), "the access log bills nobody for a 402"
    assert "spend cap" in context[gateway_responses.PAYMENT_REQUIRED_CONTEXT]


def test_the_adapter_answers_402_without_running_the_app() -> None:
    seen: list[dict[str, Any]] = []
    app = LambdaAsgiHandler(answering([(b"content-type", b"text/plain")], b"served", seen))
    capped = event("/items")
    capped["requestContext"]["authorizer"] = {"keyId": "", asgi_lambda.PAYMENT_REQUIRED_CONTEXT: "cap reached"}
    response = app(capped, None)  # type: ignore[arg-type]
    assert (response["statusCode"], response["headers"]["content-type"]) == (402, "application/problem+json")
    assert json.loads(response["body"]) == {
        "type": "about:blank",
        "title": "Payment Required",
        "status": 402,
        "detail": "cap reached",
    }
    assert seen == [], "the creator's code never serves a call nobody pays for"
    assert app(event("/items"), None)["statusCode"] == 200  # type: ignore[arg-type]


def test_the_adapter_reads_the_name_the_authorizer_writes() -> None:
    """The adapter ships alone in a bundle, so it keeps its own copy of the name."""
    assert asgi_lambda.PAYMENT_REQUIRED_CONTEXT == gateway_responses.PAYMENT_REQUIRED_CONTEXT


# Reasons: credit (402 until credit is bought) and quota (429 until the month ends), each a cap of its own.

BUY_URL = "https://market.example/apis/weather"


def test_a_credit_cap_holds_until_credit_is_bought_and_names_where(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyCapped", {**reference(key), "reason": "credit", "api": "weather", "buy_url": BUY_URL}, CAPPED)
    decision = decide(key, key_table.get, datetime(2999, 1, 1, tzinfo=UTC))
    assert (decision.reason, decision.cap_reason, decision.cap_status) == ("capped", "credit", 402)
    assert decision.payment_required == (
        f"The prepaid credit for weather is used up: calls are refused until you buy more at {BUY_URL}."
    )
    sync("KeyUncapped", {**reference(key), "reason": "credit"}, UNCAPPED)
    assert decide(key, key_table.get, DURING).payment_required is None


def test_a_credit_cap_without_a_url_says_where_to_look(sync: Any, key_table: KeyTable, key: str) -> None:
    sync("KeyCapped", {**reference(key), "reason": "credit"}, CAPPED)
    message = decide(key, key_table.get, DURING).payment_required
    assert message is not None and "prepaid credit is used up" in message and "marketplace" in message


def test_a_quota_cap_is_a_429_with_retry_after_its_end(
    sync: Any, key_table: KeyTable, key: str, lambda_context: Any
) -> None:
    sync("KeyCapped", {**reference(key), "reason": "quota", "capped_until": "2999-12-01T00:00:00+00:00"}, CAPPED)
    context = authorize(request_event({"x-api-key": key}), lambda_context)["context"]
    assert context[gateway_responses.CAP_STATUS_CONTEXT] == "429"
    assert context[gateway_responses.CAP_RETRY_AFTER_CONTEXT] == "Sun, 01 Dec 2999 00:00:00 GMT"
    assert "monthly quota" in context[gateway_responses.PAYMENT_REQUIRED_CONTEXT]
    assert decide(key, key_table.get, datetime(3000, 1, 1, tzinfo=UTC)).payment_required is None


def test_lifting_one_reason_leaves_the_others(sync: Any, key_table: KeyTable, key: str) -> None:
    """Credit bought does not lift a spend cap, nor a late spend uncap a credit cap."""
    sync("KeyCapped", {**reference(key), "capped_until": MONTH_END}, CAPPED)
    sync("KeyCapped", {**reference(key), "reason": "credit"}, CAPPED)
    sync("KeyUncapped", {**reference(key), "reason": "credit"}, UNCAPPED)
    assert decide(key, key_table.get, DURING).cap_reason == "spend"
    sync("KeyCapped", {**reference(key), "reason": "credit"}, "2026-11-25T16:00:00Z")
    sync("KeyUncapped", reference(key), "2026-11-25T17:00:00Z")
    assert decide(key, key_table.get, DURING).cap_reason == "credit"


@pytest.mark.parametrize(
    "detail",
    [{"reason": "fun", "capped_until": MONTH_END}, {"reason": "quota"}, {"reason": "credit", "buy_url": "ftp://x"}],
    ids=["unknown reason", "quota without an end", "buy url not http"],
)
def test_a_bad_cap_reason_or_field_is_refused(sync: Any, key_table: KeyTable, key: str, detail: Any) -> None:
    with pytest.raises(InvalidKeyEvent):
        sync("KeyCapped", {**reference(key), **detail}, CAPPED)
    assert decide(key, key_table.get, DURING).payment_required is None


def test_the_adapter_answers_a_quota_cap_429_with_retry_after() -> None:
    app = LambdaAsgiHandler(answering([(b"content-type", b"text/plain")], b"served", []))
    capped = event("/items")
    capped["requestContext"]["authorizer"] = {
        asgi_lambda.PAYMENT_REQUIRED_CONTEXT: "quota used up",
        asgi_lambda.CAP_STATUS_CONTEXT: "429",
        asgi_lambda.CAP_RETRY_AFTER_CONTEXT: "Sun, 01 Dec 2999 00:00:00 GMT",
    }
    response = app(capped, None)  # type: ignore[arg-type]
    assert (response["statusCode"], response["headers"]["Retry-After"]) == (429, "Sun, 01 Dec 2999 00:00:00 GMT")
    assert json.loads(response["body"])["title"] == "Too Many Requests"


def test_the_adapter_reads_the_cap_names_the_authorizer_writes() -> None:
    assert (asgi_lambda.CAP_STATUS_CONTEXT, asgi_lambda.CAP_RETRY_AFTER_CONTEXT) == (
        gateway_responses.CAP_STATUS_CONTEXT,
        gateway_responses.CAP_RETRY_AFTER_CONTEXT,
    )
