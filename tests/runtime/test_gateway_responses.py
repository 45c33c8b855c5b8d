import json

import pytest

from api_direct.runtime.gateway_responses import (
    BY_GATEWAY_RESPONSE_TYPE,
    INVALID_KEY,
    MISSING_KEY,
    QUOTA_EXCEEDED,
    THROTTLED,
    GatewayRejection,
)


def test_statuses() -> None:
    assert (MISSING_KEY.status, INVALID_KEY.status) == (401, 403)
    assert THROTTLED.status == QUOTA_EXCEEDED.status == 429


def test_body_is_a_json_message() -> None:
    assert json.loads(MISSING_KEY.body()) == {
        "message": "Missing API key: send it in the x-api-key header."
    }


def test_every_gateway_response_type_the_authorizer_and_usage_plans_cause_is_mapped() -> None:
    assert BY_GATEWAY_RESPONSE_TYPE["UNAUTHORIZED"] is MISSING_KEY
    assert BY_GATEWAY_RESPONSE_TYPE["ACCESS_DENIED"] is INVALID_KEY
    assert BY_GATEWAY_RESPONSE_TYPE["INVALID_API_KEY"] is INVALID_KEY
    assert BY_GATEWAY_RESPONSE_TYPE["THROTTLED"] is THROTTLED
    assert BY_GATEWAY_RESPONSE_TYPE["QUOTA_EXCEEDED"] is QUOTA_EXCEEDED


def test_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        BY_GATEWAY_RESPONSE_TYPE["DEFAULT_4XX"] = MISSING_KEY  # type: ignore[index]


@pytest.mark.parametrize("rejection", sorted(set(BY_GATEWAY_RESPONSE_TYPE.values()), key=str))
def test_bodies_survive_api_gateway_templates(rejection: GatewayRejection) -> None:
    """Gateway-response bodies are Velocity templates: `$` and `#` would be interpreted."""
    assert "$" not in rejection.body()
    assert "#" not in rejection.body()
