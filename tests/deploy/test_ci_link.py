"""The link a CI job rebuilds from APID_LINK_*: the same names as the linked record, or a one-line refusal."""

from dataclasses import replace

import pytest

from api_direct.deploy.ci_link import ci_environment, ci_link
from api_direct.deploy.link import link_record
from api_direct.errors import InputError

ACCOUNT, CONTROL_PLANE = "123456789012", "111111111111"
BUS = f"arn:aws:events:us-east-1:{CONTROL_PLANE}:event-bus/api-direct-usage"


def test_no_variables_make_no_link() -> None:
    assert ci_link({}) is None


def test_the_variables_rebuild_the_linked_record() -> None:
    linked = replace(
        link_record(ACCOUNT, "aws", "eu-west-2", trusted_account_id=CONTROL_PLANE, stack_name="apid-link"),
        usage_bus_arn=BUS,
        control_plane_url="https://control.example",
        external_id=None,
    )
    rebuilt = ci_link(ci_environment(linked))
    assert rebuilt is not None and rebuilt.ci and rebuilt.control_plane_url is None
    same = ("deploy_role_arn", "execution_role_arn", "asset_bucket", "trusted_account_id", "usage_bus_arn", "region")
    assert {key: getattr(rebuilt, key) for key in same} == {key: getattr(linked, key) for key in same}


def test_the_partition_follows_the_region() -> None:
    rebuilt = ci_link({"APID_LINK_ACCOUNT": ACCOUNT, "APID_LINK_REGION": "cn-north-1"})
    assert rebuilt is not None and rebuilt.deploy_role_arn.startswith("arn:aws-cn:iam::")
    assert rebuilt.trusted_account_id == ACCOUNT and rebuilt.usage_bus_arn is None


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"APID_LINK_REGION": "us-east-1"}, "APID_LINK_ACCOUNT must be"),
        ({"APID_LINK_ACCOUNT": "12345", "APID_LINK_REGION": "us-east-1"}, "APID_LINK_ACCOUNT must be"),
        ({"APID_LINK_ACCOUNT": ACCOUNT}, "APID_LINK_REGION is not"),
        ({"APID_LINK_ACCOUNT": ACCOUNT, "APID_LINK_REGION": "moon-1"}, "not an AWS region"),
        (
            {"APID_LINK_ACCOUNT": ACCOUNT, "APID_LINK_REGION": "us-east-1", "APID_LINK_TRUSTED_ACCOUNT": "x"},
            "APID_LINK_TRUSTED_ACCOUNT must be",
        ),
        (
            {"APID_LINK_ACCOUNT": ACCOUNT, "APID_LINK_REGION": "us-east-1", "APID_LINK_USAGE_BUS_ARN": "bus"},
            "EventBridge bus ARN",
        ),
    ],
)
def test_incomplete_or_wrong_variables_are_refused(variables: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        ci_link(variables)
