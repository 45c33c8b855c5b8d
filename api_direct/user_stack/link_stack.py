"""The stack `apid aws link` deploys into a creator's account with their own credentials."""

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from api_direct.constructs.account_link import AccountLink
from api_direct.constructs.github_deploy import GitHubDeployAccess, GitHubSubject

#: STS accepts 2-1224 characters from this set; the control plane issues at least 16.
_EXTERNAL_ID_PATTERN = r"[\w+=,.@:/-]*"


class AccountLinkStack(cdk.Stack):
    """An :class:`AccountLink` whose ExternalId arrives as a NoEcho parameter.

    The ExternalId is supplied at deploy time, so it never appears in the template,
    in the outputs or in the console. The stack has no assets, so by default it
    needs no ``cdk bootstrap``: linking is the first thing a creator does.

    With ``github`` subjects it also admits that repository's workflows
    (:class:`GitHubDeployAccess`), through ``github_provider_arn`` when the account
    already has GitHub's OIDC provider. With ``cost_explorer`` its deploy role may read
    the account's costs from Cost Explorer (`apid costs`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trusted_account_id: str,
        github: Sequence[GitHubSubject] = (),
        github_provider_arn: str | None = None,
        cost_explorer: bool = False,
        synthesizer: cdk.IStackSynthesizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, synthesizer=synthesizer or cdk.BootstraplessSynthesizer(), **kwargs)
        external_id = cdk.CfnParameter(
            self,
            "ExternalId",
            type="String",
            no_echo=True,
            min_length=16,
            max_length=1224,
            allowed_pattern=_EXTERNAL_ID_PATTERN,
            description="ExternalId the control plane issued for this account, required to assume the deploy role",
        )
        self.link = AccountLink(
            self,
            "Link",
            trusted_account_id=trusted_account_id,
            external_id=external_id.value_as_string,
            cost_explorer=cost_explorer,
        )
        outputs = {
            "DeployRoleArn": self.link.deploy_role.role_arn,
            "ExecutionRoleArn": self.link.execution_role.role_arn,
            "AssetBucketName": self.link.asset_bucket.bucket_name,
            "PermissionsBoundaryArn": self.link.permissions_boundary.managed_policy_arn,
        }
        self.github: GitHubDeployAccess | None = None
        if github:
            self.github = GitHubDeployAccess(
                self,
                "GitHub",
                subjects=github,
                deploy_role=self.link.deploy_role,
                names=self.link.names,
                existing_provider_arn=github_provider_arn,
            )
            outputs["GitHubRoleArn"] = self.github.role.role_arn
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)
