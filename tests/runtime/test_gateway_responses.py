import json

import pytest

from api_direct.runtime.gateway_responses import (
    BY_GATEWAY_RESPONSE_TYPE,
    DENIED,
    INVALID_KEY,
    MISSING_KEY,
    QUOTA_EXCEEDED,
    SUSPENDED_KEY,
    THROTTLED,
    AuthorizerDenial,
    GatewayRejection,
)

STATIC = sorted(
    {rejection for rejection in BY_GATEWAY_RESPONSE_TYPE.values() if isinstance(rejection, GatewayRejection)}
    | set(DENIED.rejections),
    key=str,
)


def test_statuses() -> None:
    assert (MISSING_KEY.status, INVALID_KEY.status, SUSPENDED_KEY.status) == (401, 403, 403)
    assert THROTTLED.status == QUOTA_EXCEEDED.status == 429


def test_body_is_a_json_message() -> None:
    assert json.loads(MISSING_KEY.body()) == {"message": "Missing API key: send it in the x-api-key header."}


def test_suspended_key_says_what_to_do_about_it() -> None:
    assert json.loads(SUSPENDED_KEY.body()) == {
        "message": "API key suspended: the payment for its subscription failed;"
        " update the payment method to restore it."
    }
    assert SUSPENDED_KEY.message != INVALID_KEY.message


def test_every_gateway_response_type_the_authorizer_and_usage_plans_cause_is_mapped() -> None:
    assert BY_GATEWAY_RESPONSE_TYPE["UNAUTHORIZED"] is MISSING_KEY
    assert BY_GATEWAY_RESPONSE_TYPE["ACCESS_DENIED"] is DENIED
    assert BY_GATEWAY_RESPONSE_TYPE["INVALID_API_KEY"] is INVALID_KEY
    assert BY_GATEWAY_RESPONSE_TYPE["THROTTLED"] is THROTTLED
    assert BY_GATEWAY_RESPONSE_TYPE["QUOTA_EXCEEDED"] is QUOTA_EXCEEDED


def test_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        BY_GATEWAY_RESPONSE_TYPE["DEFAULT_4XX"] = MISSING_KEY  # type: ignore[index]


@pytest.mark.parametrize("rejection", STATIC, ids=lambda rejection: rejection.message[:20])
def test_bodies_survive_api_gateway_templates(rejection: GatewayRejection) -> None:
    """Gateway-response bodies are templates: a `$` would be substituted (and `#` is VTL's)."""
    assert "$" not in rejection.body()
    assert "#" not in rejection.body()


def test_access_denied_substitutes_the_authorizers_message_and_nothing_else() -> None:
    """Templates only substitute variables: the authorizer's context must carry the message itself."""
    assert DENIED.status == 403
    assert DENIED.body() == '{"message": "$context.authorizer.message"}'
    assert DENIED.body().count("$") == 1 and "#" not in DENIED.body()


@pytest.mark.parametrize("rejection", DENIED.rejections, ids=lambda rejection: rejection.message[:20])
def test_a_deny_message_inserted_verbatim_gives_the_same_body_as_apid_dev(rejection: GatewayRejection) -> None:
    gateway_body = DENIED.body().replace("$context.authorizer.message", rejection.message)
    assert gateway_body == rejection.body()
    assert DENIED.status == rejection.status


@pytest.mark.parametrize(
    ("rejection", "problem"),
    [
        (GatewayRejection(402, "Pay up."), "cannot be a 403 Deny"),
        (GatewayRejection(403, 'Say "no".'), "escaping"),
        (GatewayRejection(403, "Key suspendu \u2014 payez."), "escaping"),
        (GatewayRejection(403, "Costs $5."), r"has a \$"),
    ],
)
def test_a_deny_the_gateway_could_not_render_identically_is_refused(rejection: GatewayRejection, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        AuthorizerDenial(403, (INVALID_KEY, rejection))
