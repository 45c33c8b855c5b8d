"""Link a creator's AWS account to API-Direct: the roles and bucket every deploy uses.

The link is the one thing a creator deploys with their own credentials. After it,
API-Direct acts in the account only through ``deploy_role`` (assumed from the
trusted control plane account, and only with the creator's ExternalId), and
CloudFormation builds the API stack only through ``execution_role``. The rights of
the execution role and of every role the API stack creates are capped by
``permissions_boundary``, which is what makes the link safe to grant: it confines
API-Direct to resources named for it (``apid-*``) and closes the usual escalation
paths (IAM users and keys, unbounded roles, editing the boundary or the link's own
roles).

The API stack, the deploy engine and the control plane need the link's physical
names without looking them up; :class:`LinkNames` derives them in one place.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_cdk import (
    Annotations,
    ArnFormat,
    Duration,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from api_direct.constructs.acknowledgments import acknowledge, acknowledge_wildcards, skip_checkov
from api_direct.contracts import MANAGED_TAG

#: Every resource API-Direct creates carries this prefix: stacks are named
#: ``apid-...`` and CloudFormation-generated names start with the stack name.
RESOURCE_PREFIX = "apid"

_PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
_ACCOUNT_ID_PATTERN = re.compile(r"\d{12}")

#: Role changes the boundary grants on API-Direct roles and denies on the link's own.
_ROLE_WRITE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
_ROLE_READ_ACTIONS = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
)

#: Services that may use AWS-managed KMS keys on behalf of API-Direct resources.
_KMS_VIA_SERVICES = ("dynamodb", "lambda", "logs", "s3", "sqs", "ssm")

#: Services the API stack's roles are passed to (function roles, API Gateway's
#: CloudWatch role, EventBridge target roles, CodeDeploy's role for a canary).
_ROLE_CONSUMERS = ("apigateway", "codedeploy", "events", "lambda")


@dataclass(frozen=True)
class LinkNames:
    """Physical names of what the link creates, derivable from account and region.

    Deterministic names let the API stack apply the boundary by name, its
    synthesizer upload to the asset bucket by name, and the control plane rebuild
    role ARNs; region is part of each name so one account can be linked in several
    regions. ``account`` and ``region`` may be tokens.
    """

    account: str
    region: str
    prefix: str = RESOURCE_PREFIX

    @classmethod
    def of(cls, scope: IConstruct, prefix: str = RESOURCE_PREFIX) -> "LinkNames":
        """Names for the account and region of the stack that holds ``scope``."""
        stack = Stack.of(scope)
        return cls(account=stack.account, region=stack.region, prefix=prefix)

    @property
    def resources(self) -> str:
        """Name pattern of everything the API stacks create (and of their stacks)."""
        return f"{self.prefix}-*"

    @property
    def log_groups(self) -> tuple[str, ...]:
        """Log group name patterns: Lambda's default, API-Direct's named ones, and
        CloudFormation-generated names (which start with the stack name)."""
        return f"/aws/lambda/{self.prefix}-*", f"/{self.prefix}/*", self.resources

    @property
    def asset_bucket(self) -> str:
        return f"{self.prefix}-assets-{self.account}-{self.region}"

    @property
    def permissions_boundary(self) -> str:
        return f"{self.prefix}-boundary-{self.region}"

    @property
    def deploy_role(self) -> str:
        return f"{self.prefix}-deploy-{self.region}"

    @property
    def execution_role(self) -> str:
        return f"{self.prefix}-cfn-exec-{self.region}"

    @property
    def github_role(self) -> str:
        """The role GitHub Actions deploy with (``GitHubDeployAccess``), when the link admits a repository."""
        return f"{self.prefix}-github-{self.region}"


class AccountLink(Construct):
    """Deploy role, CloudFormation execution role, permissions boundary and asset bucket.

    Exposes ``deploy_role``, ``execution_role``, ``permissions_boundary``,
    ``asset_bucket`` and ``names``; add statements to ``permissions_boundary`` to let
    API stacks use another service (the execution role's identity policy follows).

    ``external_id`` should be a token (a ``CfnParameter`` with ``no_echo``), so the
    value never sits in the synthesized template; a literal is accepted but warned
    about. ``resource_prefix`` must match the prefix the API stacks are named with.
    ``asset_expiry`` is safe to keep short: deployed functions keep their own copy of
    the code, and the deploy engine re-uploads any asset it finds missing.
    ``cost_explorer`` lets the deploy role read the account's costs (``ce:GetCostAndUsage``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trusted_account_id: str,
        external_id: str,
        resource_prefix: str = RESOURCE_PREFIX,
        max_session_duration: Duration = Duration.hours(1),
        asset_expiry: Duration = Duration.days(90),
        asset_encryption_key: kms.IKey | None = None,
        asset_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        cost_explorer: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _PREFIX_PATTERN.fullmatch(resource_prefix):
            raise ValueError(
                f"resource_prefix {resource_prefix!r} must be 1-20 lowercase letters, digits"
                " or hyphens, starting with a letter (it is part of bucket and role names)"
            )
        if not (Token.is_unresolved(trusted_account_id) or _ACCOUNT_ID_PATTERN.fullmatch(trusted_account_id)):
            raise ValueError(f"trusted_account_id {trusted_account_id!r} is not a 12-digit AWS account id")
        if not Token.is_unresolved(external_id):
            Annotations.of(self).add_warning_v2(
                "api-direct:literal-external-id",
                "external_id is a literal and will appear in the template; pass a NoEcho CfnParameter",
            )

        self.names = LinkNames.of(self, resource_prefix)
        self._trusted_account_id = trusted_account_id

        self.asset_bucket = s3.Bucket(
            self,
            "AssetBucket",
            bucket_name=self.names.asset_bucket,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS if asset_encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=asset_encryption_key,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAssets",
                    expiration=asset_expiry,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Not auto_delete_objects: that adds a custom-resource Lambda to the link.
            # `apid aws unlink` empties the bucket before it deletes the stack.
            removal_policy=asset_removal_policy,
        )
        no_access_logs = (
            "The bucket only holds content-hashed build artifacts written by the deploy role,"
            " whose sessions CloudTrail already records; an access-log bucket would add a second"
            " bucket to secure, expire and empty on unlink for no extra attribution."
        )
        acknowledge(self.asset_bucket, "AwsSolutions-S1", no_access_logs)
        skip_checkov(
            self.asset_bucket,
            {
                "CKV_AWS_18": no_access_logs,
                "CKV_AWS_21": "Assets are named by their content hash, so an object is never overwritten with other"
                " content and there is no earlier version to recover; the deploy engine re-uploads any that is missing."
                " Versions would outlive the expiry rule and `apid aws unlink`, which deletes current objects only.",
            },
        )

        self.permissions_boundary = iam.ManagedPolicy(
            self,
            "PermissionsBoundary",
            managed_policy_name=self.names.permissions_boundary,
            description="Ceiling for the API-Direct CloudFormation execution role and every role it creates.",
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            role_name=self.names.execution_role,
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            permissions_boundary=self.permissions_boundary,
            # The boundary doubles as the identity policy: effective rights are the
            # intersection, and one document cannot drift from the other.
            managed_policies=[self.permissions_boundary],
            description="CloudFormation builds API-Direct stacks with this role.",
        )
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            role_name=self.names.deploy_role,
            assumed_by=iam.AccountPrincipal(trusted_account_id),
            external_ids=[external_id],
            max_session_duration=max_session_duration,
            description="API-Direct plans, deploys, hotswaps and tails logs with this role.",
        )

        self._allow_api_stack_services()
        self._deny_escalation()
        self._allow_deploy_engine()
        if cost_explorer:
            self._allow_cost_explorer()
        self.api_gateway_logs_role = self._enable_api_gateway_logging()

    def _allow_cost_explorer(self) -> None:
        """`apid costs` reads the month's bill of API-Direct's resources from Cost Explorer, when the creator opted
        in (`apid aws link --cost-explorer`): each request costs the account $0.01, so it is not granted unasked."""
        self._allow(
            self.deploy_role,
            "ReadCostExplorer",
            ["ce:GetCostAndUsage"],
            ["*"],
            wildcards="Cost Explorer has no resource-level permissions: IAM requires Resource *. GetCostAndUsage"
            f" reads the account's costs and changes nothing; `apid costs` asks only for those tagged {MANAGED_TAG}.",
        )

    def _allow_domain_certificates(self) -> None:
        """What a deploy does for a custom domain before its stack changes: find or request the certificate,
        write its validation record to the account's zone, and check no other API has the domain."""
        allow = partial(self._allow, self.deploy_role)
        managed = {f"aws:RequestTag/{MANAGED_TAG}": "true"}
        allow(
            "RequestDomainCertificates",
            ["acm:RequestCertificate"],
            ["*"],
            conditions={"StringEquals": {"acm:ValidationMethod": "DNS", **managed}},
            wildcards="RequestCertificate has no resource type (the certificate does not exist yet); only"
            " DNS-validated certificates tagged as API-Direct's can be requested.",
        )
        certificates = self._arn("acm", "certificate", "*")
        allow(
            "TagDomainCertificates",
            ["acm:AddTagsToCertificate"],
            [certificates],
            conditions={"StringEquals": managed, "ForAllValues:StringEquals": {"aws:TagKeys": [MANAGED_TAG]}},
            wildcards="Tags go on the certificate a request makes (its id is generated); only API-Direct's own tag.",
        )
        allow(
            "ReadDomainCertificates",
            ["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
            [certificates],
            wildcards="The deploy finds its certificate among the region's by domain and tag, and reads its"
            " validation record; certificate ids are generated.",
        )
        allow(
            "FindDomainCertificatesAndZones",
            ["acm:ListCertificates", "route53:ListHostedZonesByName"],
            ["*"],
            wildcards="These list actions have no resource types; IAM requires Resource *.",
        )
        allow(
            "WriteValidationRecords",
            ["route53:ChangeResourceRecordSets"],
            [self._arn("route53", "hostedzone", "*", region="", account="")],
            conditions={
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
                    "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
                },
                "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_*"]},
            },
            wildcards="The zone holding the creator's domain is found at deploy time; only UPSERTs of CNAMEs whose"
            " names start with an underscore (ACM's validation records) are allowed in it.",
        )
        allow(
            "ReadCustomDomains",
            ["apigateway:GET"],
            [self._domain_names_arn("/domainnames/*")],
            wildcards="The deploy checks whether another stack already serves the creator's domain.",
        )

    def _enable_api_gateway_logging(self) -> iam.Role:
        """Give API Gateway the account-level CloudWatch role that access logging requires.

        A fresh account has none, and a stage with access logs then fails to create.
        It is account setup, so it belongs here (deployed with the creator's own
        credentials) rather than in the API stack. The setting serves every REST API
        in the region, the creator's own included, so the role keeps AWS's policy
        for it, and both survive an unlink: deleting them would break other APIs' logs.
        The path keeps the role outside the ``role/apid-*`` the boundary manages.
        """
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            path="/api-direct-link/",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
            description="API Gateway writes access logs of this region's REST APIs with this role.",
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "AWS's own policy for API Gateway's account-wide logging role; it serves every REST API in"
            " the region, not only API-Direct's, so it must not be narrowed to apid-* log groups.",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        return role

    def _arn(self, service: str, resource: str, name: str | None = None, **parts: Any) -> str:
        """ARN in this stack's partition (and, unless overridden, account and region)."""
        return Stack.of(self).format_arn(service=service, resource=resource, resource_name=name, **parts)

    def _colon_arn(self, service: str, resource: str, name: str) -> str:
        return self._arn(service, resource, name, arn_format=ArnFormat.COLON_RESOURCE_NAME)

    def _domain_names_arn(self, path: str) -> str:
        return self._arn("apigateway", path, account="", arn_format=ArnFormat.NO_RESOURCE_NAME)

    def _role_arn(self, name: str) -> str:
        return self._arn("iam", "role", name, region="")

    @property
    def _boundary_arn(self) -> str:
        """Built from the name, not a ``Ref``: the boundary's own statements use it."""
        return self._arn("iam", "policy", self.names.permissions_boundary, region="")

    @property
    def _secrets_arn(self) -> str:
        """Every parameter below ``/<prefix>/``: the API stacks' secrets (``contracts.secrets_path``)."""
        return self._arn("ssm", "parameter", f"{self.names.prefix}/*")

    @property
    def _log_group_arns(self) -> list[str]:
        return [self._colon_arn("logs", "log-group", pattern) for pattern in self.names.log_groups]

    def _allow(
        self,
        into: iam.ManagedPolicy | iam.Role,
        sid: str,
        actions: Sequence[str],
        resources: Sequence[str],
        *,
        wildcards: str | None = None,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        """Add an Allow to the boundary or to a role's identity policy.

        ``wildcards`` says why the statement's wildcards are deliberate; it becomes
        the cdk-nag acknowledgment of exactly those findings, next to the statement.
        """
        statement = iam.PolicyStatement(
            sid=sid, actions=list(actions), resources=list(resources), conditions=conditions
        )
        if isinstance(into, iam.ManagedPolicy):
            into.add_statements(statement)
        else:
            into.add_to_principal_policy(statement)
        if wildcards:
            acknowledge_wildcards(into, statement, wildcards)

    def _allow_api_stack_services(self) -> None:
        """What the API stack needs to be built, and its functions need at run time.

        Wherever a service's ARNs carry names, access is limited to ``apid-*``
        names; API Gateway ARNs carry only ids, so those are scoped to the region.
        """
        bound = partial(self._allow, self.permissions_boundary)
        own = self.names.resources
        region = Stack.of(self).region
        bound(
            "Functions",
            ["lambda:*"],
            [self._colon_arn("lambda", "function", own)],
            wildcards="lambda:* on apid-* functions: CloudFormation manages their whole lifecycle;"
            " CloudFormation-generated names start with the apid- stack name.",
        )
        bound(
            "Tables",
            ["dynamodb:*"],
            [self._arn("dynamodb", "table", own)],
            wildcards="dynamodb:* on apid-* tables (and their indexes and streams): the API stack"
            " creates them and its functions read and write them.",
        )
        bound(
            "EventBridge",
            ["events:*"],
            [self._arn("events", "event-bus", own), self._arn("events", "rule", f"{own}/*")],
            wildcards="events:* on apid-* buses and the rules on them: key and plan updates arrive"
            " on the API stack's own bus. A rule's ARN names its bus (rule/<bus>/<rule>), so rules"
            " on the account's default bus, whatever their name, stay out of reach.",
        )
        bound(
            "EventsToControlPlane",
            ["events:PutEvents"],
            [self._arn("events", "event-bus", "*", region="*", account=self._trusted_account_id)],
            wildcards="Usage records go to the control plane's bus in the trusted account; that"
            " bus's resource policy decides which linked accounts it admits.",
        )
        bound(
            "Queues",
            ["sqs:*"],
            [self._arn("sqs", own, arn_format=ArnFormat.NO_RESOURCE_NAME)],
            wildcards="sqs:* on apid-* queues (the API stack's dead-letter queues).",
        )
        bound(
            "LogGroups",
            ["logs:*"],
            self._log_group_arns,
            wildcards="logs:* on API-Direct log groups: functions and the API write to them, the"
            " usage forwarder subscribes to them.",
        )
        bound(
            "DescribeLogGroups",
            ["logs:DescribeLogGroups"],
            [self._colon_arn("logs", "log-group", "*")],
            wildcards="DescribeLogGroups is a list action: IAM only matches it against log-group:*.",
        )
        bound(
            "Alarms",
            ["cloudwatch:*"],
            [self._colon_arn("cloudwatch", "alarm", own)],
            wildcards="cloudwatch:* on apid-* alarms created by the API stack.",
        )
        bound(
            "GradualDeployments",
            ["codedeploy:*"],
            [
                self._colon_arn("codedeploy", "application", own),
                self._colon_arn("codedeploy", "deploymentgroup", f"{own}/*"),
                self._colon_arn("codedeploy", "deploymentconfig", own),
            ],
            wildcards="codedeploy:* on apid-* applications, their deployment groups and the deployment configs"
            " named for the stack, which a canary deploy creates and CloudFormation drives.",
        )
        bound(
            "Telemetry",
            [
                "cloudwatch:PutMetricData",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            ],
            ["*"],
            wildcards="These telemetry actions have no resource types; IAM requires Resource *.",
        )
        bound(
            "ApiGateway",
            ["apigateway:*"],
            [
                self._arn("apigateway", path, account="", arn_format=ArnFormat.NO_RESOURCE_NAME)
                for path in ("/restapis*", "/usageplans*", "/apikeys*", "/tags*")
            ],
            wildcards="API Gateway ARNs hold generated ids, not names, so REST APIs, usage plans"
            " and API keys can only be scoped to the region; consumer keys are created at run time.",
        )
        bound(
            "CustomDomains",
            ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
            [self._domain_names_arn("/domainnames"), self._domain_names_arn("/domainnames/*")],
            wildcards="A custom domain (and its base path mappings below it) is named by the creator's own domain,"
            " not apid-; the deploy engine refuses a domain another stack uses before the stack changes.",
        )
        # API Gateway makes its service-linked role the first time an account needs it (a custom domain's
        # certificate is managed through it), as the caller, so a fresh account's first domain needs this.
        bound(
            "ApiGatewayServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [self._role_arn("aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway")],
            conditions={"StringEquals": {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"}},
        )
        zones = self._arn("route53", "hostedzone", "*", region="", account="")
        bound(
            "DomainAliasRecords",
            ["route53:ChangeResourceRecordSets"],
            [zones],
            conditions={"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["A", "AAAA"]}},
            wildcards="The zone holding the creator's domain is theirs, found at deploy time; only A and AAAA"
            " records (the domain's aliases) can be changed in it.",
        )
        bound(
            "ReadDomainZones",
            ["route53:GetChange", "route53:GetHostedZone", "route53:ListResourceRecordSets"],
            [zones, self._arn("route53", "change", "*", region="", account="")],
            wildcards="CloudFormation reads the zone and waits for its record changes; change ids are generated.",
        )
        bound(
            "ServiceManagedKeys",
            [
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            [self._arn("kms", "key", "*")],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in _KMS_VIA_SERVICES]
                }
            },
            wildcards="Key ids are not known in advance; the kms:ViaService condition limits use"
            " to encryption performed by the API stack's services.",
        )
        bound(
            "ReadSecrets",
            ["ssm:GetParameters", "ssm:GetParametersByPath"],
            [self._secrets_arn],
            wildcards="The app functions read their stage's secrets, SecureString parameters under"
            f" /{self.names.prefix}/<api>/<stage>; each function's own policy names its one path.",
        )
        bound(
            "ReadAssets",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
            [self.asset_bucket.bucket_arn, self.asset_bucket.arn_for_objects("*")],
            wildcards="Lambda reads function code from any key of the asset bucket, and only it.",
        )
        own_roles = self._role_arn(own)
        bound(
            "ManageRoles",
            ["iam:CreateRole", *_ROLE_WRITE_ACTIONS, *_ROLE_READ_ACTIONS],
            [own_roles],
            wildcards="The API stack creates its function roles; names start with the apid- stack"
            " name, and the Deny statements require each to carry this boundary.",
        )
        bound(
            "PassRoles",
            ["iam:PassRole"],
            [own_roles],
            conditions={"StringEquals": {"iam:PassedToService": [f"{s}.amazonaws.com" for s in _ROLE_CONSUMERS]}},
            wildcards="Roles the API stack creates are passed to its functions, API Gateway and rules.",
        )

    def _deny_escalation(self) -> None:
        """Explicit denies that hold whatever the identity policies of bounded roles say."""
        unless_bound_by_this = {"StringNotEquals": {"iam:PermissionsBoundary": self._boundary_arn}}
        denies = [
            iam.PolicyStatement(
                sid="DenyUsersKeysAndBoundaryRemoval",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:CreateUser",
                    "iam:DeleteRolePermissionsBoundary",
                    "iam:DeleteUserPermissionsBoundary",
                ],
                resources=["*"],
            ),
            # One condition key serves both intents: for CreateRole and
            # PutRolePermissionsBoundary it is the boundary being set, for the policy
            # actions the boundary the role already has.
            iam.PolicyStatement(
                sid="DenyRolesNotBoundByThisPolicy",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:AttachRolePolicy",
                    "iam:CreateRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:PutRolePermissionsBoundary",
                    "iam:PutRolePolicy",
                ],
                resources=["*"],
                conditions=unless_bound_by_this,
            ),
            iam.PolicyStatement(
                sid="DenyBoundaryChanges",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                ],
                resources=[self._boundary_arn],
            ),
            # ARNs from names, not GetAtt: the execution role references the boundary.
            iam.PolicyStatement(
                sid="DenyLinkRoleChanges",
                effect=iam.Effect.DENY,
                actions=[*_ROLE_WRITE_ACTIONS, "iam:PassRole"],
                resources=[self._role_arn(self.names.deploy_role), self._role_arn(self.names.execution_role)],
            ),
        ]
        self.permissions_boundary.add_statements(*denies)

    def _allow_deploy_engine(self) -> None:
        """Only what plan, deploy, hotswap, logs, secrets and the prices refresh do with the deploy role."""
        allow = partial(self._allow, self.deploy_role)
        own = self.names.resources
        allow(
            "ChangeSets",
            [
                "cloudformation:CreateChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplate",
                "cloudformation:ListChangeSets",
                "cloudformation:TagResource",
            ],
            [self._arn("cloudformation", "stack", f"{own}/*")],
            wildcards="API stacks are named apid-<name>; the stack id after the slash is generated.",
        )
        # In case the link stack itself was given an apid- name.
        self.deploy_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="NotTheLinkStack",
                effect=iam.Effect.DENY,
                actions=["cloudformation:*"],
                resources=[self._arn("cloudformation", "stack", f"{Stack.of(self).stack_name}/*")],
            )
        )
        allow(
            "PassExecutionRole",
            ["iam:PassRole"],
            [self.execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        )
        allow(
            "HotswapFunctionCode",
            ["lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode"],
            [self._colon_arn("lambda", "function", own)],
            wildcards="Code-only hotswap of the API stack's functions, whose names start with apid-.",
        )
        allow(
            "LiveAlias",
            ["lambda:GetAlias", "lambda:ListVersionsByFunction", "lambda:UpdateAlias"],
            [self._colon_arn("lambda", "function", own)],
            wildcards="`apid versions` and `apid rollback` read the app's versions and move its live alias"
            " (function:apid-*:live), and only on API-Direct's functions.",
        )
        allow(
            "ReadApiLogs",
            ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:StartLiveTail"],
            self._log_group_arns,
            wildcards="`apid logs` reads the API stack's log groups, and only those.",
        )
        self._allow_domain_certificates()
        allow(
            "ManageSecrets",
            ["ssm:AddTagsToResource", "ssm:DeleteParameter", "ssm:PutParameter"],
            [self._secrets_arn],
            wildcards="`apid secrets` writes and deletes the API stacks' secrets, parameters under"
            f" /{self.names.prefix}/; it never reads a value back.",
        )
        allow(
            "ListSecrets",
            ["ssm:DescribeParameters"],
            ["*"],
            wildcards="DescribeParameters has no resource type: IAM requires Resource *. It lists names and"
            " versions, never values.",
        )
        allow(
            "ReadPrices",
            ["pricing:GetProducts"],
            ["*"],
            wildcards="`apid costs --refresh-prices` reads AWS's public price list: GetProducts has no resource"
            " type, so IAM requires Resource *; it reads nothing of the account's and costs nothing.",
        )
        grant_reason = (
            "CDK's bucket grant: object-level wildcards within the asset bucket (and data-key"
            " actions on its key), where the deploy engine uploads content-hashed assets and templates."
        )
        for statement in self.asset_bucket.grant_read_write(self.deploy_role).principal_statements:
            acknowledge_wildcards(self.deploy_role, statement, grant_reason)
        if self.asset_bucket.encryption_key:
            # The bucket grant also grants on the key, but does not return that statement.
            for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
                acknowledge(self.deploy_role, f"AwsSolutions-IAM5[Action::{action}]", grant_reason)
