"""Two operations on one stack: refused at once with exit 5 and what to do, never exit 1.

On one machine the stage lock refuses the second ``apid deploy``/``destroy``/``rollback`` (and a ``plan``,
which would delete the deploy's change set as stale)
before it synthesizes, naming the first. From another machine only CloudFormation
knows: its answers to a second operation (a stack that turned busy after we looked,
a change set another run removed) are exit 5 as well. AWS's answers garbled on the
way are exit 6. moto runs in process, with the emulator harness's fixes.
"""

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from api_direct.deploy import operations, planner
from api_direct.deploy.aws_target import AwsTarget
from api_direct.deploy.executor import SilentObserver
from api_direct.deploy.operations import DeployResult
from api_direct.errors import OperationFailed, StateError
from tests.aws_faults import ALWAYS, AwsFaults, aws_faults
from tests.cli_aws import REGION, aws, linked, remove_stack, run, stacks
from tests.errors import one_line_error

__all__ = ["aws", "aws_faults", "linked"]  # fixtures

STACK = "apid-weather-api"
#: Long enough for the refused commands to run; the first deploy is released as soon as they have.
HOLD_SECONDS = 120


@pytest.fixture(autouse=True)
def no_stack(aws: Any) -> None:
    """Each test starts with the API undeployed, whatever the test before it (in any order) left."""
    remove_stack(aws, STACK)


class HeldDeploy:
    """``apid deploy``'s work in a thread of this process, held as it publishes its assets (holding the lock)."""

    def __init__(self, project: Path) -> None:
        self.publishing, self._release = threading.Event(), threading.Event()
        self._outcome: list[DeployResult | Exception] = []
        self._thread = threading.Thread(target=self._deploy, args=(project,))

    def held(self, publish: Callable[..., Any]) -> Callable[..., Any]:
        def waiting(*args: Any, **kwargs: Any) -> Any:
            self.publishing.set()
            self._release.wait(HOLD_SECONDS)
            return publish(*args, **kwargs)

        return waiting

    def start(self) -> None:
        self._thread.start()
        assert self.publishing.wait(HOLD_SECONDS), "the first deploy never reached its assets"

    def finish(self) -> DeployResult | Exception:
        self._release.set()
        self._thread.join()
        return self._outcome[0]

    def _deploy(self, project: Path) -> None:
        session = operations.open_session(project, AwsTarget(None, REGION, None), SilentObserver())
        try:
            self._outcome.append(operations.deploy(session, confirm=lambda _: False))
        except Exception as error:
            self._outcome.append(error)


@pytest.fixture
def first_deploy(linked: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldDeploy]:
    """A first deploy under way, holding the stage; finished when the test is, if the test did not."""
    deploy = HeldDeploy(linked)
    monkeypatch.setattr(planner, "publish_assets", deploy.held(planner.publish_assets))
    deploy.start()
    try:
        yield deploy
    finally:
        deploy.finish()


def test_a_second_operation_on_the_stage_is_refused_naming_the_first(
    linked: Path, aws: Any, first_deploy: HeldDeploy
) -> None:
    for command in (
        ["deploy"],
        ["deploy", "--hotswap"],
        ["deploy", "--watch"],
        ["destroy", "--yes"],
        ["rollback"],
        ["plan"],
    ):
        one_line_error(
            run(linked, *command),
            StateError.exit_code,
            f"apid deploy (pid {os.getpid()}, since ",
            "is already running on the default stage of this project",
            "wait for it to finish",
        )
    assert STACK not in stacks(aws)  # the refused runs changed nothing, and the first has not got there yet
    finished = first_deploy.finish()
    assert isinstance(finished, DeployResult) and finished.status == "CREATE_COMPLETE", finished
    again = run(linked, "deploy")  # the first left the stage free
    assert again.exit_code == 0 and "no changes" in again.output.lower(), again.output


@pytest.mark.parametrize(
    ("operation", "code", "message"),
    [
        (
            "CreateChangeSet",
            "ValidationError",
            f"Stack:arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1 is in CREATE_IN_PROGRESS state"
            " and can not be updated.",
        ),
        ("ExecuteChangeSet", "ChangeSetNotFound", "ChangeSet [apid-20261205122628] does not exist"),
        (
            "ExecuteChangeSet",
            "InvalidChangeSetStatus",
            "ChangeSet cannot be executed in its current status of [OBSOLETE]",
        ),
    ],
    ids=["stack-became-busy", "change-set-removed", "change-set-obsolete"],
)
def test_another_machines_deploy_is_exit_5_with_what_to_do(
    linked: Path, aws: Any, aws_faults: AwsFaults, operation: str, code: str, message: str
) -> None:
    aws_faults.fail(operation, code, message=message, times=ALWAYS)
    one_line_error(
        run(linked, "deploy"), StateError.exit_code, message.rstrip("."), "wait for it to finish", "apid status"
    )


def test_a_garbled_answer_is_exit_6_not_a_bug(linked: Path, aws: Any, aws_faults: AwsFaults) -> None:
    """What the issue's second deploy met: moto answering a 500 page where CloudFormation's XML goes."""
    aws_faults.garble("ExecuteChangeSet", "<!doctype html>\n<title>500 Internal Server Error</title>\n", status=500)
    one_line_error(
        run(linked, "deploy"),
        OperationFailed.exit_code,
        "executing the change set for apid-weather-api: AWS's answer was lost or unreadable (ResponseParserError",
        "rerun",
    )


def test_a_botocore_failure_outside_the_engine_is_still_its_documented_code(
    linked: Path, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def timed_out(*args: Any, **kwargs: Any) -> DeployResult:
        raise ReadTimeoutError(endpoint_url=f"https://cloudformation.{REGION}.amazonaws.com/")

    monkeypatch.setattr(operations, "status", timed_out)
    one_line_error(run(linked, "status"), OperationFailed.exit_code, "apid status: AWS's answer was lost or unreadable")
