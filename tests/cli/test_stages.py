"""``--stage`` through the real CLI, moto in process: two stages of one project side by side in the linked account,
each with its own stack, URL and drift, and a stage destroyed without touching the other."""

import json
from pathlib import Path
from typing import Any

import pytest

from api_direct.deploy.state import load_state
from tests.cli_aws import aws, linked, remove_stack, run, stacks
from tests.errors import one_line_error

__all__ = ["aws", "linked"]  # fixtures

STAGES = """
[deploy]
default_stage = "dev"

[stages.prod]
memory_mb = 1024

[stages.prod.env]
TIER = "production"
"""


@pytest.fixture(scope="module")
def staged(linked: Path) -> Path:
    toml = linked / "apid.toml"
    toml.write_text(toml.read_text() + STAGES)
    return linked


@pytest.fixture(autouse=True)
def undeployed(aws: Any) -> None:
    """Each test starts with no stage deployed, whatever the one before it left."""
    for stage in ("dev", "prod"):
        remove_stack(aws, f"apid-weather-api-{stage}")


def deployed(project: Path, *stage: str) -> dict[str, Any]:
    result = run(project, "--json", "deploy", "--yes", *stage)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_two_stages_are_two_stacks_with_their_own_urls(staged: Path, aws: Any) -> None:
    dev = deployed(staged)  # the default stage
    prod = deployed(staged, "--stage", "prod")
    assert (dev["stack"], prod["stack"]) == ("apid-weather-api-dev", "apid-weather-api-prod")
    assert dev["outputs"]["ApiUrl"] != prod["outputs"]["ApiUrl"]
    assert {name: status for name, status in stacks(aws).items() if name.startswith("apid-weather-api")} == {
        "apid-weather-api-dev": "CREATE_COMPLETE",
        "apid-weather-api-prod": "CREATE_COMPLETE",
    }
    functions = {f["FunctionName"]: f for f in aws("lambda").list_functions()["Functions"]}
    prod_app = functions[prod["outputs"]["AppFunctionName"]]
    variables = prod_app["Environment"]["Variables"]
    assert prod_app["MemorySize"] == 1024 and {k: v for k, v in variables.items() if not k.startswith("APID_")} == {
        "TIER": "production"
    }
    assert functions[dev["outputs"]["AppFunctionName"]]["MemorySize"] == 512
    status = json.loads(run(staged, "--json", "status", "--stage", "prod").stdout)
    assert status["stack"] == "apid-weather-api-prod" and status["outputs"]["ApiUrl"] == prod["outputs"]["ApiUrl"]


def test_destroying_one_stage_leaves_the_other(staged: Path, aws: Any) -> None:
    deployed(staged)
    deployed(staged, "--stage", "prod")
    result = run(staged, "destroy", "--yes", "--stage", "dev")
    assert result.exit_code == 0, result.output
    left = {name for name in stacks(aws) if name.startswith("apid-weather-api")}
    assert left == {"apid-weather-api-prod"}


def test_a_hotswap_drifts_only_its_own_stage(staged: Path) -> None:
    deployed(staged)
    deployed(staged, "--stage", "prod")
    main = staged / "weather" / "main.py"
    main.write_text(main.read_text() + "# hotswapped\n")
    result = run(staged, "deploy", "--hotswap", "--stage", "prod")
    assert result.exit_code == 0, result.output
    state = load_state(staged)
    assert state.notes("prod").drifted_since and state.notes("dev").drifted_since is None
    assert json.loads(run(staged, "--json", "status").stdout)["drifted_since"] is None


def test_a_stage_not_deployed_is_named_with_the_command_that_deploys_it(staged: Path) -> None:
    one_line_error(
        run(staged, "logs", "--stage", "qa"), 5, "apid-weather-api-qa is not deployed", "`apid deploy --stage qa`"
    )


def test_a_bad_stage_name_changes_nothing(staged: Path, aws: Any) -> None:
    before = stacks(aws)
    one_line_error(run(staged, "deploy", "--yes", "--stage", "Prod"), 3, "stage 'Prod': use 1-16 lowercase letters")
    assert stacks(aws) == before
