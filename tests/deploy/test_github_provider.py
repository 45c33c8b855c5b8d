"""An account that already has GitHub's OIDC provider: the link uses it, and leaves it to its owner.

IAM holds one provider per URL, so creating a second one fails; moto's IAM refuses
it as IAM does (with the emulator's patches, its CloudFormation creates providers).
"""

from typing import Any

import pytest

from api_direct.constructs.github_deploy import GitHubSubject
from api_direct.deploy.aws import creator_aws
from api_direct.deploy.aws_target import AwsTarget
from api_direct.deploy.executor import SilentObserver
from api_direct.deploy.link import existing_github_provider, github_subjects, link_account
from tests.cli_aws import ACCOUNT, REGION, aws

__all__ = ["aws"]  # fixture

PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
MAIN = GitHubSubject("octo-org/weather", branch="main")


@pytest.fixture(scope="module")
def foreign_provider(aws: Any) -> str:
    """A provider someone made before API-Direct came, by hand or in another stack."""
    created = aws("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"], ThumbprintList=[]
    )
    return str(created["OpenIDConnectProviderArn"])


def test_the_link_trusts_the_existing_provider_and_does_not_own_it(aws: Any, foreign_provider: str) -> None:
    creator = creator_aws(AwsTarget(region=REGION))
    assert foreign_provider == PROVIDER
    for _ in range(2):  # a rerun still finds it foreign
        assert existing_github_provider(creator, ACCOUNT, "aws") == PROVIDER
        record = link_account(creator, SilentObserver(), github=[MAIN])
        assert record.github_subjects == (MAIN.sub,)
        resources = aws("cloudformation").describe_stack_resources(StackName="apid-link")["StackResources"]
        assert "AWS::IAM::OIDCProvider" not in {r.get("ResourceType") for r in resources}
        trust = aws("iam").get_role(RoleName=f"apid-github-{REGION}")["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Federated": PROVIDER}
    providers = aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [PROVIDER]


def test_removing_github_access_deletes_the_role_and_leaves_the_account_s_provider(
    aws: Any, foreign_provider: str
) -> None:
    creator = creator_aws(AwsTarget(region=REGION))
    linked = link_account(creator, SilentObserver(), github=[MAIN])
    assert github_subjects(linked, None, None, None, remove=True) == ()
    unlinked = link_account(creator, SilentObserver(), github=())
    assert (unlinked.github_repository, unlinked.github_subjects, unlinked.github_role_arn) == (None, (), None)
    roles = {role["RoleName"] for role in aws("iam").list_roles()["Roles"]}
    assert f"apid-github-{REGION}" not in roles and f"apid-deploy-{REGION}" in roles
    providers = aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [foreign_provider]
