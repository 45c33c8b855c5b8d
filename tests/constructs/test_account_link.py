"""AccountLink: who may assume what, what the boundary forbids, and how the bucket is kept."""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from api_direct.constructs.account_link import AccountLink
from tests.compliance import nag_findings

TRUSTED_ACCOUNT = "111122223333"
CUSTOM_ENV = cdk.Environment(account="444455556666", region="eu-west-1")

#: Long but real values for the pseudo parameters, to measure the boundary as IAM will.
WC_PARTITION, WC_ACCOUNT, WC_REGION = "aws-iso-b", "123456789012", "ap-southeast-3"
WORST_CASE_REFS = {"AWS::Partition": WC_PARTITION, "AWS::AccountId": WC_ACCOUNT, "AWS::Region": WC_REGION}
MANAGED_POLICY_MAX_CHARS = 6144


def join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


PARTITION, ACCOUNT, REGION = ({"Ref": name} for name in ("AWS::Partition", "AWS::AccountId", "AWS::Region"))
BOUNDARY_ARN = join("arn:", PARTITION, ":iam::", ACCOUNT, ":policy/apid-boundary-", REGION)


@dataclass(frozen=True)
class Synthesized:
    default: cdk.Stack
    custom: cdk.Stack
    nag_findings: list[str]
    literal_external_id_link: AccountLink


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One app, synthesized once: an env-agnostic link with defaults, and an env-bound
    link with every default overridden (its cdk-nag findings render differently)."""
    stacks: dict[str, cdk.Stack] = {}

    def build(app: cdk.App) -> cdk.Stack:
        default = cdk.Stack(app, "Default")
        external_id = cdk.CfnParameter(default, "ExternalId", no_echo=True)
        AccountLink(default, "Link", trusted_account_id=TRUSTED_ACCOUNT, external_id=external_id.value_as_string)

        custom = cdk.Stack(app, "Custom", env=CUSTOM_ENV)
        AccountLink(
            custom,
            "Link",
            trusted_account_id=TRUSTED_ACCOUNT,
            external_id=cdk.CfnParameter(custom, "ExternalId", no_echo=True).value_as_string,
            resource_prefix="acme",
            max_session_duration=cdk.Duration.hours(2),
            asset_expiry=cdk.Duration.days(7),
            asset_encryption_key=kms.Key(custom, "AssetKey", enable_key_rotation=True),
            asset_removal_policy=cdk.RemovalPolicy.RETAIN,
            cost_explorer=True,
        )
        stacks.update(default=default, custom=custom)
        return default

    findings = nag_findings(build, tmp_path_factory.mktemp("account-link"))
    return Synthesized(
        **stacks,
        nag_findings=findings,
        literal_external_id_link=AccountLink(
            cdk.Stack(cdk.App(), "Literal"), "Link", trusted_account_id=TRUSTED_ACCOUNT, external_id="literal-value"
        ),
    )


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    """Read from the assembly the nag run synthesized (it is only cached if cdk-nag passed)."""
    return Template.from_stack(synthesized.default)


@pytest.fixture(scope="module")
def custom(synthesized: Synthesized) -> Template:
    return Template.from_stack(synthesized.custom)


def only(resources: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere below ``node``: identity, trust, boundary, bucket policies."""
    if isinstance(node, dict):
        if "Effect" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any, refs: Mapping[str, str]) -> Any:
    """The value CloudFormation would deploy, given what each Ref/GetAtt resolves to."""
    if isinstance(value, list):
        return [render(item, refs) for item in value]
    if isinstance(value, dict):
        if "Ref" in value:
            return refs[value["Ref"]]
        if "Fn::GetAtt" in value:
            return refs[".".join(value["Fn::GetAtt"])]
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(render(item, refs) for item in items)
        return {key: render(item, refs) for key, item in value.items()}
    return value


def role_id(template: Template, name_prefix: str) -> str:
    """Logical id of the role named ``<name_prefix><region>``."""
    role, _ = only(template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": join(name_prefix, REGION)}}))
    return role


def worst_case_refs(template: Template) -> dict[str, str]:
    """Pseudo parameters plus the two attributes the link's policies reference."""
    bucket_id, _ = only(template.find_resources("AWS::S3::Bucket"))
    execution_id = role_id(template, "apid-cfn-exec-")
    return {
        **WORST_CASE_REFS,
        f"{bucket_id}.Arn": f"arn:{WC_PARTITION}:s3:::apid-assets-{WC_ACCOUNT}-{WC_REGION}",
        f"{execution_id}.Arn": f"arn:{WC_PARTITION}:iam::{WC_ACCOUNT}:role/apid-cfn-exec-{WC_REGION}",
    }


def boundary_statements(template: Template) -> list[dict[str, Any]]:
    _, boundary = only(template.find_resources("AWS::IAM::ManagedPolicy"))
    return boundary["Properties"]["PolicyDocument"]["Statement"]


def deploy_role_statements(template: Template) -> list[dict[str, Any]]:
    deploy_role = {"Properties": {"Roles": [{"Ref": role_id(template, "apid-deploy-")}]}}
    _, policy = only(template.find_resources("AWS::IAM::Policy", deploy_role))
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- deploy role -------------------------------------------------------------------


def test_deploy_role_trusts_only_the_control_plane_and_only_with_the_external_id(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": join("apid-deploy-", REGION),
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Statement": Match.exact(
                    [
                        {
                            "Action": "sts:AssumeRole",
                            "Effect": "Allow",
                            "Principal": {"AWS": join("arn:", PARTITION, f":iam::{TRUSTED_ACCOUNT}:root")},
                            "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
                        }
                    ]
                )
            },
        },
    )


def test_deploy_role_reaches_only_api_direct_stacks_functions_logs_and_assets(template: Template) -> None:
    refs = worst_case_refs(template)
    allowed = {
        resource
        for statement in deploy_role_statements(template)
        if statement["Effect"] == "Allow"
        for resource in as_list(render(statement["Resource"], refs))
    }
    prefix = "arn:aws-iso-b:{service}:ap-southeast-3:123456789012:"
    assert allowed == {
        prefix.format(service="cloudformation") + "stack/apid-*/*",
        prefix.format(service="lambda") + "function:apid-*",
        prefix.format(service="logs") + "log-group:/aws/lambda/apid-*",
        prefix.format(service="logs") + "log-group:/apid/*",
        prefix.format(service="logs") + "log-group:apid-*",
        "arn:aws-iso-b:s3:::apid-assets-123456789012-ap-southeast-3",
        "arn:aws-iso-b:s3:::apid-assets-123456789012-ap-southeast-3/*",
        "arn:aws-iso-b:iam::123456789012:role/apid-cfn-exec-ap-southeast-3",
        prefix.format(service="ssm") + "parameter/apid/*",  # `apid secrets`: put, tag, delete
        # A custom domain: its certificate, its zone's validation record, whether another API has it.
        prefix.format(service="acm") + "certificate/*",
        "arn:aws-iso-b:route53:::hostedzone/*",
        "arn:aws-iso-b:apigateway:ap-southeast-3::/domainnames/*",
        "*",  # DescribeParameters, ListCertificates, ListHostedZonesByName, RequestCertificate: no resource type
    }


def test_only_a_link_opted_in_lets_the_deploy_role_read_cost_explorer(template: Template, custom: Template) -> None:
    def cost_reads(synthesized: Template) -> list[dict[str, Any]]:
        return [s for s in statements(synthesized.to_json()) if "ce:" in json.dumps(s.get("Action"))]

    assert cost_reads(template) == []
    assert cost_reads(custom) == [
        {"Sid": "ReadCostExplorer", "Effect": "Allow", "Action": "ce:GetCostAndUsage", "Resource": "*"}
    ]
    [policy] = [
        policy
        for policy in custom.find_resources("AWS::IAM::Policy").values()
        if "ReadCostExplorer" in json.dumps(policy)
    ]
    assert "DeployRole" in json.dumps(policy["Properties"]["Roles"])  # the deploy role's, not the boundary's


def test_deploy_role_passes_only_the_execution_role_and_only_to_cloudformation(template: Template) -> None:
    execution_id = role_id(template, "apid-cfn-exec-")
    pass_role = [s for s in deploy_role_statements(template) if "iam:PassRole" in as_list(s["Action"])]
    assert pass_role == [
        {
            "Sid": "PassExecutionRole",
            "Action": "iam:PassRole",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [execution_id, "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        }
    ]


def test_deploy_role_covers_the_change_set_lifecycle_hotswap_and_logs(template: Template) -> None:
    allowed = [s for s in deploy_role_statements(template) if s["Effect"] == "Allow"]
    actions = {action for statement in allowed for action in as_list(statement["Action"])}
    assert {
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:GetTemplate",
        "cloudformation:DeleteStack",
        "lambda:UpdateFunctionCode",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "logs:DescribeLogStreams",
        "logs:StartLiveTail",
        "s3:PutObject",
    } <= actions


def test_deploy_role_cannot_touch_the_link_stack_itself(template: Template) -> None:
    assert {
        "Sid": "NotTheLinkStack",
        "Effect": "Deny",
        "Action": "cloudformation:*",
        "Resource": join("arn:", PARTITION, ":cloudformation:", REGION, ":", ACCOUNT, ":stack/Default/*"),
    } in deploy_role_statements(template)


# --- execution role and boundary ---------------------------------------------------


def test_execution_role_is_for_cloudformation_and_carries_the_boundary(template: Template) -> None:
    boundary_id, _ = only(template.find_resources("AWS::IAM::ManagedPolicy"))
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "cloudformation.amazonaws.com"}})]
            },
            "PermissionsBoundary": {"Ref": boundary_id},
            "ManagedPolicyArns": [{"Ref": boundary_id}],
        },
    )


def test_boundary_name_is_derivable_from_the_region(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": join("apid-boundary-", REGION)})


@pytest.mark.parametrize(
    ("actions", "resource", "condition"),
    [
        pytest.param(
            [
                "iam:CreateUser",
                "iam:CreateAccessKey",
                "iam:CreateLoginProfile",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteUserPermissionsBoundary",
            ],
            "*",
            None,
            id="users-keys-boundary-removal",
        ),
        pytest.param(
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}},
            id="unbounded-roles",
        ),
        pytest.param(
            ["iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePolicy"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}},
            id="policies-of-unbounded-roles",
        ),
        pytest.param(
            [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
            ],
            BOUNDARY_ARN,
            None,
            id="the-boundary-itself",
        ),
        pytest.param(
            ["iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRole"],
            [
                join("arn:", PARTITION, ":iam::", ACCOUNT, ":role/apid-deploy-", REGION),
                join("arn:", PARTITION, ":iam::", ACCOUNT, ":role/apid-cfn-exec-", REGION),
            ],
            None,
            id="the-link-roles",
        ),
    ],
)
def test_boundary_denies_escalation(template: Template, actions: list[str], resource: Any, condition: Any) -> None:
    matching = [
        statement
        for statement in boundary_statements(template)
        if statement["Effect"] == "Deny"
        and set(actions) <= set(as_list(statement["Action"]))
        and statement["Resource"] == resource
        and statement.get("Condition") == condition
    ]
    assert matching, f"no Deny of {actions} on {resource} if {condition}"


def test_link_role_denies_target_the_roles_actually_created(template: Template) -> None:
    refs = worst_case_refs(template)
    roles = {
        "arn:aws-iso-b:iam::123456789012:role/" + render(role["Properties"]["RoleName"], refs)
        for role in template.find_resources("AWS::IAM::Role").values()
        if "RoleName" in role["Properties"]
    }
    (denied,) = [s["Resource"] for s in boundary_statements(template) if s["Sid"] == "DenyLinkRoleChanges"]
    assert set(render(denied, refs)) == roles


def test_boundary_grants_whole_services_only_on_api_direct_resources(template: Template) -> None:
    """``svc:*`` is acceptable only on apid-* names, or on API Gateway's id-only ARNs."""
    refs = worst_case_refs(template)
    broad = [
        (statement["Sid"], resource)
        for statement in boundary_statements(template)
        if statement["Effect"] == "Allow" and any(a.endswith(":*") for a in as_list(statement["Action"]))
        for resource in as_list(render(statement["Resource"], refs))
    ]
    assert len(broad) > 5
    api_direct_only = re.compile(r"[:/]apid-\*(/\*)?$|/apid/\*$|^arn:aws-iso-b:apigateway:ap-southeast-3::/")
    assert [(sid, resource) for sid, resource in broad if not api_direct_only.search(resource)] == []


def test_boundary_fits_the_managed_policy_size_limit(template: Template) -> None:
    rendered = render(boundary_statements(template), worst_case_refs(template))
    document = {"Version": "2012-10-17", "Statement": rendered}
    size = len(json.dumps(document, separators=(",", ":")))
    assert size <= MANAGED_POLICY_MAX_CHARS, f"boundary renders to {size} characters"


def test_no_statement_allows_every_action_on_every_resource(template: Template, custom: Template) -> None:
    for synthesized in (template, custom):
        found = list(statements(synthesized.to_json()))
        assert len(found) > 20
        admin = [
            s
            for s in found
            if s["Effect"] == "Allow" and "*" in as_list(s.get("Action")) and "*" in as_list(s.get("Resource"))
        ]
        assert admin == []


# --- asset bucket ------------------------------------------------------------------


def test_asset_bucket_is_private_encrypted_unversioned_and_expires_assets(template: Template) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "BucketName": join("apid-assets-", ACCOUNT, "-", REGION),
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": Match.absent(),
                "LifecycleConfiguration": {
                    "Rules": [
                        Match.object_like(
                            {"ExpirationInDays": 90, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
                        )
                    ]
                },
            },
        },
    )


def test_asset_bucket_refuses_plain_http(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_asset_bucket_is_not_emptied_by_a_custom_resource(template: Template) -> None:
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    template.resource_count_is("AWS::Lambda::Function", 0)


# --- overrides ---------------------------------------------------------------------


def test_every_default_can_be_overridden(custom: Template) -> None:
    custom.has_resource_properties("AWS::IAM::Role", {"RoleName": "acme-deploy-eu-west-1", "MaxSessionDuration": 7200})
    custom.has_resource_properties("AWS::IAM::Role", {"RoleName": "acme-cfn-exec-eu-west-1"})
    custom.has_resource_properties("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "acme-boundary-eu-west-1"})
    key_id, _ = only(custom.find_resources("AWS::KMS::Key"))
    custom.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "BucketName": "acme-assets-444455556666-eu-west-1",
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                            }
                        }
                    ]
                },
                "LifecycleConfiguration": {"Rules": [Match.object_like({"ExpirationInDays": 7})]},
            },
        },
    )
    custom.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": Match.array_with(["kms:Decrypt"]), "Resource": {"Fn::GetAtt": [key_id, "Arn"]}}
                        )
                    ]
                )
            }
        },
    )


def test_only_deliberate_wildcards_are_acknowledged_in_any_environment(synthesized: Synthesized) -> None:
    """Acknowledgments name each cdk-nag finding exactly, so they must match in an
    env-bound stack (literal account/region) as well as an env-agnostic one."""
    assert synthesized.nag_findings == [], "\n".join(synthesized.nag_findings)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"resource_prefix": "Api_Direct"}, "resource_prefix 'Api_Direct'"),
        ({"trusted_account_id": "12345"}, "trusted_account_id '12345' is not a 12-digit"),
    ],
)
def test_invalid_props_fail_with_one_clear_line(props: dict[str, str], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "Invalid")
    with pytest.raises(ValueError, match=message):
        AccountLink(stack, "Link", **{"trusted_account_id": TRUSTED_ACCOUNT, "external_id": "x" * 16, **props})


def test_a_literal_external_id_is_warned_about(synthesized: Synthesized) -> None:
    metadata = synthesized.literal_external_id_link.node.metadata
    warnings = [entry.data for entry in metadata if entry.type == "aws:cdk:warning"]
    assert any("external_id is a literal" in str(warning) for warning in warnings), warnings


def test_api_gateway_account_logging_role_is_set_and_survives_unlink(template: Template) -> None:
    """Access logging fails in a fresh account without API Gateway's account-level role."""
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [Match.object_like({"Principal": {"Service": "apigateway.amazonaws.com"}})]
                }
            }
        },
    )
    [(logical_id, role)] = roles.items()
    assert role["DeletionPolicy"] == "Retain"
    # Outside role/apid-*: nothing the boundary allows can touch it.
    assert role["Properties"]["Path"] == "/api-direct-link/" and "RoleName" not in role["Properties"]
    template.has_resource(
        "AWS::ApiGateway::Account",
        {"DeletionPolicy": "Retain", "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": [logical_id, "Arn"]}}},
    )


def test_boundary_no_longer_reaches_api_gateway_account_settings(template: Template) -> None:
    rendered = json.dumps([s["Resource"] for s in boundary_statements(template)])
    assert "/account" not in rendered


def test_boundary_reaches_rules_only_on_api_direct_buses(template: Template) -> None:
    """rule/apid-* would also match a rule named apid-… on the default bus, which carries
    all of the account's events."""
    [events] = [s for s in boundary_statements(template) if s.get("Action") == "events:*"]
    rules = [resource for resource in as_list(events["Resource"]) if ":rule/" in json.dumps(resource)]
    assert rules == [join("arn:", PARTITION, ":events:", REGION, ":", ACCOUNT, ":rule/apid-*/*")]


def test_functions_may_read_secrets_only_under_apid_and_decrypt_only_through_parameter_store(
    template: Template,
) -> None:
    refs = worst_case_refs(template)
    ssm = [render(s, refs) for s in boundary_statements(template) if "ssm" in json.dumps(s["Action"])]
    assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in ssm] == [
        (
            ["ssm:GetParameters", "ssm:GetParametersByPath"],
            "arn:aws-iso-b:ssm:ap-southeast-3:123456789012:parameter/apid/*",
        )
    ]
    [keys] = [s for s in boundary_statements(template) if s.get("Sid") == "ServiceManagedKeys"]
    via = render(keys["Condition"]["StringEquals"]["kms:ViaService"], refs)
    assert "ssm.ap-southeast-3.amazonaws.com" in via


def test_the_deploy_role_writes_secrets_but_never_reads_a_value(template: Template) -> None:
    actions = {
        action
        for statement in deploy_role_statements(template)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        if action.startswith("ssm:")
    }
    assert actions == {"ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:DescribeParameters", "ssm:PutParameter"}
    kms = [action for s in deploy_role_statements(template) for action in as_list(s["Action"]) if "kms:" in action]
    assert "kms:Decrypt" not in kms
