"""A production API's lifecycle through the real CLI, linked through a control plane on the emulator (moto_server):
a dev deploy, a secret set, prod deployed on its own domain, prod published, a broken release, ``apid rollback``,
a fixed release. The README's "From dev to production" walks the same commands.

Each step is a module-scoped fixture that runs once, after the steps it requests, and keeps what it printed and what
the emulator held right after it; each test asserts on one step, so any test passes alone or in any order.
"""

import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.e2e.control_plane_harness import CREATOR, ControlPlane, apid, control_plane, ok, stripe_fake
from tests.example_project import copy_example
from tests.errors import one_line_error
from tests.secret_scan import find_secrets, scan_files

__all__ = ["apid", "control_plane", "stripe_fake"]  # fixtures

DOMAIN, ZONE = "api.weather.example.com", "weather.example.com"
SECRET_NAME, SECRET_VALUE = "UPSTREAM_TOKEN", "upstream-s3cr3t-7f1d0c9a2b"
STAGES = f"""
[deploy]
default_stage = "dev"

[stages.prod]
domain = "{DOMAIN}"
memory_mb = 1024
"""
MAIN = Path("weather") / "main.py"
BROKEN = """

@app.middleware("http")
async def broken_release(request, call_next):  # the release that breaks every call
    raise RuntimeError("broken release")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(tmp_path_factory.mktemp("journey"))
    (root / "apid.toml").write_text((root / "apid.toml").read_text() + STAGES)
    return root


def creator(apid: Any, *args: str, input: str | None = None) -> dict[str, Any]:
    return ok(apid("--json", *args, user=CREATOR, input=input))


def code_sha(control_plane: ControlPlane, function: str, version: str) -> str:
    return str(
        control_plane.aws("lambda").get_function(FunctionName=function, Qualifier=version)["Configuration"][
            "CodeSha256"
        ]
    )


def live(control_plane: ControlPlane, function: str) -> str:
    return str(control_plane.aws("lambda").get_alias(FunctionName=function, Name="live")["FunctionVersion"])


@pytest.fixture(scope="module")
def dev(apid: Any, control_plane: ControlPlane) -> dict[str, Any]:
    creator(apid, "aws", "link")
    return creator(apid, "deploy", "--yes")


@pytest.fixture(scope="module")
def secret(apid: Any, dev: dict[str, Any]) -> SimpleNamespace:
    output = creator(apid, "secrets", "set", SECRET_NAME, "--stage", "prod", input=SECRET_VALUE + "\n")
    return SimpleNamespace(output=output, listed=creator(apid, "secrets", "list", "--stage", "prod"))


@pytest.fixture(scope="module")
def prod(apid: Any, control_plane: ControlPlane, secret: SimpleNamespace) -> SimpleNamespace:
    control_plane.aws("route53").create_hosted_zone(Name=ZONE, CallerReference="journey")
    output = creator(apid, "deploy", "--yes", "--stage", "prod")
    function = output["outputs"]["AppFunctionName"]
    return SimpleNamespace(
        output=output,
        function=function,
        configuration=control_plane.aws("lambda").get_function_configuration(FunctionName=function),
        good_code=code_sha(control_plane, function, output["outputs"]["AppVersion"]),
    )


@pytest.fixture(scope="module")
def published(apid: Any, control_plane: ControlPlane, prod: SimpleNamespace) -> dict[str, Any]:
    creator(apid, "publish", "--stage", "prod")
    with urllib.request.urlopen(f"{control_plane.url}/listings/weather-api", timeout=10) as response:  # noqa: S310
        return json.load(response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def broken(
    apid: Any, project: Path, control_plane: ControlPlane, published: dict[str, Any], prod: SimpleNamespace
) -> SimpleNamespace:
    main = project / MAIN
    main.write_text(main.read_text() + BROKEN)
    output = creator(apid, "deploy", "--yes", "--stage", "prod")
    return SimpleNamespace(output=output, live=live(control_plane, prod.function))


@pytest.fixture(scope="module")
def rolled_back(
    apid: Any, control_plane: ControlPlane, broken: SimpleNamespace, prod: SimpleNamespace
) -> SimpleNamespace:
    output = creator(apid, "rollback", "--stage", "prod")
    live_version = live(control_plane, prod.function)
    return SimpleNamespace(
        output=output,
        live=live_version,
        code=code_sha(control_plane, prod.function, live_version),
        status=creator(apid, "status", "--stage", "prod"),
        versions=creator(apid, "versions", "--stage", "prod"),
    )


@pytest.fixture(scope="module")
def fixed(
    apid: Any, project: Path, control_plane: ControlPlane, rolled_back: SimpleNamespace, prod: SimpleNamespace
) -> SimpleNamespace:
    main = project / MAIN
    main.write_text(main.read_text().replace(BROKEN, "\n# fixed: the middleware is gone\n"))
    output = creator(apid, "deploy", "--yes", "--stage", "prod")
    return SimpleNamespace(
        output=output, live=live(control_plane, prod.function), status=creator(apid, "status", "--stage", "prod")
    )


def test_dev_is_the_default_stage(dev: dict[str, Any]) -> None:
    assert dev["stack"] == "apid-weather-api-dev" and dev["status"] == "CREATE_COMPLETE"
    assert "execute-api" in dev["outputs"]["ApiUrl"]


def test_the_secret_is_stored_for_prod_and_listed_without_its_value(secret: SimpleNamespace) -> None:
    assert [s["name"] for s in secret.listed["secrets"]] == [SECRET_NAME]
    assert SECRET_VALUE not in json.dumps(secret.output) + json.dumps(secret.listed)


def test_prod_is_its_own_stack_on_its_own_domain_reading_its_secrets(prod: SimpleNamespace) -> None:
    assert prod.output["stack"] == "apid-weather-api-prod"
    assert prod.output["outputs"]["ApiUrl"] == f"https://{DOMAIN}/"
    variables = prod.configuration["Environment"]["Variables"]
    assert variables["APID_SECRETS_PATH"] == "/apid/weather-api/prod" and SECRET_VALUE not in json.dumps(variables)
    assert prod.configuration["MemorySize"] == 1024 and prod.output["outputs"]["AppVersion"] == "1"


def test_the_marketplace_lists_prod_at_its_domain(published: dict[str, Any]) -> None:
    assert published["base_url"] == f"https://{DOMAIN}/"


def test_the_broken_release_went_live_as_a_new_version(broken: SimpleNamespace) -> None:
    assert broken.output["outputs"]["AppVersion"] == "2" and broken.live == "2"


def test_rollback_puts_the_good_code_back_without_cloudformation(
    rolled_back: SimpleNamespace, prod: SimpleNamespace
) -> None:
    assert (rolled_back.output["previous"], rolled_back.output["live"], rolled_back.live) == ("2", "1", "1")
    assert rolled_back.code == prod.good_code
    assert rolled_back.status["rolled_back"] is True and rolled_back.status["status"] == "UPDATE_COMPLETE"
    assert [(v["version"], v["live"]) for v in rolled_back.versions["versions"]] == [(2, False), (1, True)]


def test_the_fixed_release_goes_live_and_ends_the_rollback(fixed: SimpleNamespace) -> None:
    assert fixed.output["outputs"]["AppVersion"] == "3" and fixed.live == "3"
    assert fixed.status["rolled_back"] is False and fixed.status["live_version"] == "3"


def test_the_secret_is_in_no_output_state_or_template(fixed: SimpleNamespace, project: Path) -> None:
    written = [path for path in (project / ".apid").rglob("*") if path.is_file() and path.suffix in {".json", ".txt"}]
    assert scan_files(written, {"secret": SECRET_VALUE}) == []
    assert find_secrets("deploy output", json.dumps(fixed.output), {"secret": SECRET_VALUE}) == []


def test_publishing_a_stage_not_deployed_is_refused(apid: Any, dev: dict[str, Any]) -> None:
    refused = apid("publish", "--stage", "qa", user=CREATOR)
    one_line_error(refused, 5, "apid-weather-api-qa is not deployed", "apid deploy --stage qa")
