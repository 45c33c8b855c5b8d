"""The sandbox's API Gateway: the order of its checks and what each rejection sends, against moto in process.

The functions are stand-ins here (the sandbox end-to-end test runs the deployed
ones); what is under test is the gateway's part: when the authorizer is asked,
how its answer maps to a gateway response, that an allowed key must still be in
a usage plan of the stage, and the access-log line each request leaves.
"""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api_direct.local.lambda_runtime import DeployedFunction
from api_direct.local.rest_api import DeployedRestApi, LocalRestApi
from api_direct.runtime.access_log import parse_access_log_line
from api_direct.runtime.gateway_responses import INVALID_KEY, MISSING_KEY, SUSPENDED_KEY

REGION, ACCOUNT, STAGE, LOG_GROUP = "us-east-1", "123456789012", "v1", "access"
AUTHORIZER = DeployedFunction("authorizer", "arn:authorizer", "authorizer.handler", {})
APP = DeployedFunction("app", "arn:app", "apid_handler.handler", {})


class Functions:
    """Answers as the authorizer (by key) and the app would; records what each was sent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, function: DeployedFunction, event: dict[str, Any]) -> Any:
        self.events.append((function.name, event))
        if function is APP:
            return {"statusCode": 200, "body": '{"ok": true}'}
        key = event["headers"].get("x-api-key")
        if key == "raise":
            raise Exception("Unauthorized")
        allowed = key in ("in-plan", "not-in-plan")
        context = {"keyId": "k1", "plan": "pro"} if allowed else {"keyId": "", "plan": "", "message": SUSPENDED_KEY.message}
        return {"principalId": "k1" if allowed else "anonymous", "context": context,
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny", "Resource": ["*"]}]},
                **({"usageIdentifierKey": f"hash-of-the-key-{key}"} if allowed else {})}


@pytest.fixture
def gateway() -> Iterator[tuple[LocalRestApi, Functions, Any]]:
    with mock_aws():
        apigateway, logs = boto3.client("apigateway", region_name=REGION), boto3.client("logs", region_name=REGION)
        api = apigateway.create_rest_api(name="weather")["id"]
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        apigateway.put_method(restApiId=api, resourceId=root, httpMethod="ANY", authorizationType="NONE")
        apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="ANY", type="MOCK")
        apigateway.create_deployment(restApiId=api, stageName=STAGE)
        plan = apigateway.create_usage_plan(name="pro", apiStages=[{"apiId": api, "stage": STAGE}])["id"]
        key = apigateway.create_api_key(name="k1", value="hash-of-the-key-in-plan", enabled=True)["id"]
        apigateway.create_api_key(name="k2", value="hash-of-the-key-not-in-plan", enabled=True)
        apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
        logs.create_log_group(logGroupName=LOG_GROUP)
        functions = Functions()
        deployed = DeployedRestApi(api, STAGE, ACCOUNT, REGION, AUTHORIZER, APP, LOG_GROUP)
        yield LocalRestApi(deployed, functions, apigateway, logs), functions, logs  # type: ignore[arg-type]


def logged(logs: Any) -> list[Any]:
    return [parse_access_log_line(e["message"]) for e in logs.filter_log_events(logGroupName=LOG_GROUP)["events"]]


def test_without_the_header_the_authorizer_is_not_asked(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    response = api.request("GET", "/cities", {})
    assert (response.status, response.body) == (MISSING_KEY.status, MISSING_KEY.body()) and functions.events == []
    [entry] = logged(logs)
    assert (entry.status, entry.key_id, entry.integration_latency_ms) == (401, "", None)


def test_unauthorized_from_the_authorizer_is_the_401(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    assert api.request("GET", "/cities", {"x-api-key": "raise"}).status == 401
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_a_deny_shows_the_authorizers_message(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    response = api.request("GET", "/cities", {"x-api-key": "suspended"})
    assert (response.status, json.loads(response.body)) == (403, {"message": SUSPENDED_KEY.message})
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_an_allowed_key_outside_the_stages_usage_plans_is_refused(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    response = api.request("GET", "/cities", {"x-api-key": "not-in-plan"})
    assert (response.status, response.body) == (INVALID_KEY.status, INVALID_KEY.body())
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_an_allowed_key_in_a_plan_reaches_the_app_and_is_logged_as_its(
        gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    response = api.request("GET", "/current/paris", {"x-api-key": "in-plan"}, {"units": "metric"})
    assert (response.status, response.key_id, response.plan) == (200, "k1", "pro")
    (_, authorizer_event), (_, app_event) = functions.events
    assert authorizer_event["methodArn"].endswith(f"/{STAGE}/GET/current/paris")
    assert (app_event["resource"], app_event["pathParameters"]) == ("/{proxy+}", {"proxy": "current/paris"})
    assert app_event["requestContext"]["authorizer"]["keyId"] == "k1"
    assert app_event["queryStringParameters"] == {"units": "metric"}
    [entry] = logged(logs)
    assert (entry.status, entry.key_id, entry.plan, entry.resource_path) == (200, "k1", "pro", "/{proxy+}")
    assert entry.integration_latency_ms is not None
