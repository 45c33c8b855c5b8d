"""Stages in apid.toml: a stack each, the default stage, per-stage runtime settings and variables, and the rules
Lambda sets for variables (reserved names, 4 KB in all), each a one-line error."""

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from api_direct.deploy.lambda_environment import lambda_environment
from api_direct.project import ProjectError, load_project
from api_direct.user_stack import UserApiStack
from tests.example_project import copy_example

STAGES = """
[deploy]
default_stage = "dev"

[env]
LOG_LEVEL = "debug"
UPSTREAM_URL = "https://upstream.example"

[stages.prod]
memory_mb = 1024
timeout_seconds = 20

[stages.prod.env]
LOG_LEVEL = "warning"
"""


def staged(parent: Path, extra: str = STAGES) -> Path:
    project = copy_example(parent)
    toml = project / "apid.toml"
    toml.write_text(toml.read_text() + extra)
    return project


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return staged(tmp_path)


def test_each_stage_is_a_stack_of_its_own(project_dir: Path) -> None:
    assert load_project(project_dir).stack_name == "apid-weather-api-dev"  # the default stage
    assert load_project(project_dir, "prod").stack_name == "apid-weather-api-prod"
    assert load_project(project_dir, "alice").stack_name == "apid-weather-api-alice"  # no [stages.alice] needed
    assert load_project(project_dir, "prod").assembly_dir == project_dir / ".apid" / "stages" / "prod" / "cdk.out"


def test_a_project_without_stages_keeps_its_one_stack(copy_of_example: Path) -> None:
    project = load_project(copy_of_example)
    assert (project.stage, project.stack_name) == (None, "apid-weather-api")
    assert project.assembly_dir == copy_of_example / ".apid" / "cdk.out"


def test_a_stage_overrides_runtime_settings_and_variables(project_dir: Path) -> None:
    dev, prod = load_project(project_dir), load_project(project_dir, "prod")
    assert (dev.runtime.memory_mb, dev.runtime.timeout_seconds) == (512, 10)
    assert (prod.runtime.memory_mb, prod.runtime.timeout_seconds) == (1024, 20)
    assert dev.environment == {"LOG_LEVEL": "debug", "UPSTREAM_URL": "https://upstream.example"}
    assert prod.environment == {"LOG_LEVEL": "warning", "UPSTREAM_URL": "https://upstream.example"}


def test_a_stage_s_settings_stay_its_own(project_dir: Path) -> None:
    """Moving a project from prod to dev gives dev's settings, not prod's carried over."""
    moved = load_project(project_dir, "prod").in_stage("dev")
    assert (moved.stack_name, moved.runtime.memory_mb, moved.environment["LOG_LEVEL"]) == (
        "apid-weather-api-dev",
        512,
        "debug",
    )


def test_the_app_check_imports_the_app_with_the_stage_s_variables(project_dir: Path) -> None:
    """The app may read ``[env]`` at import, as it will in Lambda; Lambda's own names are still Lambda's."""
    variables = lambda_environment(load_project(project_dir, "prod"))
    assert variables["LOG_LEVEL"] == "warning" and variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"


def test_the_unreserved_variables_lambda_sets_are_the_app_s_to_replace(tmp_path: Path) -> None:
    """TZ and LANG are Lambda's defaults, not reserved names: a function's own values win, in Lambda and here."""
    project = load_project(staged(tmp_path, '\n[env]\nTZ = "Europe/Zurich"\n'))
    assert lambda_environment(project)["TZ"] == "Europe/Zurich"
    assert lambda_environment(load_project(staged(tmp_path / "plain", "")))["TZ"] == ":UTC"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[env]\nAWS_REGION = "eu-west-1"\n', "env: AWS_REGION is set by Lambda or API-Direct and cannot be set here"),
        ('[env]\nAWS_LAMBDA_X = "1"\n', "AWS_LAMBDA_X is set by Lambda or API-Direct"),
        ('[env]\nAPID_TOKEN = "1"\n', "APID_TOKEN is set by Lambda or API-Direct"),
        ('[env]\n"1ST" = "1"\n', "env.1ST.[key]: '1ST' is not allowed"),
        ('[stages.prod.env]\n_HANDLER = "x"\n', "stages.prod.env: _HANDLER is set by Lambda"),
        (f'[env]\nBIG = "{"x" * 4100}"\n', "[env] come to 4103 bytes; Lambda allows 4096 in all"),
        ("[stages.Prod]\nmemory_mb = 1024\n", "stages.Prod.[key]: 'Prod' is not allowed"),
        ("[stages.prod]\nmemory_mb = 64\n", "stages.prod.memory_mb: Input should be greater than or equal to 128"),
        ('[deploy]\ndefault_stage = "-dev"\n', "deploy.default_stage: '-dev' is not allowed"),
    ],
    ids=[
        "lambda-reserved",
        "lambda-prefix",
        "apid-prefix",
        "bad-name",
        "stage-reserved",
        "over-4kb",
        "bad-stage-key",
        "stage-memory",
        "bad-default-stage",
    ],
)
def test_bad_stage_settings_are_one_line(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ProjectError) as raised:
        load_project(staged(tmp_path, "\n" + extra))
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("stage", ["Prod", "prod_1", "-x", "a" * 17, "prod-"])
def test_a_bad_stage_name_is_one_line(copy_of_example: Path, stage: str) -> None:
    with pytest.raises(ProjectError, match=f"stage '{stage}': use 1-16 lowercase letters"):
        load_project(copy_of_example, stage)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    project_dir = staged(tmp_path_factory.mktemp("stages"))
    return {
        stage: Template.from_stack(UserApiStack(cdk.App(), stage, project=load_project(project_dir, stage)))
        for stage in ("dev", "prod")
    }


def _app_function(template: Template) -> dict[str, object]:
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "apid_handler.handler"}}
    ).values()
    return function["Properties"]  # type: ignore[no-any-return]


def test_the_stage_s_function_has_its_size_limit_and_variables(templates: dict[str, Template]) -> None:
    dev, prod = _app_function(templates["dev"]), _app_function(templates["prod"])
    assert (dev["MemorySize"], dev["Timeout"], prod["MemorySize"], prod["Timeout"]) == (512, 10, 1024, 20)
    upstream = {"UPSTREAM_URL": "https://upstream.example"}
    assert dev["Environment"] == {
        "Variables": {"LOG_LEVEL": "debug", **upstream, "APID_SECRETS_PATH": "/apid/weather-api/dev"}
    }
    assert prod["Environment"] == {
        "Variables": {"LOG_LEVEL": "warning", **upstream, "APID_SECRETS_PATH": "/apid/weather-api/prod"}
    }


def test_each_stage_has_its_own_key_bus(templates: dict[str, Template]) -> None:
    for stage, template in templates.items():
        template.has_resource_properties("AWS::Events::EventBus", {"Name": f"apid-weather-api-{stage}-keys"})
