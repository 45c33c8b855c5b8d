"""``apid aws link --github`` and ``apid ci github`` through the real CLI, moto in process.

The project sits in a folder of a git repository, as a monorepo would hold it:
the workflow goes to the repository's root and runs in the project's folder.
The last test deploys with nothing but the variables the written workflow sets,
from a checkout that has no ``.apid/state.json``, as a CI runner has none.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from api_direct.deploy.link import link_record
from api_direct.deploy.state import STATE_FILE, ProjectState, load_state, save_state
from tests.cli_aws import ACCOUNT, REGION, aws, remove_stack, run, stacks
from tests.errors import files, one_line_error
from tests.example_project import copy_example

__all__ = ["aws"]  # fixture

REPOSITORY = "octo-org/weather"
GITHUB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/api-direct-link/apid-github-{REGION}"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def git_repository(parent: Path) -> tuple[Path, Path]:
    """(repository root, the example project in its ``api/`` folder)."""
    root = parent / "repo"
    (root / "api").mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    return root, copy_example(root / "api")


@pytest.fixture(scope="module")
def checkout(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root, project = git_repository(tmp_path_factory.mktemp("github"))
    result = run(project, "aws", "link", "--github", REPOSITORY)
    assert result.exit_code == 0, result.output
    return root, project


@pytest.fixture
def project(checkout: tuple[Path, Path]) -> Iterator[Path]:
    """The linked project, with no workflow written yet."""
    workflow = checkout[0] / ".github" / "workflows" / "apid-deploy.yml"
    workflow.unlink(missing_ok=True)
    yield checkout[1]
    workflow.unlink(missing_ok=True)


def workflow_of(project: Path) -> Path:
    return project.parent.parent / ".github" / "workflows" / "apid-deploy.yml"


def role_trust(aws: Any) -> dict[str, Any]:
    role = aws("iam").get_role(RoleName=f"apid-github-{REGION}")["Role"]
    return role["AssumeRolePolicyDocument"]  # type: ignore[no-any-return]


def test_link_with_github_adds_the_provider_and_a_role_only_the_repository_can_assume(project: Path, aws: Any) -> None:
    link = load_state(project).require_link()
    assert (link.github_repository, link.github_role_arn) == (REPOSITORY, GITHUB_ROLE)
    assert "repo:octo-org/weather:ref:refs/heads/main" in link.github_subjects
    providers = aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in providers] == [PROVIDER]
    [statement] = role_trust(aws)["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert set(statement["Condition"]) == {"StringEquals"}


def test_relinking_keeps_the_provider_the_link_created_and_adds_a_branch(project: Path, aws: Any) -> None:
    result = run(project, "--json", "aws", "link", "--github", REPOSITORY, "--branch", "release/v2")
    assert result.exit_code == 0, result.output
    subjects = json.loads(result.stdout)["github_subjects"]
    assert {"repo:octo-org/weather:ref:refs/heads/main", "repo:octo-org/weather:ref:refs/heads/release/v2"} <= set(
        subjects
    )
    resources = aws("cloudformation").describe_stack_resources(StackName="apid-link")["StackResources"]
    assert PROVIDER in {r.get("PhysicalResourceId") for r in resources}
    [statement] = role_trust(aws)["Statement"]
    assert set(statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]) == set(subjects)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--github", "octo-org"), "not a GitHub repository"),
        (("--github", "octo-org/*"), "not a GitHub repository"),
        (("--github", REPOSITORY, "--branch", "ma*in"), "not a valid git branch name"),
        (("--github", REPOSITORY, "--branch", "main", "--environment", "prod"), "not both"),
        (("--branch", "main"), "go with --github"),
        (("--no-github", "--github", REPOSITORY), "takes no --github"),
    ],
)
def test_bad_github_settings_are_refused_before_anything_changes(
    project: Path, args: tuple[str, ...], fragment: str
) -> None:
    before = files(project)
    one_line_error(run(project, "aws", "link", *args), 3, fragment)
    assert files(project) == before


def test_ci_github_writes_a_valid_workflow_at_the_repository_root(project: Path) -> None:
    result = run(project, "--json", "ci", "github", "--stage", "prod")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    path = workflow_of(project)
    assert written == {
        "workflow": str(path),
        "stack": "apid-weather-api-prod",
        "branch": "main",
        "environment": None,
        "sub": "repo:octo-org/weather:ref:refs/heads/main",
        "role_arn": GITHUB_ROLE,
    }
    workflow = valid_workflow(path)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    job = workflow["jobs"]["deploy"]
    assert job["defaults"] == {"run": {"working-directory": "api/weather_api"}}
    assert "environment" not in job
    assert job["env"] == {
        "APID_LINK_ACCOUNT": ACCOUNT,
        "APID_LINK_REGION": REGION,
        "APID_LINK_TRUSTED_ACCOUNT": ACCOUNT,
        "APID_LINK_STACK": "apid-link",
    }
    credentials = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert credentials["with"] == {"role-to-assume": GITHUB_ROLE, "aws-region": REGION}
    assert job["steps"][-1] == {"run": "apid deploy --stage prod --yes --json"}
    assert (
        "ExternalId" not in path.read_text() and load_state(project).require_link().external_id not in path.read_text()
    )


def valid_workflow(path: Path) -> dict[str, Any]:
    """The workflow, once GitHub's workflow schema (vendored by check-jsonschema: no network) accepts it."""
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return YAML(typ="safe").load(path.read_text())  # type: ignore[no-any-return]


def test_a_job_in_an_environment_the_link_admits(project: Path) -> None:
    linked = run(project, "aws", "link", "--github", REPOSITORY, "--environment", "production")
    assert linked.exit_code == 0, linked.output
    result = run(project, "--json", "ci", "github", "--environment", "production", "--branch", "release/v2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sub"] == "repo:octo-org/weather:environment:production"
    workflow = valid_workflow(workflow_of(project))
    assert workflow["on"] == {"push": {"branches": ["release/v2"]}}
    assert workflow["jobs"]["deploy"]["environment"] == "production"


def test_the_workflow_is_not_overwritten_without_force(project: Path) -> None:
    assert run(project, "ci", "github").exit_code == 0
    path = workflow_of(project)
    path.write_text("# edited by hand\n")
    one_line_error(run(project, "ci", "github"), 3, "exists", "--force")
    assert path.read_text() == "# edited by hand\n"
    assert run(project, "ci", "github", "--force").exit_code == 0
    assert "configure-aws-credentials" in path.read_text()


def test_a_branch_or_environment_the_link_does_not_admit_is_refused(project: Path) -> None:
    one_line_error(
        run(project, "ci", "github", "--branch", "dev"),
        5,
        "does not admit repo:octo-org/weather:ref:refs/heads/dev",
        f"apid aws link --github {REPOSITORY} --branch dev",
    )
    one_line_error(run(project, "ci", "github", "--environment", "prod"), 5, "--environment prod")
    assert not workflow_of(project).exists()


def test_a_project_linked_without_github_is_refused(aws: Any, tmp_path: Path) -> None:
    _, project = git_repository(tmp_path)
    one_line_error(run(project, "ci", "github"), 5, "apid aws link")
    record = link_record(ACCOUNT, "aws", REGION, trusted_account_id=ACCOUNT, stack_name="apid-link")
    save_state(project, ProjectState(link=record))
    one_line_error(run(project, "ci", "github"), 5, "apid aws link --github OWNER/REPO")
    assert not (tmp_path / "repo" / ".github").exists()


def test_a_checkout_deploys_with_only_the_workflow_s_variables(
    project: Path, aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(project, "ci", "github", "--stage", "ci").exit_code == 0
    job = YAML(typ="safe").load(workflow_of(project).read_text())["jobs"]["deploy"]
    ci_checkout = copy_example(tmp_path)  # what actions/checkout gives: no .apid/
    assert not (ci_checkout / STATE_FILE).exists()
    for name, value in job["env"].items():
        monkeypatch.setenv(name, value)
    remove_stack(aws, "apid-weather-api-ci")
    try:
        result = run(ci_checkout, *job["steps"][-1]["run"].split()[1:])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["stack"] == "apid-weather-api-ci"
        assert stacks(aws)["apid-weather-api-ci"] == "CREATE_COMPLETE"
        assert load_state(ci_checkout).link is None  # the CI link is never written down
    finally:
        remove_stack(aws, "apid-weather-api-ci")


def test_ci_variables_that_make_no_link_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ci_checkout = copy_example(tmp_path)
    monkeypatch.setenv("APID_LINK_ACCOUNT", "12345")
    monkeypatch.setenv("APID_LINK_REGION", REGION)
    one_line_error(run(ci_checkout, "plan"), 3, "APID_LINK_ACCOUNT must be the linked account's 12-digit id")
