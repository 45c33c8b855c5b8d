"""Every stack the product synthesizes passes cdk-nag AwsSolutions, cfn-lint and checkov with zero errors.

The three stacks are synthesized once, in one app with cdk-nag attached; cfn-lint
and checkov read the templates that synthesis wrote. checkov runs once, over a
folder holding the three templates and a deliberately insecure one that proves it
still reports failures.
"""

import functools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from api_direct.canary import Canary
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.constructs.acknowledgments import skip_checkov
from api_direct.constructs.github_deploy import GitHubSubject
from api_direct.contracts import CustomDomainTarget
from api_direct.control_plane.stack import ControlPlaneStack
from api_direct.project import load_project
from api_direct.user_stack import AccountLinkStack, UserApiStack
from tests.compliance import CheckovFindings, checkov_findings, lint_errors, nag_findings
from tests.example_project import CONTROL_PLANE_ACCOUNT, CONTROL_PLANE_BUS_ARN, EXAMPLE_DIR

#: A skip comment shorter than this names no reason.
MIN_SKIP_REASON = 40
GUARD_TEMPLATE = "Insecure.template.json"
GUARD_SKIP_REASON = "The guard's second queue is skipped to prove checkov honours skip_checkov metadata."


def user_api_stack() -> Callable[[cdk.App], cdk.Stack]:
    return lambda app: UserApiStack(
        app,
        "UserApi",
        project=load_project(EXAMPLE_DIR),
        control_plane_account_id=CONTROL_PLANE_ACCOUNT,
        control_plane_bus_arn=CONTROL_PLANE_BUS_ARN,
        # The fullest template: a canary (CodeDeploy, its role and alarm), a custom domain, its mapping and
        # its alias records too, and CORS for the marketplace's console (preflight methods, CORS gateway responses).
        release="0123abc by creator@example.com",
        marketplace_origin="https://market.example.com",
        canary=Canary(percent=10, minutes=5),
        custom_domain=CustomDomainTarget(
            "api.example.com",
            "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
            "Z0000000000000000000",
            "example.com",
        ),
    )


def account_link_stack() -> Callable[[cdk.App], cdk.Stack]:
    """With GitHub deploys admitted and Cost Explorer opted in: the scanners see the OIDC provider, the GitHub
    role and the deploy role's Cost Explorer read too."""
    github = [GitHubSubject("octo-org/weather", branch="main")]
    return lambda app: AccountLinkStack(
        app, "AccountLink", trusted_account_id=CONTROL_PLANE_ACCOUNT, github=github, cost_explorer=True
    )


def control_plane_stack() -> Callable[[cdk.App], cdk.Stack]:
    return lambda app: ControlPlaneStack(app, "ControlPlane")


STACKS = {"user-api": user_api_stack, "account-link": account_link_stack, "control-plane": control_plane_stack}
each_stack = pytest.mark.parametrize("stack", sorted(STACKS))


@dataclass(frozen=True)
class Synthesized:
    template: Path
    nag_findings: list[str]


@pytest.fixture(scope="module")
def synthesized(bundle_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Each stack's template file and its cdk-nag findings, from one synthesis of all three."""
    outdir = tmp_path_factory.mktemp("compliance")
    stacks: dict[str, cdk.Stack] = {}

    def build(app: cdk.App) -> None:
        app.node.set_context(BUNDLE_CACHE_CONTEXT, str(bundle_cache_dir))
        for name, builder in STACKS.items():
            stacks[name] = builder()(app)

    findings = nag_findings(build, outdir)
    return {
        name: Synthesized(
            template=outdir / stack.template_file,
            nag_findings=[f for f in findings if f.rpartition(" at ")[2].startswith(f"{stack.node.path}/")],
        )
        for name, stack in stacks.items()
    }


def insecure_template() -> dict:  # type: ignore[type-arg]
    """An unencrypted queue and a bare bucket, which checkov must fail, and a queue it must skip."""
    stack = cdk.Stack(cdk.App(), "Insecure")
    resources = [
        sqs.Queue(stack, "Queue", encryption=sqs.QueueEncryption.UNENCRYPTED),
        s3.Bucket(stack, "Bucket"),
        sqs.Queue(stack, "Skipped", encryption=sqs.QueueEncryption.UNENCRYPTED),
    ]
    skip_checkov(resources[2], {"CKV_AWS_27": GUARD_SKIP_REASON})
    for resource in resources:
        cast(cdk.CfnResource, resource.node.default_child).override_logical_id(resource.node.id)
    return cdk.assertions.Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def checkov(
    synthesized: dict[str, Synthesized], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], dict[str, CheckovFindings]]:
    """checkov's findings by template file, from one run the first test to ask makes.

    The tests call it, rather than getting the findings as their fixture, so that a
    missing checkov fails them (with the hint to run ``make install``) instead of
    erroring in set-up.
    """
    folder = tmp_path_factory.mktemp("checkov")
    for synthesis in synthesized.values():
        shutil.copy(synthesis.template, folder)
    (folder / GUARD_TEMPLATE).write_text(json.dumps(insecure_template()))
    return functools.cache(lambda: checkov_findings(folder))


@each_stack
def test_cdk_nag_aws_solutions_has_no_unacknowledged_error(stack: str, synthesized: dict[str, Synthesized]) -> None:
    findings = synthesized[stack].nag_findings
    assert findings == [], "\n".join(findings)


@each_stack
def test_cfn_lint_has_no_error(stack: str, synthesized: dict[str, Synthesized]) -> None:
    errors = lint_errors(json.loads(synthesized[stack].template.read_text()))
    assert errors == [], "\n".join(errors)


@each_stack
def test_checkov_has_no_failed_check(
    stack: str, synthesized: dict[str, Synthesized], checkov: Callable[[], dict[str, CheckovFindings]]
) -> None:
    template = synthesized[stack].template.name
    findings = checkov().get(template)
    assert findings is not None and findings.passed, f"checkov evaluated nothing in {template}"
    assert findings.failed == [], "\n".join(findings.failed)


@each_stack
def test_every_checkov_skip_says_why(
    stack: str, synthesized: dict[str, Synthesized], checkov: Callable[[], dict[str, CheckovFindings]]
) -> None:
    """Each suppression carries its reason in the template (``skip_checkov``), and a real one."""
    skipped = checkov()[synthesized[stack].template.name].skipped
    unexplained = [f"{check}: {reason!r}" for check, reason in skipped.items() if len(reason.strip()) < MIN_SKIP_REASON]
    assert unexplained == [], "\n".join(unexplained)


def test_checkov_itself_catches_a_violation(checkov: Callable[[], dict[str, CheckovFindings]]) -> None:
    """Guard against a silently disabled checker: insecure resources fail, and only a skip excuses one."""
    guard = checkov()[GUARD_TEMPLATE]
    failed = {line.split(": ", 1)[0] for line in guard.failed}
    expected = {
        "CKV_AWS_27 AWS::SQS::Queue.Queue",
        "CKV_AWS_18 AWS::S3::Bucket.Bucket",
        "CKV_AWS_21 AWS::S3::Bucket.Bucket",
    }
    assert expected <= failed, "\n".join(guard.failed)
    assert "CKV_AWS_27 AWS::SQS::Queue.Skipped" not in failed
    assert guard.skipped == {"CKV_AWS_27 AWS::SQS::Queue.Skipped": GUARD_SKIP_REASON}


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
