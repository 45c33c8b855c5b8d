"""Bad input on the command line and in the AWS side of it, through the real CLI against moto.

Each case checks the refusal (one line naming the cause and the fix, a documented
exit code, no traceback) and that nothing changed: the project folder and every
stack in the account are as they were.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

from api_direct.errors import AccessError, InputError, StateError
from tests.aws_faults import AwsFaults, aws_faults
from tests.cli_aws import ACCOUNT, aws, linked, run, stacks
from tests.errors import files, one_line_error

__all__ = ["aws", "aws_faults", "linked"]  # fixtures


def tree(root: Path) -> dict[str, str]:
    """The project but its assembly folder, which a command may read back and rewrite unchanged."""
    return files(root, except_in="cdk.out")


def refused(project: Path, aws: Any, args: list[str], code: int, *fragments: str) -> None:
    before = tree(project), stacks(aws)
    one_line_error(run(project, *args), code, *fragments)
    assert (tree(project), stacks(aws)) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            ["--region", "mars-west-1", "aws", "link"],
            InputError.exit_code,
            "AWS region 'mars-west-1' does not exist: check --region",
            id="region-does-not-exist",
        ),
        pytest.param(
            ["--region", "US_EAST", "plan"],
            InputError.exit_code,
            "AWS region 'US_EAST' does not exist",
            id="region-malformed",
        ),
        pytest.param(
            ["--profile", "nobody", "plan"],
            InputError.exit_code,
            "AWS profile 'nobody' not found",
            id="unknown-profile",
        ),
        pytest.param(
            ["dev", "--plan", "enterprise"],
            InputError.exit_code,
            "--plan: apid.toml has no plan 'enterprise'",
            id="unknown-plan",
        ),
        pytest.param(
            ["logs", "--since", "yesterday"],
            InputError.exit_code,
            "cannot read 'yesterday' as a time: use a duration",
            id="bad-duration",
        ),
        pytest.param(["destroy"], StateError.exit_code, "Not confirmed: rerun with --yes", id="destroy-unconfirmed"),
        pytest.param(
            ["aws", "unlink"], StateError.exit_code, "Not confirmed: rerun with --yes", id="unlink-unconfirmed"
        ),
        pytest.param(
            ["keys", "create", "--api", "weather-api", "--plan", "free"],
            StateError.exit_code,
            "not signed in",
            id="keys-signed-out",
        ),
        pytest.param(["publish"], StateError.exit_code, "not signed in", id="publish-signed-out"),
    ],
)
def test_bad_arguments(
    linked: Path,
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # signed out, whatever this machine's user did
    refused(linked, aws, args, code, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["deploy", "--hotswop"], "No such option '--hotswop'. Did you mean '--hotswap'?", id="misspelt-option"
        ),
        pytest.param(["depoly"], "No such command 'depoly'", id="misspelt-command"),
    ],
)
def test_usage_errors_exit_2(linked: Path, aws: Any, args: list[str], message: str) -> None:
    before = tree(linked)
    result = run(linked, *args)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output, result.output
    assert tree(linked) == before


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("ExpiredToken", "your AWS credentials have expired: refresh them", id="expired-credentials"),
        pytest.param("InvalidClientTokenId", "your AWS credentials were rejected as invalid", id="invalid-credentials"),
    ],
)
def test_rejected_credentials(linked: Path, aws: Any, aws_faults: AwsFaults, code: str, message: str) -> None:
    aws_faults.fail("AssumeRole", code, status=403, times=10)
    aws_faults.fail("GetCallerIdentity", code, status=403, times=10)
    for command in (["plan"], ["deploy"], ["aws", "link"]):
        refused(linked, aws, command, AccessError.exit_code, message)


def test_no_credentials_at_all(linked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside moto (which sets its own): no key in the environment, no profile, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    before = tree(linked)
    one_line_error(run(linked, "plan"), AccessError.exit_code, "no AWS credentials found: pass --profile")
    assert tree(linked) == before


@pytest.fixture
def external_ids_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS as AWS runs it: moto's assume-role ignores the trust policy's ``sts:ExternalId`` condition."""
    real: Callable[..., Any] = STSBackend.assume_role

    def assume_role(self: STSBackend, **kwargs: Any) -> Any:
        role_name = kwargs["role_arn"].rsplit("/", 1)[-1]
        role = next(r for r in iam_backends[ACCOUNT]["global"].roles.values() if r.name == role_name)
        expected = {
            statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
            for statement in json.loads(role.assume_role_policy_document)["Statement"]
        }
        if kwargs["external_id"] not in expected:
            raise STSClientError("AccessDenied", f"not authorized to perform: sts:AssumeRole on {kwargs['role_arn']}")
        return real(self, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", assume_role)


def test_external_id_mismatch(linked: Path, aws: Any, external_ids_enforced: None) -> None:
    """A state file whose ExternalId is not the link's (edited, or copied from another project)."""
    assert run(linked, "plan").exit_code == 0  # the right ExternalId passes the same check
    state_file = linked / ".apid" / "state.json"
    original = state_file.read_text()
    state = json.loads(original)
    state["link"]["external_id"] = "0" * len(state["link"]["external_id"])
    state_file.write_text(json.dumps(state))
    try:
        for command in (["plan"], ["deploy"], ["destroy", "--yes"]):
            refused(linked, aws, command, AccessError.exit_code, "access denied", "ExternalId")
    finally:
        state_file.write_text(original)


def test_corrupt_state_file(linked: Path, aws: Any) -> None:
    state_file = linked / ".apid" / "state.json"
    original = state_file.read_text()
    state_file.write_text(original[: len(original) // 2])
    try:
        for command in (["plan"], ["deploy"], ["aws", "status"]):
            refused(linked, aws, command, InputError.exit_code, ".apid/state.json")
    finally:
        state_file.write_text(original)


def test_unlink_signed_out_of_its_control_plane_deletes_nothing(
    linked: Path, aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting the link first would leave the control plane admitting an account that no longer trusts it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    state_file = linked / ".apid" / "state.json"
    original = state_file.read_text()
    state = json.loads(original)
    state["link"]["control_plane_url"] = "https://control.example"
    state_file.write_text(json.dumps(state))
    try:
        refused(
            linked,
            aws,
            ["aws", "unlink", "--yes"],
            StateError.exit_code,
            "not signed in to a control plane",
            "apid login",
        )
        assert "apid-link" in stacks(aws)
    finally:
        state_file.write_text(original)
