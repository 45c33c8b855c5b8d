"""GitHubDeployAccess in the link stack: only the named repository's branch or environment may deploy.

The trust policy is checked twice: as the template states it, and evaluated
(tests/trust_policy.py) against the tokens GitHub issues, since moto assumes any
role whatever its conditions say.
"""

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from api_direct.constructs.github_deploy import GitHubSubject
from api_direct.user_stack.link_stack import AccountLinkStack
from tests.compliance import lint_errors, nag_findings
from tests.example_project import CONTROL_PLANE_ACCOUNT
from tests.trust_policy import Request, allows, web_identity

MAIN = GitHubSubject("octo-org/weather", branch="main")
EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def link_stack(*subjects: GitHubSubject, provider: str | None = None) -> Template:
    app = cdk.App()
    stack = AccountLinkStack(
        app,
        "Link",
        stack_name="apid-link",
        trusted_account_id=CONTROL_PLANE_ACCOUNT,
        github=subjects,
        github_provider_arn=provider,
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return link_stack(MAIN)


def role(template: Template, name_part: str) -> dict[str, Any]:
    roles = template.find_resources("AWS::IAM::Role")
    [found] = [r for r in roles.values() if name_part in str(r["Properties"].get("RoleName"))]
    return found


def github_trust(template: Template) -> dict[str, Any]:
    return role(template, "apid-github-")["Properties"]["AssumeRolePolicyDocument"]  # type: ignore[no-any-return]


def provider_reference(template: Template) -> Any:
    [logical_id] = template.find_resources("AWS::IAM::OIDCProvider")
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_the_provider_is_github_s_for_sts_without_a_custom_resource(template: Template) -> None:
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]},
    )
    template.resource_count_is("AWS::Lambda::Function", 0)
    template.resource_count_is("Custom::AWSCDKOpenIdConnectProvider", 0)


def test_the_trust_names_the_audience_and_the_exact_subject(template: Template) -> None:
    assert github_trust(template)["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": ["repo:octo-org/weather:ref:refs/heads/main"],
                }
            },
            "Effect": "Allow",
            "Principal": {"Federated": provider_reference(template)},
        }
    ]


def test_the_role_may_only_assume_the_deploy_role(template: Template) -> None:
    github_role = next(k for k, v in template.find_resources("AWS::IAM::Role").items() if "apid-github-" in str(v))
    deploy_role = next(k for k, v in template.find_resources("AWS::IAM::Role").items() if "apid-deploy-" in str(v))
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": github_role} in p["Properties"]["Roles"]
    ]
    assert policies == [
        {
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Resource": {"Fn::GetAtt": [deploy_role, "Arn"]},
                    "Sid": "AssumeDeployRole",
                }
            ],
            "Version": "2012-10-17",
        }
    ]
    assert "ManagedPolicyArns" not in role(template, "apid-github-")["Properties"]


def test_the_role_sits_outside_the_roles_api_stacks_may_manage(template: Template) -> None:
    """The boundary lets API stacks change role/apid-*; a path keeps this role's trust out of their reach."""
    properties = role(template, "apid-github-")["Properties"]
    assert properties["Path"] == "/api-direct-link/" and properties["MaxSessionDuration"] == 3600


GITHUB_ROLE = "arn:aws:iam::123456789012:role/api-direct-link/apid-github-us-east-1"


def deploy_trust(template: Template) -> Any:
    """The deploy role's trust, with the GitHub role's reference resolved to the ARN it stands for."""
    document = role(template, "apid-deploy-")["Properties"]["AssumeRolePolicyDocument"]
    github_role = next(k for k, v in template.find_resources("AWS::IAM::Role").items() if "apid-github-" in str(v))
    for statement in document["Statement"]:
        if statement["Principal"].get("AWS") == {"Fn::GetAtt": [github_role, "Arn"]}:
            statement["Principal"]["AWS"] = GITHUB_ROLE
    return document


def test_the_deploy_role_trusts_the_github_role_and_still_wants_the_external_id_from_its_account() -> None:
    document = deploy_trust(link_stack(MAIN))
    assert allows(document, Request("sts:AssumeRole", {"AWS": GITHUB_ROLE}))
    account_root = document["Statement"][0]["Principal"]["AWS"]
    assert document["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert not allows(document, Request("sts:AssumeRole", {"AWS": account_root}))
    other_role = "arn:aws:iam::123456789012:role/api-direct-link/apid-github-eu-west-1"
    assert not allows(document, Request("sts:AssumeRole", {"AWS": other_role}))


def test_only_the_linked_branch_s_token_is_admitted(template: Template) -> None:
    trust, provider = github_trust(template), provider_reference(template)
    assert allows(trust, web_identity(provider, "repo:octo-org/weather:ref:refs/heads/main"))


@pytest.mark.parametrize(
    "sub",
    [
        "repo:octo-org/forecast:ref:refs/heads/main",  # another repository of the owner
        "repo:evil-org/weather:ref:refs/heads/main",  # a same-named repository elsewhere
        "repo:octo-org/weather:ref:refs/heads/dev",  # another branch
        "repo:octo-org/weather:ref:refs/heads/main-2",  # a branch the linked one prefixes
        "repo:octo-org/weather:pull_request",  # a pull request, from a fork or not
        "repo:octo-org/weather:ref:refs/tags/main",  # a tag named like the branch
        "repo:octo-org/weather:environment:main",  # a job in an environment named like the branch
        "repo:octo-org/weather:*",  # a wildcard-shaped claim is a literal string to StringEquals
        "repo:octo-org/*:ref:refs/heads/main",
        "REPO:OCTO-ORG/WEATHER:REF:REFS/HEADS/MAIN",  # StringEquals is case-sensitive
    ],
)
def test_other_tokens_are_refused(template: Template, sub: str) -> None:
    assert not allows(github_trust(template), web_identity(provider_reference(template), sub))


def test_the_right_subject_with_another_audience_or_provider_is_refused(template: Template) -> None:
    trust, sub = github_trust(template), MAIN.sub
    assert not allows(trust, web_identity(provider_reference(template), sub, aud="https://github.com/octo-org"))
    other_provider = "arn:aws:iam::123456789012:oidc-provider/gitlab.com"
    assert not allows(trust, web_identity(other_provider, sub))


def test_the_evaluator_would_catch_a_pattern_that_admits_too_much() -> None:
    """The refusals above come from the policy, not from an evaluator that refuses everything."""
    loose = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": "provider"},
                "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/*"}},
            }
        ]
    }
    assert allows(loose, web_identity("provider", "repo:octo-org/forecast:pull_request"))


def test_an_environment_is_admitted_by_its_name_and_not_by_the_branch() -> None:
    template = link_stack(GitHubSubject("octo-org/weather", environment="production"))
    trust, provider = github_trust(template), provider_reference(template)
    assert allows(trust, web_identity(provider, "repo:octo-org/weather:environment:production"))
    assert not allows(trust, web_identity(provider, "repo:octo-org/weather:ref:refs/heads/main"))
    assert not allows(trust, web_identity(provider, "repo:octo-org/weather:environment:staging"))


def test_a_second_branch_is_a_second_exact_subject() -> None:
    template = link_stack(MAIN, GitHubSubject("octo-org/weather", branch="release/v2"))
    trust, provider = github_trust(template), provider_reference(template)
    for branch in ("main", "release/v2"):
        assert allows(trust, web_identity(provider, f"repo:octo-org/weather:ref:refs/heads/{branch}"))
    assert not allows(trust, web_identity(provider, "repo:octo-org/weather:ref:refs/heads/release/v3"))


def test_an_existing_provider_is_used_not_created() -> None:
    template = link_stack(MAIN, provider=EXISTING_PROVIDER)
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    assert allows(github_trust(template), web_identity(EXISTING_PROVIDER, MAIN.sub))


def test_subjects_must_name_one_repository() -> None:
    with pytest.raises(ValueError, match="one GitHub repository"):
        link_stack(MAIN, GitHubSubject("octo-org/other", branch="main"))


def test_the_output_names_the_github_role(template: Template) -> None:
    github_role = next(k for k, v in template.find_resources("AWS::IAM::Role").items() if "apid-github-" in str(v))
    template.has_output("GitHubRoleArn", {"Value": {"Fn::GetAtt": [github_role, "Arn"]}})


@pytest.mark.parametrize(
    ("repository", "branch", "environment"),
    [
        ("weather", "main", None),
        ("octo-org/weather/extra", "main", None),
        ("-octo/weather", "main", None),
        ("octo--org/weather", "main", None),
        ("octo-org/..", "main", None),
        ("octo-org/we ather", "main", None),
        ("octo-org/*", "main", None),
        ("octo-org/weather", "ma*in", None),
        ("octo-org/weather", "feature/../main", None),
        ("octo-org/weather", "main.lock", None),
        ("octo-org/weather", "/main", None),
        ("octo-org/weather", "main:evil", None),
        ("octo-org/weather", "", None),
        ("octo-org/weather", None, "prod:ref"),
        ("octo-org/weather", None, "pro*"),
        ("octo-org/weather", "main", "prod"),
        ("octo-org/weather", None, None),
    ],
)
def test_subjects_follow_github_s_naming_rules(repository: str, branch: str | None, environment: str | None) -> None:
    with pytest.raises(ValueError):
        GitHubSubject(repository, branch=branch, environment=environment)


@pytest.mark.parametrize(
    "subject",
    [MAIN, GitHubSubject("a/b.c_d-e", branch="release/2026.12"), GitHubSubject("o/r", environment="Prod EU")],
)
def test_a_subject_reads_back_from_its_sub(subject: GitHubSubject) -> None:
    assert GitHubSubject.from_sub(subject.sub) == subject


def test_cdk_nag_and_cfn_lint_are_clean(tmp_path_factory: pytest.TempPathFactory) -> None:
    built: list[cdk.Stack] = []

    def build(app: cdk.App) -> cdk.Stack:
        stack = AccountLinkStack(
            app, "Link", stack_name="apid-link", trusted_account_id=CONTROL_PLANE_ACCOUNT, github=[MAIN]
        )
        built.append(stack)
        return stack

    findings = nag_findings(build, tmp_path_factory.mktemp("github-link"))
    assert findings == [], "\n".join(findings)
    errors = lint_errors(Template.from_stack(built[0]).to_json())
    assert errors == [], "\n".join(errors)
