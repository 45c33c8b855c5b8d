"""UserApiStack from the example's apid.toml: composition, boundary, outputs, warm re-synth."""

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.project import load_project
from api_direct.user_stack import UserApiStack
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, EXAMPLE_DIR

BOUNDARY = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::",
            {"Ref": "AWS::AccountId"},
            ":policy/apid-boundary-",
            {"Ref": "AWS::Region"},
        ],
    ]
}


def synthesize(outdir: Path, cache: Path, **props: object) -> tuple[UserApiStack, cdk.cx_api.CloudAssembly]:
    app = cdk.App(outdir=str(outdir), context={BUNDLE_CACHE_CONTEXT: str(cache)})
    stack = UserApiStack(
        app,
        "Example",
        project=load_project(EXAMPLE_DIR),
        control_plane_account_id=CONTROL_PLANE_ACCOUNT,
        control_plane_bus_arn=CONTROL_PLANE_BUS_ARN,
        **props,  # type: ignore[arg-type]
    )
    return stack, app.synth()


@pytest.fixture(scope="module")
def synthesized(
    tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path
) -> tuple[UserApiStack, cdk.cx_api.CloudAssembly]:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), bundle_cache_dir)


@pytest.fixture(scope="module")
def template(synthesized: tuple[UserApiStack, cdk.cx_api.CloudAssembly]) -> Template:
    return Template.from_stack(synthesized[0])


def test_stack_is_named_for_the_api(synthesized: tuple[UserApiStack, cdk.cx_api.CloudAssembly]) -> None:
    stack, assembly = synthesized
    assert stack.stack_name == "apid-weather-api"
    assert (
        assembly.get_stack_by_name("apid-weather-api")
        .template["Description"]
        .startswith("API-Direct API 'weather-api'")
    )


def test_composes_function_keys_gateway_and_forwarder(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "apid_handler.handler", "MemorySize": 512, "Architectures": ["arm64"]}
    )
    for handler in ("authorizer", "key_sync", "usage_forwarder"):
        template.has_resource_properties("AWS::Lambda::Function", {"Handler": f"api_direct.runtime.{handler}.handler"})
    template.has_resource_properties("AWS::ApiGateway::Authorizer", {"AuthorizerResultTtlInSeconds": 300})
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"UsagePlanName": "pro", "Throttle": {"RateLimit": 50, "BurstLimit": 100}}
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"API_NAME": "weather-api", "CONTROL_PLANE_BUS_ARN": CONTROL_PLANE_BUS_ARN}
                )
            }
        },
    )
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "apid-weather-api-keys"})


def test_every_role_carries_the_link_boundary(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 5  # app, authorizer, key sync, usage forwarder, MCP server
    for role in roles.values():
        assert role["Properties"]["PermissionsBoundary"] == BOUNDARY


def test_everything_is_tagged_as_managed(template: Template) -> None:
    for resource_type in (
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::ApiGateway::RestApi",
        "AWS::SQS::Queue",
    ):
        template.all_resources_properties(
            resource_type, {"Tags": Match.array_with([{"Key": "api-direct:managed", "Value": "true"}])}
        )


def test_outputs_url_and_what_the_control_plane_needs(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert set(outputs) == {
        "ApiUrl",
        "RestApiId",
        "KeyBusArn",
        "AppFunctionName",
        "AppVersion",
        "AppLogGroupName",
        "AccessLogGroupName",
    }
    assert "execute-api" in json.dumps(outputs["ApiUrl"]["Value"])


def test_assets_go_to_the_link_bucket_without_bootstrap(
    synthesized: tuple[UserApiStack, cdk.cx_api.CloudAssembly],
) -> None:
    _, assembly = synthesized
    artifact = assembly.get_stack_by_name("apid-weather-api")
    manifest = json.loads(Path(assembly.directory, f"{artifact.id}.assets.json").read_text())
    destinations = [d for f in manifest["files"].values() for d in f["destinations"].values()]
    assert destinations and all(d["bucketName"] == "apid-assets-${AWS::AccountId}-${AWS::Region}" for d in destinations)
    assert all(d["objectKey"].startswith("assets/") for d in destinations)
    assert "BootstrapVersion" not in json.dumps(artifact.template)


def test_data_is_deleted_with_the_stack_unless_retained(
    template: Template, tmp_path: Path, bundle_cache_dir: Path
) -> None:
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    retained, _ = synthesize(tmp_path / "out", bundle_cache_dir, retain_data=True)
    Template.from_stack(retained).has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})


def test_second_synth_reuses_the_bundle(tmp_path: Path, pip_calls: list[list[str]]) -> None:
    """Cold synth runs pip; a warm re-synth of the same project runs it zero times."""
    calls = pip_calls
    # Fresh cache, fresh process-level memo: this really is cold.
    from api_direct.constructs.runtime_function import runtime_bundle

    runtime_bundle.cache_clear()
    cache = tmp_path / "cache"
    synthesize(tmp_path / "cold", cache)
    cold_calls = len(calls)
    runtime_bundle.cache_clear()
    synthesize(tmp_path / "warm", cache)
    assert cold_calls == 3  # the app's requirements, the handlers' Powertools, the MCP function's SDK
    assert len(calls) == cold_calls


def parameter_arn(name: str) -> dict[str, object]:
    """A parameter's ARN as the template builds it: in the stack's own partition, region and account."""
    pseudo = [{"Ref": "AWS::Partition"}, ":ssm:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    return {"Fn::Join": ["", ["arn:", *pseudo, f":parameter{name}"]]}


def test_only_the_app_function_is_told_its_secrets_path_and_may_read_it(template: Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function")
    [(app_id, app)] = [(i, f) for i, f in functions.items() if f["Properties"]["Handler"] == "apid_handler.handler"]
    assert app["Properties"]["Environment"]["Variables"]["APID_SECRETS_PATH"] == "/apid/weather-api/_default"
    others = [f for i, f in functions.items() if i != app_id]
    assert others and not any("APID_SECRETS_PATH" in json.dumps(f["Properties"]) for f in others)
    app_role = app["Properties"]["Role"]["Fn::GetAtt"][0]
    readers = {
        role["Ref"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(action in json.dumps(policy) for action in ('"ssm:', "kms:Decrypt"))
        for role in policy["Properties"]["Roles"]
    }
    assert readers == {app_role}
    via_parameter_store = {"Fn::Join": ["", ["ssm.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    read = {
        "Action": ["ssm:GetParametersByPath", "ssm:GetParameters"],
        "Effect": "Allow",
        "Resource": [parameter_arn("/apid/weather-api/_default"), parameter_arn("/apid/weather-api/_default/*")],
    }
    decrypt = {
        "Action": "kms:Decrypt",
        "Effect": "Allow",
        "Resource": Match.any_value(),
        "Condition": {"StringEquals": {"kms:ViaService": via_parameter_store}},
    }
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {"Roles": [{"Ref": app_role}], "PolicyDocument": {"Statement": Match.array_with([read, decrypt])}},
    )


def test_the_marketplace_origin_reaches_gateway_and_app_and_makes_a_new_version(
    synthesized: tuple[UserApiStack, cdk.cx_api.CloudAssembly], tmp_path: Path, bundle_cache_dir: Path
) -> None:
    origin = "https://market.example.com"
    with_cors, _ = synthesize(tmp_path / "out", bundle_cache_dir, marketplace_origin=origin)
    template = Template.from_stack(with_cors)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({"APID_CORS_ORIGIN": origin})}}
    )
    # /, /{proxy+}, and the weighted /forecast/{city_id}'s three: /forecast, itself, the {proxy+} below it.
    template.resource_properties_count_is("AWS::ApiGateway::Method", {"HttpMethod": "OPTIONS"}, 5)
    # A version keeps the environment it was published with: the origin is part of what names it.
    assert with_cors.live.config_digest != synthesized[0].live.config_digest
    plain = Template.from_stack(synthesized[0]).find_resources("AWS::Lambda::Function")
    assert "APID_CORS_ORIGIN" not in json.dumps(plain)
