"""Deliberate exceptions to the scanners' rules, stated next to the resource they excuse.

cdk-nag acknowledgments are derived from what they acknowledge, not typed out by
hand: cdk-nag 3 wants one acknowledgment per finding, and IAM5 names each wildcard
of a statement with references flattened (``arn:<AWS::Partition>:...``,
``<Table1234.Arn>/index/*``). Deriving those names from the statement keeps an
acknowledgment exactly as wide as the wildcards it excuses, however the ARNs are built.

checkov reads its suppressions from the template itself (``Metadata.checkov.skip``
of each resource), so :func:`skip_checkov` writes them there, each with its reason.
"""

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge a cdk-nag rule on ``scope`` and everything under it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(scope: IConstruct, reasons: Mapping[str, str]) -> None:
    """Suppress checkov checks (``{"CKV_AWS_117": "why", ...}``) on the resource ``scope`` stands for.

    ``scope`` is a ``CfnResource`` or an L2 construct whose ``node.default_child`` is
    one. Reasons merge into what the resource already skips; a check skipped twice
    keeps the later reason. checkov reports each reason as the skip's comment.
    """
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} is not a CloudFormation resource and has none as its default child")
    metadata = dict(resource.get_metadata("checkov") or {})
    skips = [skip for skip in metadata.get("skip", []) if skip["id"] not in reasons]
    skips += [{"id": check_id, "comment": reason} for check_id, reason in reasons.items()]
    resource.add_metadata("checkov", {**metadata, "skip": skips})


def acknowledge_wildcards(scope: IConstruct, statement: iam.PolicyStatement, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly the wildcards ``statement`` holds.

    cdk-nag reports one finding per wildcard action and resource, with references
    flattened (``arn:<AWS::Partition>:...``); acknowledgments must name each one.
    """
    stack = Stack.of(scope)
    resources = (_flatten_reference(stack.resolve(resource)) for resource in statement.resources)
    findings = [
        *(f"Action::{action}" for action in statement.actions if "*" in action),
        *(f"Resource::{resource}" for resource in resources if "*" in resource),
    ]
    for finding in findings:
        acknowledge(scope, f"AwsSolutions-IAM5[{finding}]", reason)


def _flatten_reference(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in findings."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if "Fn::Join" in value:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(_flatten_reference(item) for item in items)
    if "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{resource}.{attribute}>"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise ValueError(f"cannot name a cdk-nag finding for {value!r}")
