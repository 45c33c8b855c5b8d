"""FastApiFunction: defaults, overrides, and a role that can only write its own logs."""

import hashlib
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.constructs import FastApiFunction
from tests.conftest import EXAMPLE_DIR


@pytest.fixture(scope="module")
def templates(bundle_cache_dir: Path) -> dict[str, Template]:
    app = cdk.App()
    defaults = cdk.Stack(app, "Defaults")
    FastApiFunction(defaults, "Fn", project_dir=EXAMPLE_DIR, app="weather.main:app", bundle_cache_dir=bundle_cache_dir)
    custom = cdk.Stack(app, "Custom")
    FastApiFunction(
        custom,
        "Fn",
        project_dir=EXAMPLE_DIR,
        app="weather.main:app",
        architecture="x86_64",
        memory_size=1024,
        timeout=cdk.Duration.seconds(20),
        log_retention=cdk.aws_logs.RetentionDays.ONE_WEEK,
        environment={"WEATHER_UNITS": "metric"},
        bundle_cache_dir=bundle_cache_dir,
    )
    return {"defaults": Template.from_stack(defaults), "custom": Template.from_stack(custom)}


def test_defaults_are_arm64_python312_behind_mangum(templates: dict[str, Template]) -> None:
    templates["defaults"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "apid_handler.handler",
            "MemorySize": 512,
            "Timeout": 10,
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("^FnAppLogs")}},
        },
    )
    templates["defaults"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_every_default_is_a_prop(templates: dict[str, Template]) -> None:
    templates["custom"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 1024,
            "Timeout": 20,
            "Environment": {"Variables": {"WEATHER_UNITS": "metric"}},
        },
    )
    templates["custom"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


def test_role_has_no_managed_policy_and_writes_only_its_log_group(templates: dict[str, Template]) -> None:
    template = templates["defaults"]
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    [log_group_id] = template.find_resources("AWS::Logs::LogGroup")
    assert statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_code_asset_is_named_by_bundle_hash(templates: dict[str, Template], bundle_cache_dir: Path) -> None:
    [function] = templates["defaults"].find_resources("AWS::Lambda::Function").values()
    key = function["Properties"]["Code"]["S3Key"]
    # CDK names a custom-hashed asset by the SHA-256 of the hash it was given.
    bundles = {hashlib.sha256(path.name.encode()).hexdigest() for path in (bundle_cache_dir / "bundles").iterdir()}
    assert key.removesuffix(".zip") in bundles
