"""Every stack the product synthesizes passes cdk-nag AwsSolutions and cfn-lint with zero errors."""

from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest

from api_direct.control_plane.stack import ControlPlaneStack
from api_direct.project import load_project
from api_direct.user_stack import AccountLinkStack, UserApiStack
from tests.compliance import lint_errors, nag_findings
from tests.conftest import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, EXAMPLE_DIR


def user_api_stack(cache: Path) -> Callable[[cdk.App], cdk.Stack]:
    return lambda app: UserApiStack(
        app, "UserApi", project=load_project(EXAMPLE_DIR), control_plane_account_id=CONTROL_PLANE_ACCOUNT,
        control_plane_bus_arn=CONTROL_PLANE_BUS_ARN, bundle_cache_dir=cache,
    )


def account_link_stack(_: Path) -> Callable[[cdk.App], cdk.Stack]:
    return lambda app: AccountLinkStack(app, "AccountLink", trusted_account_id=CONTROL_PLANE_ACCOUNT)


def control_plane_stack(cache: Path) -> Callable[[cdk.App], cdk.Stack]:
    return lambda app: ControlPlaneStack(app, "ControlPlane", bundle_cache_dir=cache)


STACKS = {"user-api": user_api_stack, "account-link": account_link_stack, "control-plane": control_plane_stack}


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack_builder(request: pytest.FixtureRequest, bundle_cache_dir: Path) -> Callable[[cdk.App], cdk.Stack]:
    return STACKS[request.param](bundle_cache_dir)


def test_cdk_nag_aws_solutions_has_no_unacknowledged_error(
    stack_builder: Callable[[cdk.App], cdk.Stack], tmp_path: Path
) -> None:
    findings = nag_findings(stack_builder, tmp_path)
    assert findings == [], "\n".join(findings)


def test_cfn_lint_has_no_error(stack_builder: Callable[[cdk.App], cdk.Stack], tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = stack_builder(app)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    errors = lint_errors(template)
    assert errors == [], "\n".join(errors)


def test_nag_check_itself_catches_a_violation(tmp_path: Path) -> None:
    """Guard against a silently disabled checker: an unencrypted queue must be reported."""

    def insecure(app: cdk.App) -> cdk.Stack:
        stack = cdk.Stack(app, "Insecure")
        cdk.aws_sqs.Queue(stack, "Queue")
        return stack

    assert any(f.startswith("AwsSolutions-SQS4 at Insecure/Queue") for f in nag_findings(insecure, tmp_path))


def test_lint_check_itself_catches_an_error() -> None:
    broken = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python0.1"}}}}
    assert lint_errors(broken)
