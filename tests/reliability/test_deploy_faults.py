"""Faults injected into `apid deploy`: AWS throttling and 5xx, Ctrl-C and crashes at every step.

The claim under test is the planner's: every step is safe to rerun. After a fault
at any point (the assets uploaded, the change set made, the change set executing),
the next `apid deploy` converges: the stack runs the template just synthesized, no
change set is left behind, and a deploy after that has nothing to do.

moto executes a change set at once, so "during execution" is shown in two halves:
the process dies while CloudFormation works (the stack is put in
UPDATE_IN_PROGRESS, and a rerun is refused until it settles), then CloudFormation
finishes (the status is set back) and the rerun converges.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api_direct.deploy import assets, planner
from api_direct.deploy.state import load_state
from api_direct.errors import InputError, OperationFailed, StateError
from tests.aws_faults import ALWAYS, AwsFaults, aws_faults
from tests.cli_aws import aws, change_sets, linked, run, set_status, stacks
from tests.errors import one_line_error

__all__ = ["aws", "aws_faults", "linked"]  # fixtures

STACK = "apid-weather-api"


class Crash(BaseException):
    """The process dying (killed, power lost): nothing of ours gets to handle it."""


def edit_code(project: Path, marker: str) -> None:
    main = project / "weather" / "main.py"
    main.write_text(main.read_text() + f"# {marker}\n")


def deployed(project: Path) -> None:
    result = run(project, "deploy", "--yes")
    assert result.exit_code == 0, result.output


def converged(project: Path, aws: Any) -> None:
    """The stack runs what is synthesized now, nothing is pending, and another deploy has nothing to do."""
    deployed(project)
    assert stacks(aws)[STACK] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert change_sets(aws, STACK) == []
    synthesized = json.loads((project / ".apid" / "cdk.out" / "UserApi.template.json").read_text())
    body = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    live = body if isinstance(body, dict) else json.loads(body)
    assert live["Resources"] == synthesized["Resources"]
    again = run(project, "deploy")
    assert again.exit_code == 0 and "no changes" in again.output.lower(), again.output


def after(module: Any, name: str, fault: type[BaseException]) -> Callable[..., Any]:
    """``module.name``, doing its work and then raising ``fault``: the worst moment to stop."""
    real = getattr(module, name)

    def faulty(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise fault

    return faulty


STEPS = {
    "after-asset-upload": (assets, "publish_asset"),  # each asset's, in the uploads' worker threads
    "after-change-set-created": (planner, "create_change_set"),
    "during-execution": (planner, "execute_change_set"),
}


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize(
    ("first_deploy", "fault"), [(True, Crash), (False, KeyboardInterrupt)], ids=["crash-first", "ctrl-c-update"]
)
def test_a_fault_at_any_step_converges_on_rerun(
    linked: Path,
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    first_deploy: bool,
    fault: type[BaseException],
) -> None:
    if first_deploy and STACK in stacks(aws):
        assert run(linked, "destroy", "--yes").exit_code == 0
    elif not first_deploy:
        deployed(linked)
    edit_code(linked, f"{step} {fault.__name__}")
    with monkeypatch.context() as patch:
        module, name = STEPS[step]
        patch.setattr(module, name, after(module, name, fault))
        if fault is Crash:
            with pytest.raises(Crash):
                run(linked, "deploy")
        else:
            interrupted = run(linked, "deploy")
            assert interrupted.exit_code == 130 and "Traceback" not in interrupted.output, interrupted.output
    if step == "during-execution":
        set_status(STACK, "UPDATE_IN_PROGRESS")
        one_line_error(run(linked, "deploy"), StateError.exit_code, "already being changed", "apid status")
        set_status(STACK, "CREATE_COMPLETE" if first_deploy else "UPDATE_COMPLETE")
    converged(linked, aws)


def test_throttling_and_5xx_are_retried_and_shown_as_progress(linked: Path, aws: Any, aws_faults: AwsFaults) -> None:
    deployed(linked)
    edit_code(linked, "throttled")
    aws_faults.fail("PutObject", "SlowDown", status=503)
    aws_faults.fail("CreateChangeSet", "Throttling", times=2)
    aws_faults.fail("DescribeStacks", "ServiceUnavailable", status=503)
    aws_faults.fail("DescribeStackEvents", "ThrottlingException", times=3)
    result = run(linked, "deploy")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert aws_faults.injected == {"PutObject": 1, "CreateChangeSet": 2, "DescribeStacks": 1, "DescribeStackEvents": 3}
    assert "AWS cloudformation CreateChangeSet: Throttling; retrying (attempt 3 of 8)" in result.stderr
    assert "AWS s3 PutObject: SlowDown; retrying (attempt 2 of 8)" in result.stderr
    converged(linked, aws)


def test_throttled_through_every_attempt_is_one_line_and_changes_nothing(
    linked: Path, aws: Any, aws_faults: AwsFaults
) -> None:
    deployed(linked)
    edit_code(linked, "throttled for good")
    before = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    aws_faults.fail("CreateChangeSet", "Throttling", times=ALWAYS)
    attempts_before = aws_faults.attempts["CreateChangeSet"]
    one_line_error(
        run(linked, "deploy"),
        OperationFailed.exit_code,
        "kept answering Throttling through 8 attempts",
        "rerun",
    )
    assert aws_faults.attempts["CreateChangeSet"] - attempts_before == 8
    assert aws("cloudformation").get_template(StackName=STACK)["TemplateBody"] == before
    assert change_sets(aws, STACK) == []
    aws_faults.clear()
    converged(linked, aws)


@pytest.mark.parametrize("command", [["deploy"], ["deploy", "--hotswap"], ["plan"]])
def test_a_broken_app_is_refused_before_anything_in_the_account_changes(
    linked: Path, aws: Any, command: list[str]
) -> None:
    """The app check runs while the deploy talks to AWS, and its verdict comes before the first change."""
    deployed(linked)
    main = linked / "weather" / "main.py"
    working = main.read_text()
    before = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"], change_sets(aws, STACK)
    objects = asset_keys(aws, linked)
    main.write_text(working + "\nraise RuntimeError('half-written edit')\n")
    try:
        one_line_error(
            run(linked, *command),
            InputError.exit_code,
            "RuntimeError: half-written edit (weather/main.py, line",
        )
        assert (aws("cloudformation").get_template(StackName=STACK)["TemplateBody"], change_sets(aws, STACK)) == before
        assert asset_keys(aws, linked) == objects
        # The refused assembly is trusted by nothing: the next run checks again.
        one_line_error(run(linked, *command), InputError.exit_code, "half-written edit")
    finally:
        main.write_text(working)
    converged(linked, aws)


def test_destroy_keeping_the_data_does_not_need_a_working_app(linked: Path, aws: Any) -> None:
    deployed(linked)
    main = linked / "weather" / "main.py"
    working = main.read_text()
    main.write_text(working + "\nraise RuntimeError('broken')\n")
    try:
        result = run(linked, "destroy", "--retain-data", "--yes")
        assert result.exit_code == 0, result.output
        assert STACK not in stacks(aws)
    finally:
        main.write_text(working)


def asset_keys(aws: Any, project: Path) -> set[str]:
    bucket = load_state(project).require_link().asset_bucket
    return {o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket).get("Contents", [])}
