"""apid dev's ASGI app in process: the deployed key check, gateway responses and metering around the example."""

import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn.config import STARTUP_FAILURE

from api_direct.constructs import PlanLimits
from api_direct.local import dev_server
from api_direct.local.dev_server import (
    LOCAL_KEY_ID,
    DevTarget,
    MeteredDevApp,
    MeteredRequest,
    app_from_environment,
    import_app,
    prepare,
    sample_call,
)
from api_direct.project import PricingPlan, Project, load_project
from api_direct.runtime import authorizer
from api_direct.runtime.api_keys import generate_key, hash_key
from api_direct.local.sample_calls import sample_calls
from api_direct.runtime.gateway_responses import (
    CONTENT_TYPE,
    INVALID_KEY,
    MISSING_KEY,
    GatewayRejection,
    render_template,
)
from api_direct.scaffold import render_templates
from tests.constructs.metered_stack import metered_api
from tests.example_project import EXAMPLE_DIR
from tests.runtime.lambda_context import FakeLambdaContext

KEY = generate_key()
RICH_APP = Path(__file__).resolve().parent.parent / "e2e" / "projects" / "rich_app"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/cities"
USAGE_LINE = re.compile(r"^(?P<route>\S+ \S+)  (?P<status>\d{3})  \d+ ms  billable (?P<billable>\d+)  \((?P<who>.+)\)$")


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(EXAMPLE_DIR)


@pytest.fixture(scope="module")
def weather_app(project: Project) -> Any:
    return import_app(project)


def metered_client(
    app: Any, project: Project, plan: PricingPlan, metered: list[MeteredRequest], raise_server_exceptions: bool = True
) -> TestClient:
    """The app behind apid dev's wrapper, accepting KEY on ``plan``, each request appended to ``metered``."""
    wrapped = MeteredDevApp(app, DevTarget(project, plan, hash_key(KEY)), metered.append)
    return TestClient(wrapped, raise_server_exceptions=raise_server_exceptions)


@pytest.fixture
def metered() -> list[MeteredRequest]:
    return []


@pytest.fixture
def client(weather_app: Any, project: Project, metered: list[MeteredRequest]) -> TestClient:
    return metered_client(weather_app, project, project.config.plans[0], metered)


def usage(request: MeteredRequest) -> dict[str, str]:
    match = USAGE_LINE.match(request.line())
    assert match, request.line()
    return match.groupdict()


def test_a_valid_key_gets_the_apps_own_answer_and_one_billable_call(
    client: TestClient, weather_app: Any, metered: list[MeteredRequest]
) -> None:
    response = client.get("/cities", params={"country": "GB"}, headers={"x-api-key": KEY})
    assert response.status_code == 200
    assert response.json() == TestClient(weather_app).get("/cities", params={"country": "GB"}).json()
    [request] = metered
    assert usage(request) == {"route": "GET /cities", "status": "200", "billable": "1", "who": "plan free"}
    assert (request.record.key_id, request.record.plan, request.record.calls) == (LOCAL_KEY_ID, "free", 1)
    assert request.record.status_counts["2xx"] == 1


def test_an_allowed_call_carries_the_plan_s_rate_limit_policy_and_no_remaining_count(
    client: TestClient, project: Project
) -> None:
    """apid dev counts no quota, so it states the policy and promises nothing about what is left."""
    plan = project.config.plans[0]
    response = client.get("/cities", headers={"x-api-key": KEY})
    assert response.headers["RateLimit-Policy"].startswith(f'"rate";q={int(plan.rate_limit)};w=1')
    assert "RateLimit" not in response.headers
    assert "RateLimit-Policy" not in client.get("/cities").headers


@pytest.mark.parametrize(
    ("billable_statuses", "city", "status", "billable"),
    # A forecast is 5 units (examples/weather_api's [[routes]]).
    [(("2xx",), "london", "200", "5"), (("2xx",), "atlantis", "404", "0"), (("2xx", "4xx"), "atlantis", "404", "5")],
)
def test_the_plan_decides_what_is_billable(
    weather_app: Any,
    project: Project,
    metered: list[MeteredRequest],
    billable_statuses: tuple[str, ...],
    city: str,
    status: str,
    billable: str,
) -> None:
    plan = project.config.plans[1].model_copy(update={"billable_statuses": billable_statuses})
    client = metered_client(weather_app, project, plan, metered)
    assert client.get(f"/forecast/{city}", params={"days": 1}, headers={"x-api-key": KEY}).status_code == int(status)
    [request] = metered
    assert usage(request) == {
        "route": "GET /forecast/{city_id}",
        "status": status,
        "billable": billable,
        "who": "plan pro",
    }


@pytest.mark.parametrize(
    ("headers", "rejection", "outcome"),
    [
        ({}, MISSING_KEY, "missing"),
        ({"x-api-key": ""}, MISSING_KEY, "missing"),
        ({"x-api-key": "not-a-key"}, INVALID_KEY, "malformed"),
        ({"X-Api-Key": generate_key()}, INVALID_KEY, "unknown"),
        ({"x-api-key": KEY + "x"}, INVALID_KEY, "malformed"),
    ],
    ids=["no-header", "empty", "malformed", "unknown", "too-long"],
)
def test_a_missing_or_wrong_key_is_rejected_before_the_app_and_never_billed(
    project: Project, metered: list[MeteredRequest], headers: dict[str, str], rejection: GatewayRejection, outcome: str
) -> None:
    app, calls = counting_app()
    response = metered_client(app, project, project.config.plans[0], metered).get("/items/7", headers=headers)
    assert (response.status_code, response.text) == (rejection.status, rejection.body())
    assert response.headers["content-type"] == "application/json"
    assert calls == []
    [request] = metered
    assert usage(request) == {
        "route": "GET /items/{item_id}",
        "status": str(rejection.status),
        "billable": "0",
        "who": f"rejected: {outcome} key",
    }
    assert (request.record.key_id, request.record.plan, request.entry.integration_latency_ms) == ("", "", None)
    # API Gateway asks the authorizer only when the key header is there: a rejection of its answer has a decision.
    assert bool(request.entry.authorizer_decision) == (rejection is INVALID_KEY)
    assert request.entry.response_length == len(rejection.body())


def test_a_key_s_calls_log_one_decision_while_the_cache_would_hold_it(
    client: TestClient, metered: list[MeteredRequest], project: Project
) -> None:
    """The example caches a key's answer for minutes: its calls in that time name the first call's decision."""
    assert project.config.gateway.key_cache_seconds > 0
    responses = [client.get("/cities", headers={"x-api-key": KEY}) for _ in range(3)]
    entries = [request.entry for request in metered]
    assert len({entry.authorizer_decision for entry in entries}) == 1 and entries[0].authorizer_decision
    assert [entry.authorizer_latency_ms is not None for entry in entries] == [True, False, False]
    assert [entry.response_length for entry in entries] == [len(response.content) for response in responses]


@pytest.fixture(scope="module")
def deployed_gateway_responses(bundle_cache_dir: Path) -> dict[str, dict[str, Any]]:
    """The gateway responses MeteredApi deploys, by type, from a synthesized template."""
    api = metered_api(
        bundle_cache_dir, plans=[PlanLimits(name="free", rate_limit=2, burst=5)], stack_name="apid-dev-parity"
    )
    stack = cdk.Stack.of(api)
    resources = Template.from_stack(stack).find_resources("AWS::ApiGateway::GatewayResponse")
    return {resource["Properties"]["ResponseType"]: resource["Properties"] for resource in resources.values()}


class NoKeys:
    """A key table without keys: to the deployed authorizer, every key is unknown, as any but its own is to apid dev."""

    def get(self, key_hash: str) -> None:
        return None


def deployed_answer(
    responses: dict[str, dict[str, Any]], headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """What the deployed API answers: its authorizer handler's verdict, through the template's gateway response."""
    monkeypatch.setattr(authorizer, "key_table_from_env", NoKeys)
    event = {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers}
    try:
        context = authorizer.handler(event, FakeLambdaContext())["context"]
        response = responses["ACCESS_DENIED"]
    except Exception as error:  # API Gateway's contract: this exact message is a 401
        assert str(error) == "Unauthorized"
        context, response = {}, responses["UNAUTHORIZED"]
    body = render_template(response["ResponseTemplates"][CONTENT_TYPE], context)
    content_type = response["ResponseParameters"]["gatewayresponse.header.Content-Type"].strip("'")
    return int(response["StatusCode"]), body, content_type


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": ""}, {"x-api-key": "not-a-key"}, {"x-api-key": generate_key()}],
    ids=["no-header", "empty", "malformed", "unknown"],
)
def test_a_rejection_is_byte_for_byte_what_the_deployed_api_sends(
    client: TestClient,
    deployed_gateway_responses: dict[str, dict[str, Any]],
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = client.get("/cities", headers=headers)
    assert (local.status_code, local.text, local.headers["content-type"]) == deployed_answer(
        deployed_gateway_responses, headers, monkeypatch
    )


def counting_app() -> tuple[FastAPI, list[str]]:
    """A FastAPI app with one route that records each call, and a lifespan that records startup."""
    calls: list[str] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        calls.append("startup")
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        calls.append(item_id)
        return {"id": item_id}

    @app.get("/fail")
    def fail() -> None:
        raise RuntimeError("the creator's bug")

    return app, calls


def test_lifespan_reaches_the_app(project: Project, metered: list[MeteredRequest]) -> None:
    app, calls = counting_app()
    with metered_client(app, project, project.config.plans[0], metered) as client:
        assert client.get("/items/1", headers={"x-api-key": KEY}).json() == {"id": "1"}
    assert calls == ["startup", "1"]
    assert [usage(request)["route"] for request in metered] == ["GET /items/{item_id}"]


def test_an_app_failure_is_metered_as_the_500_it_answers(project: Project, metered: list[MeteredRequest]) -> None:
    app, _ = counting_app()
    client = metered_client(app, project, project.config.plans[0], metered, raise_server_exceptions=False)
    assert client.get("/fail", headers={"x-api-key": KEY}).status_code == 500
    [request] = metered
    assert usage(request) == {"route": "GET /fail", "status": "500", "billable": "0", "who": "plan free"}


def test_an_unrouted_path_is_logged_as_the_raw_path(client: TestClient, metered: list[MeteredRequest]) -> None:
    assert client.post("/no/such/route", headers={"x-api-key": KEY}).status_code == 404
    assert usage(metered[0])["route"] == "POST /no/such/route"


def test_the_worker_gets_the_hash_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    session = prepare(EXAMPLE_DIR, "pro", KEY)
    environment = session.target.environment()
    assert session.target.key_hash == hash_key(KEY)
    assert not any(KEY in value for value in environment.values())
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    worker = app_from_environment()
    assert worker.target == session.target
    assert TestClient(worker).get("/health", headers={"x-api-key": KEY}).json() == {"status": "ok"}


def test_a_project_broken_between_reloads_stops_the_worker_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in prepare(EXAMPLE_DIR, "pro", KEY).target.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(dev_server.ENV_PLAN, "gone")  # as if apid.toml lost the plan in an edit
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)  # once uvicorn has configured logging, its loggers do not propagate
    try:
        with pytest.raises(SystemExit) as stopped:
            app_from_environment()
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    assert stopped.value.code == STARTUP_FAILURE
    assert set(caplog.messages) == {"--plan: apid.toml has no plan 'gone' (plans: free, pro, starter, credits)"}


def test_without_a_plan_or_key_the_first_plan_and_a_new_key() -> None:
    first, second = prepare(EXAMPLE_DIR, None, None), prepare(EXAMPLE_DIR, None, None)
    assert first.target.plan.name == second.target.plan.name == "free"
    assert first.key != second.key and first.target.key_hash == hash_key(first.key)


def test_the_curl_example_is_the_apps_first_call(weather_app: Any) -> None:
    assert sample_call(weather_app).target == "/cities"
    assert sample_call(FastAPI()).target == "/"
    assert sample_call(lambda scope, receive, send: None).target == "/"


@pytest.fixture(params=["scaffold", "rich_app"])
def any_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A project from `apid init`, and the richer one of the sandbox tests
    (a lifespan, a JSON body, PNG bytes, numpy)."""
    if request.param == "scaffold":
        for name, text in render_templates("text-tools").items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        yield tmp_path
    else:
        yield RICH_APP
    for name in [name for name in sys.modules if name == "main"]:
        del sys.modules[name]  # both apps are main:app; the next import must read its own


def test_any_project_is_served_its_lifespan_run_and_every_documented_call_answered(any_project: Path) -> None:
    session = prepare(any_project, None, KEY)
    metered: list[MeteredRequest] = []
    calls = sample_calls(session.app.openapi()).calls  # type: ignore[attr-defined]
    with TestClient(MeteredDevApp(session.app, session.target, metered.append)) as client:
        answered = {
            call.operation: client.request(
                call.method, call.target, content=call.body, headers=dict((("x-api-key", KEY), *call.headers))
            ).status_code
            for call in calls
        }
    assert answered and set(answered.values()) == {200}, answered
    assert [request.record.key_id for request in metered] == [LOCAL_KEY_ID] * len(calls)
    assert sample_call(session.app) == calls[0]


def test_the_factory_is_what_uvicorn_can_import() -> None:
    module, _, attribute = dev_server.FACTORY.partition(":")
    assert (module, getattr(dev_server, attribute)) == ("api_direct.local.dev_server", app_from_environment)
