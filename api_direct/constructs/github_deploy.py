"""Let one GitHub repository's workflows deploy through the link, with no stored keys.

GitHub Actions can present a short-lived OIDC token that names the repository and
the branch (or environment) the job runs for, in its ``sub`` claim. AWS accepts
such tokens from an IAM OIDC provider for ``token.actions.githubusercontent.com``
and hands out a role's credentials when that role's trust policy admits the
token's claims. This construct adds that provider (or uses the account's existing
one: an account holds one provider per URL) and a role only tokens with exactly
these claims can assume, whose one right is to assume the link's deploy role.

The conditions are ``StringEquals``, never ``StringLike``: a ``sub`` pattern such as
``repo:owner/*`` would admit every repository of the owner, and one on the branch,
a pull request's merge ref from a fork. A pull request's token says
``repo:OWNER/REPO:pull_request``, which no subject here equals.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from api_direct.constructs.account_link import LinkNames

#: GitHub's token issuer; the provider's URL is this, and its ARN ends in it without the scheme.
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = GITHUB_OIDC_URL.removeprefix("https://")
#: The audience aws-actions/configure-aws-credentials asks GitHub to put in the token.
STS_AUDIENCE = "sts.amazonaws.com"
#: Outside ``role/apid-*``, which the permissions boundary lets API stacks manage: a stack
#: deployed through the link must not be able to rewrite who may assume this role.
GITHUB_ROLE_PATH = "/api-direct-link/"

# GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not at either end;
# a repository name is 1-100 letters, digits, '.', '-' or '_' (not '.' or '..').
_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
# git check-ref-format: no control characters, space, ~ ^ : ? * [ \ or "..", "@{", "//";
# no component starting with "." or ending with ".lock"; not "@"; no leading or trailing "/" or ".".
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
# An environment name as the token's sub carries it: no ':' (the claim's separator) and no wildcards.
_ENVIRONMENT = re.compile(r"[A-Za-z0-9_.-](?:[A-Za-z0-9 _.-]{0,253}[A-Za-z0-9_.-])?")


@dataclass(frozen=True)
class GitHubSubject:
    """Who may deploy: one repository and one branch or environment, as the token's ``sub`` says it."""

    repository: str
    branch: str | None = None
    environment: str | None = None

    def __post_init__(self) -> None:
        owner, _, name = self.repository.partition("/")
        if not (_OWNER.fullmatch(owner) and _REPOSITORY.fullmatch(name) and name not in (".", "..")):
            raise ValueError(f"{self.repository!r} is not a GitHub repository: use OWNER/REPO, e.g. octo-org/weather")
        if (self.branch is None) == (self.environment is None):
            raise ValueError("name exactly one of a branch or an environment")
        if self.branch is not None and not _valid_branch(self.branch):
            raise ValueError(f"{self.branch!r} is not a valid git branch name")
        if self.environment is not None and not _ENVIRONMENT.fullmatch(self.environment):
            raise ValueError(
                f"{self.environment!r} is not a usable GitHub environment name (letters, digits, spaces, '.', '-',"
                " '_'; at most 255)"
            )

    @classmethod
    def from_sub(cls, sub: str) -> "GitHubSubject":
        """The subject a ``sub`` claim of :attr:`sub`'s two shapes names."""
        _, repository, kind, value = (sub.split(":", 3) + ["", "", ""])[:4]
        if kind == "environment":
            return cls(repository, environment=value)
        if kind == "ref" and value.startswith("refs/heads/"):
            return cls(repository, branch=value.removeprefix("refs/heads/"))
        raise ValueError(f"{sub!r} names neither a branch nor an environment of a repository")

    @property
    def sub(self) -> str:
        """The ``sub`` claim GitHub puts in this job's token (a job with an environment names it, not its ref)."""
        scope = f"environment:{self.environment}" if self.environment else f"ref:refs/heads/{self.branch}"
        return f"repo:{self.repository}:{scope}"


def _valid_branch(branch: str) -> bool:
    components = branch.split("/")
    return not (
        _BRANCH_FORBIDDEN.search(branch)
        or branch == "@"
        or branch.endswith(".")
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    )


def github_provider_arn(partition: str, account_id: str) -> str:
    """The ARN IAM gives GitHub's provider in an account: its URL is its name, so it is known in advance."""
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


class GitHubDeployAccess(Construct):
    """GitHub's OIDC provider (unless the account has one), and a role only ``subjects`` can assume.

    The role (``role``, named ``names.github_role``) may only assume ``deploy_role``,
    which in turn trusts it: the deploy role's other principal needs the link's
    ExternalId, which CI never holds. ``subjects`` all name one repository; several
    admit several branches or environments, each by its exact ``sub``.
    ``existing_provider_arn`` is the provider the account already has (an account
    holds one per URL, and creating a second fails); without it the provider is
    created here and exposed as ``provider``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        subjects: Sequence[GitHubSubject],
        deploy_role: iam.Role,
        names: LinkNames,
        existing_provider_arn: str | None = None,
        max_session_duration: Duration = Duration.hours(1),
    ) -> None:
        super().__init__(scope, construct_id)
        if not subjects or len({subject.repository for subject in subjects}) != 1:
            raise ValueError("subjects must name one GitHub repository, with one or more branches or environments")
        self.provider: iam.CfnOIDCProvider | None = None
        if existing_provider_arn is None:
            # The L1 resource: CDK's OpenIdConnectProvider is a custom resource with a Lambda of its own.
            self.provider = iam.CfnOIDCProvider(self, "Provider", url=GITHUB_OIDC_URL, client_id_list=[STS_AUDIENCE])
            provider_arn = self.provider.attr_arn
        else:
            provider_arn = existing_provider_arn
        self.role = iam.Role(
            self,
            "Role",
            role_name=names.github_role,
            path=GITHUB_ROLE_PATH,
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": sorted(subject.sub for subject in subjects),
                    }
                },
            ),
            max_session_duration=max_session_duration,
            description=f"GitHub Actions of {subjects[0].repository} deploy through API-Direct's link with this role.",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="AssumeDeployRole", actions=["sts:AssumeRole"], resources=[deploy_role.role_arn])
        )
        deploy_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                sid="GitHubDeploys", actions=["sts:AssumeRole"], principals=[iam.ArnPrincipal(self.role.role_arn)]
            )
        )
