"""MeteredApi's CORS for the marketplace's console: preflight without the authorizer, one origin, readable errors."""

from pathlib import Path
from typing import Any

import pytest

from api_direct.runtime.asgi_lambda import CORS_ORIGIN_ENV
from api_direct.runtime.gateway_responses import BY_GATEWAY_RESPONSE_TYPE
from tests.constructs.metered_stack import metered_api_template

ORIGIN = "https://market.example.com"


@pytest.fixture(scope="module")
def synthesized(bundle_cache_dir: Path) -> tuple[Any, dict[str, Any]]:
    return metered_api_template(bundle_cache_dir, cors_origin=ORIGIN)


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_preflight_on_every_resource_is_a_mock_without_authorizer_or_key(
    synthesized: tuple[Any, dict[str, Any]],
) -> None:
    _, template = synthesized
    methods = _of_type(template, "AWS::ApiGateway::Method")
    options = [m for m in methods if m["HttpMethod"] == "OPTIONS"]
    assert len(options) == 2  # on / and on /{proxy+}, beside their ANY
    for method in options:
        assert method["AuthorizationType"] == "NONE" and method.get("ApiKeyRequired") is False
        assert "AuthorizerId" not in method and "RequestValidatorId" not in method
        assert method["Integration"]["Type"] == "MOCK"
        [answer] = method["Integration"]["IntegrationResponses"]
        headers = {k.removeprefix("method.response.header."): v for k, v in answer["ResponseParameters"].items()}
        assert headers["Access-Control-Allow-Origin"] == f"'{ORIGIN}'"  # the one origin, never '*'
        assert headers["Vary"] == "'Origin'"
        allowed = headers["Access-Control-Allow-Headers"].strip("'").split(",")
        assert {"Content-Type", "X-Api-Key"} <= set(allowed)
        assert headers["Access-Control-Expose-Headers"] == "'RateLimit-Policy,RateLimit,Retry-After'"
        assert "POST" in headers["Access-Control-Allow-Methods"] and answer["StatusCode"] == "204"
    for method in methods:
        if method["HttpMethod"] == "ANY":  # the calls themselves still need the key and the authorizer
            assert method["AuthorizationType"] == "CUSTOM" and method["ApiKeyRequired"] is True


def test_every_gateway_response_lets_the_origin_read_it(synthesized: tuple[Any, dict[str, Any]]) -> None:
    _, template = synthesized
    responses = {r["ResponseType"]: r for r in _of_type(template, "AWS::ApiGateway::GatewayResponse")}
    assert set(responses) == {*BY_GATEWAY_RESPONSE_TYPE, "DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        parameters = response["ResponseParameters"]
        assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{ORIGIN}'"
        assert "Retry-After" in parameters["gatewayresponse.header.Access-Control-Expose-Headers"]
        assert parameters["gatewayresponse.header.Vary"] == "'Origin'"
    # The defaults only add headers: their status and body stay API Gateway's own.
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert "StatusCode" not in responses[default] and "ResponseTemplates" not in responses[default]
    assert responses["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"].startswith("context.")


def test_the_handler_is_told_the_origin(synthesized: tuple[Any, dict[str, Any]]) -> None:
    api, _ = synthesized
    assert api.handler_environment == {CORS_ORIGIN_ENV: ORIGIN}


def test_without_an_origin_no_browser_may_call(bundle_cache_dir: Path) -> None:
    api, template = metered_api_template(bundle_cache_dir)
    assert api.handler_environment == {}
    assert [m["HttpMethod"] for m in _of_type(template, "AWS::ApiGateway::Method")] == ["ANY", "ANY"]
    for response in _of_type(template, "AWS::ApiGateway::GatewayResponse"):
        assert not any("Access-Control" in name for name in response["ResponseParameters"])
