"""cdk-nag acknowledgments derived from what they acknowledge, not typed out by hand.

cdk-nag 3 wants one acknowledgment per finding, and IAM5 names each wildcard of a
statement with references flattened (``arn:<AWS::Partition>:...``,
``<Table1234.Arn>/index/*``). Deriving those names from the statement keeps an
acknowledgment exactly as wide as the wildcards it excuses, however the ARNs are built.
"""

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge a cdk-nag rule on ``scope`` and everything under it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


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
