"""apid.toml: the example loads, and every mistake is one line naming the field."""

from pathlib import Path

import pytest

from api_direct.project import ProjectError, load_project
from tests.example_project import EXAMPLE_DIR

VALID = """
[api]
name = "demo-api"
description = "A demo"
app = "main:app"

[[plans]]
name = "free"
rate_limit = 1
burst = 2
monthly_quota = 100
"""


def write_project(root: Path, toml: str, *, app_module: str = "main.py", requirements: bool = True) -> Path:
    (root / "apid.toml").write_text(toml)
    if app_module:
        (root / app_module).write_text("app = object()\n")
    if requirements:
        (root / "requirements.txt").write_text("")
    return root


def test_example_project_loads() -> None:
    project = load_project(EXAMPLE_DIR)
    assert project.stack_name == "apid-weather-api"
    assert [plan.name for plan in project.config.plans] == ["free", "pro"]
    assert project.config.runtime.python == "3.12" and project.config.runtime.architecture == "arm64"
    assert str(project.config.plans[1].price_per_1000) == "0.4"


def test_defaults_fill_optional_sections(tmp_path: Path) -> None:
    config = load_project(write_project(tmp_path, VALID)).config
    assert config.runtime.memory_mb == 512 and config.gateway.key_cache_seconds == 300 and config.gateway.stage == "v1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('name = "demo-api"', 'name = "Demo API!"'), "api.name: 'Demo API!' is not allowed"),
        (('name = "demo-api"', f'name = "{"a" * 41}"'), "api.name:"),
        (('description = "A demo"', 'description = "A demo"\nowner = "me"'), "api.owner: unknown field"),
        (("rate_limit = 1", "rate_limit = -1"), "plans[0].rate_limit: Input should be greater than 0"),
        (
            ("burst = 2", "burst = 2\nprice_per_1000 = -0.5"),
            "plans[0].price_per_1000: Input should be greater than or equal to 0",
        ),
        (
            ("monthly_quota = 100", "monthly_quota = 100\nfree_calls = 500"),
            "free_calls (500) exceeds monthly_quota (100)",
        ),
        (("rate_limit = 1", "rate_limit = 500"), "monthly_quota (100) is below rate_limit (500.0/s)"),
        (('app = "main:app"', 'app = "main"'), "api.app: 'main' is not allowed"),
        (
            ("[[plans]]", '[runtime]\narchitecture = "sparc"\n\n[[plans]]'),
            "runtime.architecture: Input should be 'arm64' or 'x86_64'",
        ),
        (
            ("[[plans]]", "[runtime]\nmemory_mb = 64\n\n[[plans]]"),
            "runtime.memory_mb: Input should be greater than or equal to 128",
        ),
    ],
)
def test_invalid_field_is_named_on_one_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    write_project(tmp_path, VALID.replace(*change))
    with pytest.raises(ProjectError) as error:
        load_project(tmp_path)
    message = str(error.value)
    assert message.startswith("apid.toml: ") and "\n" not in message
    assert expected in message


def test_duplicate_plan_names(tmp_path: Path) -> None:
    plan = VALID[VALID.index("[[plans]]") :]
    write_project(tmp_path, VALID + plan)
    with pytest.raises(ProjectError, match="plan names must be unique; repeated: free"):
        load_project(tmp_path)


def test_missing_plans(tmp_path: Path) -> None:
    write_project(tmp_path, VALID[: VALID.index("[[plans]]")])
    with pytest.raises(ProjectError, match="plans: required field is missing"):
        load_project(tmp_path)


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="apid.toml: not found; run `apid init`"):
        load_project(tmp_path)


def test_malformed_toml(tmp_path: Path) -> None:
    write_project(tmp_path, '[api\nname = "x"')
    with pytest.raises(ProjectError, match="apid.toml: not valid TOML"):
        load_project(tmp_path)


def test_app_module_must_exist(tmp_path: Path) -> None:
    write_project(tmp_path, VALID, app_module="")
    with pytest.raises(ProjectError, match="api.app: module 'main' not found"):
        load_project(tmp_path)


def test_requirements_file_must_exist(tmp_path: Path) -> None:
    write_project(tmp_path, VALID, requirements=False)
    with pytest.raises(ProjectError, match="runtime.requirements: requirements.txt not found"):
        load_project(tmp_path)


@pytest.mark.parametrize("slim", [True, False])
def test_slim_dependencies_reaches_the_bundle_spec(tmp_path: Path, slim: bool) -> None:
    """``[runtime] slim_dependencies`` decides whether the app's bundle is slimmed, and so its dependency hash."""
    from api_direct.bundling.fastapi_code import project_bundle_spec

    toml = VALID.replace("[[plans]]", f"[runtime]\nslim_dependencies = {str(slim).lower()}\n\n[[plans]]")
    spec = project_bundle_spec(load_project(write_project(tmp_path, toml)))
    assert spec.slim is slim
