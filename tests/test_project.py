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
    assert [plan.name for plan in project.config.plans] == ["free", "pro", "starter", "credits"]
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
        (("burst = 2", "burst = 2\ntrial_days = 14"), "trial_days needs a paid plan"),
        (("burst = 2", "burst = 2\nmonthly_fee = 5\ntrial_days = 731"), "plans[0].trial_days: Input should be less"),
        (
            ("burst = 2", "burst = 2\nmonthly_fee = 5\nprepaid = { calls = 100, price = 8 }"),
            "a prepaid plan is paid by its packs: remove monthly_fee or remove prepaid",
        ),
        (
            ("burst = 2", "burst = 2\nprepaid = { calls = 100, price = 0 }"),
            "plans[0].prepaid.price: Input should be greater than 0",
        ),
        (
            ("burst = 2", "burst = 2\nprepaid = { calls = 100, price = 1.999 }"),
            "plans[0].prepaid.price:",
        ),
        (
            ("burst = 2", "burst = 2\nprepaid = { calls = 100, price = 8, expires_days = 0 }"),
            "plans[0].prepaid.expires_days: Input should be greater than or equal to 1",
        ),
        (("[[plans]]", '[[routes]]\npath = "forecast"\n\n[[plans]]'), "routes[0].path: 'forecast' is not allowed"),
        (
            ("[[plans]]", '[[routes]]\npath = "/a/{rest:path}/b"\n\n[[plans]]'),
            "routes[0].path: '/a/{rest:path}/b' is not allowed",
        ),
        (("[[plans]]", '[[routes]]\npath = "/a"\nweight = 1001\n\n[[plans]]'), "routes[0].weight: Input should be"),
        (
            ("[[plans]]", '[[routes]]\npath = "/a"\nmethods = ["FETCH"]\n\n[[plans]]'),
            "routes[0].methods[0]: Input should be 'GET'",
        ),
        (
            ("[[plans]]", '[[routes]]\npath = "/a"\n\n[[routes]]\npath = "/a"\nweight = 3\n\n[[plans]]'),
            "routes must be unique; repeated: * /a",
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


def test_pricing_shapes_load(tmp_path: Path) -> None:
    shapes = """
[[plans]]
name = "trial"
rate_limit = 1
burst = 2
monthly_fee = 9
trial_days = 14
private = true

[[plans]]
name = "credits"
rate_limit = 1
burst = 2
deprecated = true
prepaid = { calls = 10000, price = 8.00, expires_days = 365 }

[[routes]]
path = "/forecast/{city}"
methods = ["GET"]
weight = 5
"""
    config = load_project(write_project(tmp_path, VALID + shapes)).config
    trial, credits = config.plans[1], config.plans[2]
    assert (trial.trial_days, trial.private, trial.is_subscription, trial.is_prepaid) == (14, True, True, False)
    assert credits.is_paid and credits.is_prepaid and credits.deprecated and not credits.is_subscription
    assert credits.prepaid is not None and (credits.prepaid.calls, credits.prepaid.price) == (10000, 8)
    (route,) = config.routes
    assert route.weight == 5 and route.applies_to("get") and not route.applies_to("POST")


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
