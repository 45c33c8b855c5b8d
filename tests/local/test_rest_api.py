"""The sandbox's API Gateway: the order of its checks and what each rejection sends, against moto in process.

The functions are stand-ins here (the sandbox end-to-end test runs the deployed
ones); what is under test is the gateway's part: when the authorizer is asked,
how its answer maps to a gateway response, that an allowed key must still be in
a usage plan of the stage, that the app's event and response follow RestProxy's
rules, and the access-log line each request leaves. Last, the kept sandbox's HTTP
front door, which passes requests and responses through as sent.
"""

import base64
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api_direct.local.lambda_runtime import DeployedFunction
from api_direct.local.rest_api import DeployedRestApi, GatewayRules, LocalRestApi, Response
from api_direct.runtime.route_weights import RouteWeights, WeightedRoute
from api_direct.local.rest_proxy import MAX_REQUEST_BYTES, HttpRequest, HttpResponse
from api_direct.local.sandbox import _Gateway
from api_direct.runtime.access_log import AUTHORIZER_DECISION, parse_access_log_line
from api_direct.runtime.gateway_responses import INVALID_KEY, MISSING_KEY, QUOTA_EXCEEDED, SUSPENDED_KEY
from api_direct.runtime.limit_headers import RESET_DATE_CONTEXT
from tests.constructs.metered_stack import metered_api_template

REGION, ACCOUNT, STAGE, LOG_GROUP = "us-east-1", "123456789012", "v1", "access"
AUTHORIZER = DeployedFunction("authorizer", "arn:authorizer", "authorizer.handler", {})
APP = DeployedFunction("app", "arn:app", "apid_handler.handler", {})
QUOTA_KEY, QUOTA_RESET = "on-a-quota", "Fri, 01 Jan 2027 00:00:00 GMT"


class Functions:
    """Answers as the authorizer (by key) and the app would; records what each was sent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        #: What the app returns; by default a JSON 200.
        self.result: Any = {"statusCode": 200, "body": '{"ok": true}'}

    def invoke(self, function: DeployedFunction, event: dict[str, Any]) -> Any:
        self.events.append((function.name, event))
        if function.name in ("app", "mcp"):
            if isinstance(self.result, Exception):
                raise self.result
            return self.result
        key = event["headers"].get("x-api-key")
        if key == "raise":
            raise Exception("Unauthorized")
        allowed = key in ("in-plan", "not-in-plan", QUOTA_KEY)
        context = (
            {"keyId": "k1", "plan": "pro"} if allowed else {"keyId": "", "plan": "", "message": SUSPENDED_KEY.message}
        )
        context[AUTHORIZER_DECISION] = f"invocation-{len(self.events)}"
        if key == QUOTA_KEY:
            context[RESET_DATE_CONTEXT] = QUOTA_RESET
        return {
            "principalId": "k1" if allowed else "anonymous",
            "context": context,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny", "Resource": ["*"]}
                ],
            },
            **({"usageIdentifierKey": f"hash-of-the-key-{key}"} if allowed else {}),
        }


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


def get(
    path: str,
    key: str | None = None,
    query: str = "",
    method: str = "GET",
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (),
) -> HttpRequest:
    return HttpRequest(method, path, ((("x-api-key", key),) if key is not None else ()) + headers, query, body)


def logged(logs: Any) -> list[Any]:
    return [parse_access_log_line(e["message"]) for e in logs.filter_log_events(logGroupName=LOG_GROUP)["events"]]


def test_without_the_header_the_authorizer_is_not_asked(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    response = api.request(get("/cities"))
    assert (response.status, response.text) == (MISSING_KEY.status, MISSING_KEY.body()) and functions.events == []
    assert response.header("content-type") == "application/json"
    [entry] = logged(logs)
    assert (entry.status, entry.key_id, entry.integration_latency_ms) == (401, "", None)
    assert (entry.authorizer_decision, entry.response_length) == ("", len(MISSING_KEY.body()))


def test_unauthorized_from_the_authorizer_is_the_401(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    assert api.request(get("/cities", "raise")).status == 401
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_a_deny_shows_the_authorizers_message(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    response = api.request(get("/cities", "suspended"))
    assert (response.status, json.loads(response.body)) == (403, {"message": SUSPENDED_KEY.message})
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_an_allowed_key_outside_the_stages_usage_plans_is_refused(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    response = api.request(get("/cities", "not-in-plan"))
    assert (response.status, response.text) == (INVALID_KEY.status, INVALID_KEY.body())
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_an_allowed_key_in_a_plan_reaches_the_app_and_is_logged_as_its(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, functions, logs = gateway
    response = api.request(get("/current/paris", "in-plan", "units=metric&units=si"))
    assert (response.status, response.key_id, response.plan, response.body) == (200, "k1", "pro", b'{"ok": true}')
    (_, authorizer_event), (_, app_event) = functions.events
    assert authorizer_event["methodArn"].endswith(f"/{STAGE}/GET/current/paris")
    assert authorizer_event["requestContext"]["requestId"] == app_event["requestContext"]["requestId"]
    assert (app_event["resource"], app_event["pathParameters"]) == ("/{proxy+}", {"proxy": "current/paris"})
    assert app_event["requestContext"]["authorizer"] == {
        "keyId": "k1",
        "plan": "pro",
        "decision": "invocation-1",
        "principalId": "k1",
    }
    assert app_event["queryStringParameters"] == {"units": "si"}
    assert app_event["multiValueQueryStringParameters"] == {"units": ["metric", "si"]}
    [entry] = logged(logs)
    assert (entry.status, entry.key_id, entry.plan, entry.resource_path) == (200, "k1", "pro", "/{proxy+}")
    assert entry.integration_latency_ms is not None


def test_the_log_names_the_decision_the_authorizer_cache_would_have_answered_with(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    """Within the TTL a key's calls log the decision of the call that invoked the authorizer, its latency only
    there; the authorizer is still asked each time, so a key's change shows at once."""
    api, functions, logs = gateway
    now = [time.time() - 600]
    cached = LocalRestApi(
        replace(api.api, rules=GatewayRules(authorizer_ttl_seconds=300)),
        functions,  # type: ignore[arg-type]
        api._apigateway,
        api._logs,
        clock=lambda: now[0],
    )
    for key, later in (("in-plan", 0), ("in-plan", 299), ("wrong", 0), ("wrong", 0), ("in-plan", 1)):
        now[0] += later
        cached.request(get("/cities", key))
    entries = logged(logs)
    assert [entry.authorizer_decision for entry in entries] == [
        "invocation-1",
        "invocation-1",
        "invocation-5",
        "invocation-5",
        "invocation-7",
    ]
    assert [entry.authorizer_latency_ms is not None for entry in entries] == [True, False, True, False, True]
    assert [entry.response_length for entry in entries] == [len(b'{"ok": true}')] * 2 + [
        len(json.dumps({"message": SUSPENDED_KEY.message}))
    ] * 2 + [len(b'{"ok": true}')]
    assert [name for name, _ in functions.events].count("authorizer") == 5


def test_a_used_up_monthly_quota_is_the_429_with_retry_after_at_the_reset(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, functions, logs = gateway
    apigateway = boto3.client("apigateway", region_name=REGION)
    plan = apigateway.create_usage_plan(
        name="metered",
        apiStages=[{"apiId": api.api.rest_api_id, "stage": STAGE}],
        quota={"limit": 2, "period": "MONTH"},
    )["id"]
    key = apigateway.create_api_key(name="k3", value=f"hash-of-the-key-{QUOTA_KEY}", enabled=True)["id"]
    apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    statuses = [api.request(get("/cities", QUOTA_KEY)).status for _ in range(2)]
    refused = api.request(get("/cities", QUOTA_KEY))
    assert statuses == [200, 200]
    assert (refused.status, refused.text) == (429, QUOTA_EXCEEDED.body())
    assert refused.header("retry-after") == QUOTA_RESET
    assert [name for name, _ in functions.events].count("app") == 2
    assert [entry.status for entry in logged(logs)] == [200, 200, 429]


def test_an_empty_key_header_is_a_missing_one(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    assert api.request(get("/cities", "")).status == MISSING_KEY.status and functions.events == []


def test_a_request_over_the_payload_limit_is_refused_before_anything_runs(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, functions, logs = gateway
    response = api.request(get("/upload", "in-plan", method="POST", body=b"x" * (MAX_REQUEST_BYTES + 1)))
    assert response.status == 413 and functions.events == []
    assert [entry.status for entry in logged(logs)] == [413]


def test_bodies_travel_as_the_stages_binary_media_types_say(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    """The stage's types come from the deployed API: here only image/png, so a JSON body is text and a PNG base64."""
    api, functions, _ = gateway
    narrow = LocalRestApi(
        DeployedRestApi(
            api.api.rest_api_id, STAGE, ACCOUNT, REGION, AUTHORIZER, APP, LOG_GROUP, GatewayRules(("image/png",))
        ),
        functions,
        api._apigateway,
        api._logs,
    )  # type: ignore[arg-type]
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    functions.result = {
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "isBase64Encoded": True,
        "body": base64.b64encode(png).decode(),
    }
    as_png = narrow.request(get("/chart", "in-plan", headers=(("accept", "image/png"),)))
    as_text = narrow.request(get("/chart", "in-plan", headers=(("accept", "application/json"),)))
    assert (as_png.status, as_png.body, as_png.header("content-type")) == (200, png, "image/png")
    assert as_text.body == base64.b64encode(png)
    narrow.request(
        get("/summary", "in-plan", method="POST", body=b'{"a": 1}', headers=(("content-type", "application/json"),))
    )
    narrow.request(get("/upload", "in-plan", method="POST", body=png, headers=(("content-type", "image/png"),)))
    [text_event, binary_event] = [event for name, event in functions.events if name == "app"][2:]
    assert (text_event["body"], text_event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert (base64.b64decode(binary_event["body"]), binary_event["isBase64Encoded"]) == (png, True)


def test_repeated_headers_reach_the_app_and_the_client(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, _ = gateway
    functions.result = {"statusCode": 201, "body": "", "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}}
    response = api.request(get("/items", "in-plan", method="HEAD", headers=(("x-tag", "one"), ("x-tag", "two"))))
    assert (response.status, response.body, response.header_values("set-cookie")) == (201, b"", ["a=1", "b=2"])
    [app_event] = [event for name, event in functions.events if name == "app"]
    assert (app_event["httpMethod"], app_event["multiValueHeaders"]["x-tag"]) == ("HEAD", ["one", "two"])


def test_a_function_error_is_the_502_and_its_traceback_is_logged(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    errors = io.StringIO()
    failing = LocalRestApi(api.api, functions, api._apigateway, api._logs, errors=errors)  # type: ignore[arg-type]
    functions.result = RuntimeError("the creator's bug")
    response = failing.request(get("/cities", "in-plan"))
    assert (response.status, json.loads(response.body), response.key_id) == (
        502,
        {"message": "Internal server error"},
        "k1",
    )
    assert "RuntimeError: the creator's bug" in errors.getvalue()
    assert [(entry.status, entry.key_id) for entry in logged(logs)] == [(502, "k1")]


CORS_ORIGIN = "https://market.example.com"


@pytest.fixture(scope="module")
def cors_rules(bundle_cache_dir: Path) -> GatewayRules:
    """The rules a MeteredApi with a CORS origin synthesizes, read back from its template as the sandbox reads them."""
    return GatewayRules.of(metered_api_template(bundle_cache_dir, cors_origin=CORS_ORIGIN)[1])


def with_rules(api: LocalRestApi, functions: Functions, rules: GatewayRules, errors: Any = None) -> LocalRestApi:
    deployed = replace(api.api, rules=rules)
    return LocalRestApi(deployed, functions, api._apigateway, api._logs, errors=errors)  # type: ignore[arg-type]


def test_a_preflight_is_answered_from_the_templates_mock_without_the_authorizer(
    gateway: tuple[LocalRestApi, Functions, Any], cors_rules: GatewayRules
) -> None:
    api, functions, logs = gateway
    for path in ("/", "/forecast/3"):
        request = HttpRequest("OPTIONS", path, (("Origin", CORS_ORIGIN), ("Access-Control-Request-Method", "POST")))
        response = with_rules(api, functions, cors_rules).request(request)
        assert (response.status, response.body, response.key_id) == (204, b"", "")
        assert response.header("access-control-allow-origin") == CORS_ORIGIN
        assert "X-Api-Key" in (response.header("access-control-allow-headers") or "")
        assert response.header("access-control-expose-headers") == "RateLimit-Policy,RateLimit,Retry-After"
    assert functions.events == []  # neither the authorizer nor the app ran
    assert cors_rules.authorizer_ttl_seconds == 300  # the construct's default, as the template says
    assert [entry.status for entry in logged(logs)] == [204, 204]


def test_without_a_preflight_in_the_template_an_options_needs_a_key(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, _, _ = gateway
    assert api.request(HttpRequest("OPTIONS", "/cities", (("Origin", CORS_ORIGIN),))).status == 401


def test_gateway_responses_carry_the_templates_cors_headers(
    gateway: tuple[LocalRestApi, Functions, Any], cors_rules: GatewayRules
) -> None:
    api, functions, _ = gateway
    errors = io.StringIO()
    cors = with_rules(api, functions, cors_rules, errors)
    missing, denied = cors.request(get("/cities")), cors.request(get("/cities", "wrong"))
    too_big = cors.request(get("/upload", "in-plan", method="POST", body=b"x" * (MAX_REQUEST_BYTES + 1)))
    functions.result = RuntimeError("the creator's bug")
    failed_app = cors.request(get("/cities", "in-plan"))
    assert [r.status for r in (missing, denied, too_big, failed_app)] == [401, 403, 413, 502]
    for response in (missing, denied, too_big, failed_app):
        assert response.header("access-control-allow-origin") == CORS_ORIGIN
        assert response.header("vary") == "Origin"
    assert json.loads(denied.body) == {"message": SUSPENDED_KEY.message}
    assert missing.header("content-type") == "application/json"


class RecordingApi:
    """Stands in for LocalRestApi behind the kept sandbox's gateway: records each request, answers one response."""

    def __init__(self, response: Response) -> None:
        self.api = SimpleNamespace(stage=STAGE)
        self.response = response
        self.requests: list[HttpRequest] = []

    def request(self, request: HttpRequest) -> Response:
        self.requests.append(request)
        return self.response

    def gateway_answer(self, response: HttpResponse) -> Response:
        return Response(response.status, response.headers, response.body)


@pytest.fixture
def served() -> Iterator[tuple[RecordingApi, http.client.HTTPConnection]]:
    """The kept sandbox's gateway (its HTTP front door) on a loopback port, in front of a RecordingApi."""
    answer = Response(
        201,
        (("Content-Type", "image/png"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "4")),
        b"\x89PN\xff",
    )
    api = RecordingApi(answer)
    with _Gateway(api, threading.Lock(), io.StringIO()) as gateway:  # type: ignore[arg-type]
        thread = threading.Thread(target=gateway.serve_forever, daemon=True)
        thread.start()
        try:
            yield api, http.client.HTTPConnection("127.0.0.1", gateway.server_port, timeout=10)
        finally:
            gateway.shutdown()
            thread.join(10)


def test_the_kept_gateway_passes_the_request_as_sent(served: tuple[RecordingApi, http.client.HTTPConnection]) -> None:
    api, connection = served
    connection.putrequest("POST", f"/{STAGE}/upload%20here?a=1&a=2")
    for name, value in (
        ("X-Tag", "one"),
        ("X-Tag", "two"),
        ("Content-Type", "image/png"),
        ("Transfer-Encoding", "chunked"),
    ):
        connection.putheader(name, value)
    connection.endheaders(b"3\r\n\x89P\xff\r\n2\r\nNG\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert (response.status, response.read()) == (201, b"\x89PN\xff")
    assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"] and response.headers["Content-Type"] == "image/png"
    [request] = api.requests
    assert (request.method, request.path, request.query, request.body) == (
        "POST",
        "/upload%20here",
        "a=1&a=2",
        b"\x89P\xffNG",
    )
    assert [value for name, value in request.headers if name == "X-Tag"] == ["one", "two"]


def test_the_kept_gateway_answers_head_without_a_body_and_refuses_outside_the_stage(
    served: tuple[RecordingApi, http.client.HTTPConnection],
) -> None:
    api, connection = served
    connection.request("HEAD", f"/{STAGE}/items")
    head = connection.getresponse()
    assert (head.status, head.read(), head.headers["Content-Length"]) == (201, b"", "4")
    connection.request("GET", "/other-stage/items")
    outside = connection.getresponse()
    assert (outside.status, json.loads(outside.read())) == (403, {"message": "Forbidden"})
    assert [request.method for request in api.requests] == ["HEAD"]


MCP = DeployedFunction("mcp", "arn:mcp", "api_direct.runtime.mcp_server.handler", {})


def with_mcp(api: LocalRestApi, functions: Functions) -> LocalRestApi:
    """The same API with an MCP function behind ``/mcp``, as McpEndpoint adds one."""
    return LocalRestApi(replace(api.api, mcp=MCP), functions, api._apigateway, api._logs)  # type: ignore[arg-type]


def test_mcp_takes_the_authorizer_s_allow_without_a_usage_plan(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    served = with_mcp(api, functions)
    # A key the authorizer allows but no usage plan of the stage holds: refused on the app's routes only.
    listed = served.request(get("/mcp", "not-in-plan", method="POST", body=b"{}"))
    routed = served.request(get("/cities", "not-in-plan"))
    assert listed.status == 200 and routed.status == INVALID_KEY.status
    [(name, event)] = [(name, event) for name, event in functions.events if name != "authorizer"]
    assert name == "mcp" and (event["resource"], event["pathParameters"]) == ("/mcp", None)
    first = logged(logs)[0]
    assert (first.resource_path, first.key_id, first.status) == ("/mcp", "k1", 200)


def test_mcp_without_a_key_or_with_a_refused_one_never_reaches_its_function(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, functions, _ = gateway
    served = with_mcp(api, functions)
    without = served.request(get("/mcp", method="POST", body=b"{}"))
    refused = served.request(get("/mcp", "suspended", method="POST", body=b"{}"))
    assert (without.status, refused.status) == (MISSING_KEY.status, 403)
    assert [name for name, _ in functions.events] == ["authorizer"]


def test_without_an_mcp_function_mcp_is_one_of_the_app_s_paths(gateway: tuple[LocalRestApi, Functions, Any]) -> None:
    api, functions, logs = gateway
    assert api.request(get("/mcp", "in-plan", method="POST")).status == 200
    assert functions.events[-1][1]["resource"] == "/{proxy+}" and logged(logs)[0].resource_path == "/{proxy+}"


@pytest.fixture(scope="module")
def weighted_rules(bundle_cache_dir: Path) -> GatewayRules:
    """A MeteredApi with a weighted ``/forecast/{city}`` (and CORS), read back from its template."""
    weights = RouteWeights((WeightedRoute("/forecast/{city}", (), 5),))
    return GatewayRules.of(
        metered_api_template(bundle_cache_dir, cors_origin=CORS_ORIGIN, route_weights=weights, stack_name="weighted")[1]
    )


def test_a_weighted_route_is_matched_to_its_resource_and_logged_by_it(
    gateway: tuple[LocalRestApi, Functions, Any], weighted_rules: GatewayRules
) -> None:
    api, functions, logs = gateway
    weighted = with_rules(api, functions, weighted_rules)
    for path in ("/forecast/paris", "/forecast/paris/hourly", "/forecast", "/cities"):
        assert weighted.request(get(path, "in-plan")).status == 200
    app_events = [event for name, event in functions.events if name == "app"]
    assert [(e["resource"], e["pathParameters"]) for e in app_events] == [
        ("/forecast/{city}", {"city": "paris"}),
        ("/forecast/{city}/{proxy+}", {"city": "paris", "proxy": "hourly"}),
        ("/forecast", None),
        ("/{proxy+}", {"proxy": "cities"}),
    ]
    assert [entry.resource_path for entry in logged(logs)] == [e["resource"] for e in app_events]
    preflight = HttpRequest("OPTIONS", "/forecast/paris", (("Origin", CORS_ORIGIN),))
    assert weighted.request(preflight).header("access-control-allow-origin") == CORS_ORIGIN


def test_a_path_no_resource_matches_is_api_gateways_403_before_the_authorizer(
    gateway: tuple[LocalRestApi, Functions, Any],
) -> None:
    api, functions, logs = gateway
    static = with_rules(api, functions, GatewayRules(resources=("/", "/forecast")))
    response = static.request(get("/forecast/paris", "in-plan"))
    assert (response.status, json.loads(response.body)) == (403, {"message": "Missing Authentication Token"})
    assert functions.events == []
    [entry] = logged(logs)
    assert (entry.status, entry.resource_path) == (403, "")
