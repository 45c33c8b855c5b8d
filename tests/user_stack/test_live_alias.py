"""The app's versions and its ``live`` alias in UserApiStack: what the gateway invokes, what a canary adds."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.canary import Canary
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.contracts import APP_VERSION_PREFIX, LIVE_ALIAS, RELEASE_ENV
from api_direct.project import load_project
from api_direct.user_stack import UserApiStack
from tests.example_project import EXAMPLE_DIR

RELEASE = "0123abc by creator@example.com"


def template_of(cache: Path, **props: object) -> Template:
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(cache)})
    stack = UserApiStack(app, "Example", project=load_project(EXAMPLE_DIR), **props)  # type: ignore[arg-type]
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def released(bundle_cache_dir: Path) -> Template:
    return template_of(bundle_cache_dir, release=RELEASE)


@pytest.fixture(scope="module")
def canaried(bundle_cache_dir: Path) -> Template:
    return template_of(bundle_cache_dir, release=RELEASE, canary=Canary(percent=10, minutes=5))


def only_logical_id(template: Template, resource_type: str) -> str:
    [logical_id] = template.find_resources(resource_type)
    return logical_id


def test_the_gateway_invokes_the_live_alias_on_the_published_version(released: Template) -> None:
    version = only_logical_id(released, "AWS::Lambda::Version")
    assert version.startswith(APP_VERSION_PREFIX)
    released.has_resource(
        "AWS::Lambda::Version",
        {"Properties": {"Description": RELEASE}, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
    )
    released.has_resource_properties(
        "AWS::Lambda::Alias", {"Name": LIVE_ALIAS, "FunctionVersion": {"Fn::GetAtt": [version, "Version"]}}
    )
    alias = only_logical_id(released, "AWS::Lambda::Alias")
    uris = [
        method["Properties"]["Integration"]["Uri"]
        for method in released.find_resources("AWS::ApiGateway::Method").values()
        if method["Properties"]["HttpMethod"] == "ANY"
    ]
    app_uris = [uri for uri in uris if "McpFunction" not in str(uri)]  # /mcp's function is not the app
    # /, /{proxy+} and the weighted /forecast/{city_id}'s three resources reach the app; /mcp does not.
    assert len(uris) == 6 and len(app_uris) == 5 and all(alias in str(uri) for uri in app_uris)
    released.has_output("AppVersion", {"Value": {"Fn::GetAtt": [version, "Version"]}})


def test_the_release_is_in_the_apps_environment(released: Template) -> None:
    [app] = [
        resource
        for logical_id, resource in released.find_resources("AWS::Lambda::Function").items()
        if logical_id.startswith("App")
    ]
    assert app["Properties"]["Environment"]["Variables"][RELEASE_ENV] == RELEASE


def test_a_new_release_publishes_a_new_version_and_the_same_one_does_not(
    bundle_cache_dir: Path, released: Template
) -> None:
    again = template_of(bundle_cache_dir, release=RELEASE)
    other = template_of(bundle_cache_dir, release="4567def by creator@example.com")
    assert only_logical_id(again, "AWS::Lambda::Version") == only_logical_id(released, "AWS::Lambda::Version")
    assert only_logical_id(other, "AWS::Lambda::Version") != only_logical_id(released, "AWS::Lambda::Version")


def test_without_a_canary_there_is_no_codedeploy(released: Template) -> None:
    assert not released.find_resources("AWS::CodeDeploy::DeploymentGroup")
    assert "UpdatePolicy" not in next(iter(released.find_resources("AWS::Lambda::Alias").values()))


def test_a_canary_shifts_through_codedeploy_and_rolls_back_on_5xx(canaried: Template) -> None:
    canaried.has_resource_properties(
        "AWS::CodeDeploy::DeploymentConfig",
        {
            "ComputePlatform": "Lambda",
            "TrafficRoutingConfig": {
                "Type": "TimeBasedCanary",
                "TimeBasedCanary": {"CanaryInterval": 5, "CanaryPercentage": 10},
            },
        },
    )
    alarm = only_logical_id(canaried, "AWS::CloudWatch::Alarm")
    canaried.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "5XXError",
            "Namespace": "AWS/ApiGateway",
            "Statistic": "Average",
            "Period": 60,
            "Threshold": 0.05,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "Dimensions": [{"Name": "ApiName", "Value": "apid-weather-api"}, {"Name": "Stage", "Value": "v1"}],
        },
    )
    canaried.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup",
        {
            "AlarmConfiguration": {"Alarms": [{"Name": {"Ref": alarm}}], "Enabled": True},
            "AutoRollbackConfiguration": {
                "Enabled": True,
                "Events": Match.array_with(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]),
            },
        },
    )
    [alias] = canaried.find_resources("AWS::Lambda::Alias").values()
    assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]
