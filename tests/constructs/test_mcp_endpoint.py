"""``/mcp`` on the user stack (McpEndpoint from apid.toml's ``[mcp]``): behind the same key authorizer as the
app's routes but outside any usage plan, throttled stage-wide, its function allowed to invoke the app's ``live``
alias and nothing else; ``[mcp] enabled = false`` leaves it out; bad ``[mcp]`` values are one-line errors."""

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.constructs.mcp_endpoint import McpEndpoint
from api_direct.project import ProjectError, load_project
from api_direct.contracts import MCP_API_NAME_ENV, MCP_APP_FUNCTION_ENV, MCP_EXCLUDE_ENV
from api_direct.user_stack import UserApiStack
from tests.constructs.metered_stack import metered_api
from tests.example_project import CONTROL_PLANE_ACCOUNT, copy_example

MCP_HANDLER = "api_direct.runtime.mcp_server.handler"
EXCLUDE = ["/admin/*", "DELETE /items/{id}"]
MCP_SECTION = f"""
[mcp]
exclude = {json.dumps(EXCLUDE)}
rate_limit = 20
burst = 40
"""


def with_mcp_section(project: Path, section: str) -> Path:
    """The project with ``section`` added to its apid.toml."""
    config = project / "apid.toml"
    config.write_text(config.read_text() + section)
    return project


def template_of(project: Path, cache: Path) -> dict[str, Any]:
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(cache)})
    stack = UserApiStack(app, "Example", project=load_project(project), control_plane_account_id=CONTROL_PLANE_ACCOUNT)
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path) -> dict[str, Any]:
    project = with_mcp_section(copy_example(tmp_path_factory.mktemp("mcp")), MCP_SECTION)
    return template_of(project, bundle_cache_dir)


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    """The one resource of the type whose properties include ``properties``: its logical id and properties."""
    [found] = [
        (name, r["Properties"])
        for name, r in of_type(template, resource_type).items()
        if all(r["Properties"].get(key) == value for key, value in properties.items())
    ]
    return found


def mcp_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return only(template, "AWS::Lambda::Function", Handler=MCP_HANDLER)


def test_mcp_is_a_resource_of_its_own_under_the_root(template: dict[str, Any]) -> None:
    _, rest_api = only(template, "AWS::ApiGateway::RestApi")
    mcp, resource = only(template, "AWS::ApiGateway::Resource", PathPart="mcp")
    assert resource["ParentId"]["Fn::GetAtt"][1] == "RootResourceId"
    assert rest_api["Name"]  # the resource's API is the stack's one REST API
    _, method = only(template, "AWS::ApiGateway::Method", ResourceId={"Ref": mcp})
    assert method["HttpMethod"] == "ANY"
    function, _ = mcp_function(template)
    assert function in json.dumps(method["Integration"]["Uri"])


def test_mcp_takes_the_key_through_the_proxys_authorizer_without_a_usage_plan(template: dict[str, Any]) -> None:
    mcp, _ = only(template, "AWS::ApiGateway::Resource", PathPart="mcp")
    _, method = only(template, "AWS::ApiGateway::Method", ResourceId={"Ref": mcp})
    app_methods = [
        m["Properties"]
        for m in of_type(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["ApiKeyRequired"]
    ]
    assert len(app_methods) == 5  # "/", "/{proxy+}" and the weighted /forecast/{city_id}'s three resources
    assert len(of_type(template, "AWS::ApiGateway::Authorizer")) == 1
    for app_method in app_methods:
        assert method["AuthorizationType"] == "CUSTOM" == app_method["AuthorizationType"]
        assert method["AuthorizerId"] == app_method["AuthorizerId"]
        assert method["RequestValidatorId"] == app_method["RequestValidatorId"]
    assert method["ApiKeyRequired"] is False
    assert method["RequestParameters"] == {"method.request.header.x-api-key": True}


def test_the_stage_throttles_mcp_on_its_own(template: dict[str, Any]) -> None:
    _, stage = only(template, "AWS::ApiGateway::Stage")
    # CloudFormation's MethodSetting ResourcePath escapes each "/" of the path as "~1" after a leading "/".
    assert stage["MethodSettings"] == [
        {"ResourcePath": "/~1mcp", "HttpMethod": "*", "ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40}
    ]


def test_the_throttle_is_added_to_the_stages_own_method_settings(bundle_cache_dir: Path) -> None:
    api = metered_api(bundle_cache_dir)
    stage = api.rest_api.deployment_stage.node.default_child
    assert isinstance(stage, apigw.CfnStage)
    stage_wide = apigw.CfnStage.MethodSettingProperty(resource_path="/*", http_method="*", metrics_enabled=True)
    stage.method_settings = [stage_wide]
    stack = cdk.Stack.of(api)
    handler = stack.node.find_child("Handler")
    assert isinstance(handler, lambda_.Function)
    McpEndpoint(stack, "Mcp", api=api, app=handler, api_name="metered", rate_limit=3, burst=6)
    _, synthesized = only(Template.from_stack(stack).to_json(), "AWS::ApiGateway::Stage")
    assert synthesized["MethodSettings"] == [
        {"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True},
        {"ResourcePath": "/~1mcp", "HttpMethod": "*", "ThrottlingRateLimit": 3, "ThrottlingBurstLimit": 6},
    ]


def test_the_function_knows_the_live_alias_the_exclusions_and_the_api(template: dict[str, Any]) -> None:
    """Not the app's version: a deploy of new code leaves the MCP function as it is (it reads the tools again)."""
    _, function = mcp_function(template)
    alias, _ = only(template, "AWS::Lambda::Alias", Name="live")
    assert function["Environment"]["Variables"] == {
        MCP_APP_FUNCTION_ENV: {"Ref": alias},
        MCP_EXCLUDE_ENV: json.dumps(EXCLUDE),
        MCP_API_NAME_ENV: "weather-api",
    }


def test_the_functions_role_may_invoke_the_live_alias_only(template: dict[str, Any]) -> None:
    _, function = mcp_function(template)
    role = function["Role"]["Fn::GetAtt"][0]
    alias, _ = only(template, "AWS::Lambda::Alias", Name="live")
    statements = [
        statement
        for policy in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    invoking = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert invoking == [{"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Ref": alias}}]
    assert all("*" not in json.dumps(s["Action"]) and s.get("Resource") != "*" for s in statements)


def test_the_gateway_may_invoke_the_function_from_mcp_only(template: dict[str, Any]) -> None:
    function, _ = mcp_function(template)
    permissions = [
        p
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    assert permissions and all(
        p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and "/mcp" in json.dumps(p["Properties"]["SourceArn"])
        for p in permissions
    )


def test_mcp_disabled_leaves_out_the_resource_and_the_function(copy_of_example: Path, bundle_cache_dir: Path) -> None:
    disabled = template_of(with_mcp_section(copy_of_example, "\n[mcp]\nenabled = false\n"), bundle_cache_dir)
    handlers = [r["Properties"].get("Handler") for r in of_type(disabled, "AWS::Lambda::Function").values()]
    assert handlers and MCP_HANDLER not in handlers
    assert all(r["Properties"]["PathPart"] != "mcp" for r in of_type(disabled, "AWS::ApiGateway::Resource").values())
    _, stage = only(disabled, "AWS::ApiGateway::Stage")
    assert "MethodSettings" not in stage
    assert len(of_type(disabled, "AWS::ApiGateway::Method")) == 5  # the app's: "/", "/{proxy+}", /forecast's three


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("enabled = 'sometimes'", "mcp.enabled: Input should be a valid boolean"),
        ("exclude = '/admin/*'", "mcp.exclude: Input should be a valid tuple"),
        ("exclude = ['']", "mcp.exclude[0]: String should have at least 1 character"),
        ("rate_limit = 0", "mcp.rate_limit: Input should be greater than 0"),
        ("burst = 0", "mcp.burst: Input should be greater than or equal to 1"),
        ("burst = 6000", "mcp.burst: Input should be less than or equal to 5000"),
        ("path = '/agents'", "mcp.path: unknown field"),
    ],
)
def test_a_bad_mcp_value_is_one_line_naming_it(copy_of_example: Path, section: str, expected: str) -> None:
    with_mcp_section(copy_of_example, f"\n[mcp]\n{section}\n")
    with pytest.raises(ProjectError) as error:
        load_project(copy_of_example)
    message = str(error.value)
    assert message.startswith("apid.toml: ") and "\n" not in message
    assert expected in message
