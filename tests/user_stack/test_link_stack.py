"""AccountLinkStack: the ExternalId stays out of the template, outputs are complete, checks pass."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.user_stack.link_stack import AccountLinkStack
from tests.compliance import lint_errors, nag_findings
from tests.example_project import CONTROL_PLANE_ACCOUNT


@dataclass(frozen=True)
class Synthesized:
    stack: cdk.Stack
    nag_findings: list[str]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack as `apid aws link` deploys it, synthesized once with cdk-nag attached."""
    built: list[cdk.Stack] = []

    def build(app: cdk.App) -> cdk.Stack:
        stack = AccountLinkStack(app, "Link", stack_name="apid-link", trusted_account_id=CONTROL_PLANE_ACCOUNT)
        built.append(stack)
        return stack

    findings = nag_findings(build, tmp_path_factory.mktemp("link-stack"))
    return Synthesized(stack=built[0], nag_findings=findings)


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    """Read from the assembly the nag run synthesized (it is only cached if cdk-nag passed)."""
    return Template.from_stack(synthesized.stack)


def paths_to(node: Any, target: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where ``target`` occurs as a value anywhere in ``node``."""
    if node == target:
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from paths_to(value, target, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths_to(value, target, (*path, str(index)))


def logical_id(template: Template, resource_type: str, properties: dict[str, Any] | None = None) -> str:
    found = template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, list(found)
    return next(iter(found))


def test_external_id_is_a_no_echo_parameter_without_default(template: Template) -> None:
    template.has_parameter(
        "ExternalId",
        {
            "Type": "String",
            "NoEcho": True,
            "MinLength": 16,
            "MaxLength": 1224,
            "AllowedPattern": r"[\w+=,.@:/-]*",
            "Default": Match.absent(),
        },
    )


def test_external_id_is_used_only_in_the_deploy_role_trust_condition(template: Template) -> None:
    """The value is supplied at deploy time and lands in one place: never an output, tag or name."""
    deploy_role = logical_id(template, "AWS::IAM::Role", {"MaxSessionDuration": 3600})
    assert list(paths_to(template.to_json(), {"Ref": "ExternalId"})) == [
        (
            "Resources",
            deploy_role,
            "Properties",
            "AssumeRolePolicyDocument",
            "Statement",
            "0",
            "Condition",
            "StringEquals",
            "sts:ExternalId",
        )
    ]


def test_outputs_name_the_roles_bucket_and_boundary(template: Template) -> None:
    deploy_role = logical_id(template, "AWS::IAM::Role", {"MaxSessionDuration": 3600})
    cloudformation = Match.object_like({"Principal": {"Service": "cloudformation.amazonaws.com"}})
    execution_role = logical_id(
        template, "AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [cloudformation]}}
    )
    expected = {
        "DeployRoleArn": {"Fn::GetAtt": [deploy_role, "Arn"]},
        "ExecutionRoleArn": {"Fn::GetAtt": [execution_role, "Arn"]},
        "AssetBucketName": {"Ref": logical_id(template, "AWS::S3::Bucket")},
        "PermissionsBoundaryArn": {"Ref": logical_id(template, "AWS::IAM::ManagedPolicy")},
    }
    outputs = template.to_json()["Outputs"]
    assert {name: output["Value"] for name, output in outputs.items()} == expected


def test_needs_no_cdk_bootstrap(template: Template) -> None:
    """Linking is the creator's first step: the stack must deploy into an un-bootstrapped account."""
    rendered = template.to_json()
    assert set(rendered["Parameters"]) == {"ExternalId"}
    assert "Rules" not in rendered


def test_deploy_role_keeps_away_from_the_link_stack_even_under_an_apid_name(template: Template) -> None:
    link_stack = {"Fn::Join": ["", Match.array_with([":stack/apid-link/*"])]}
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Sid": "NotTheLinkStack", "Effect": "Deny", "Resource": link_stack})]
                )
            }
        },
    )


def test_cdk_nag_aws_solutions_has_no_unacknowledged_errors(synthesized: Synthesized) -> None:
    assert synthesized.nag_findings == [], "\n".join(synthesized.nag_findings)


def test_cfn_lint_reports_no_errors(template: Template) -> None:
    errors = lint_errors(template.to_json())
    assert errors == [], "\n".join(errors)
