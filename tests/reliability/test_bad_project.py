"""Bad input in a project (apid.toml, the app, its requirements), through the real CLI.

Each case edits a copy of the example, runs ``apid synth`` and checks the refusal
(one line naming the field or file and the fix, exit 3, no traceback) and that the
project folder is byte for byte what it was: no assembly, no state, no byte-code.
"""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from api_direct.cli.main import cli
from api_direct.deploy import synthesis
from api_direct.deploy.app_check import CHECK_OFF_WARNING
from api_direct.errors import InputError
from tests.example_project import copy_example
from tests.errors import files, one_line_error

Edit = Callable[[Path], None]


def in_toml(old: str, new: str) -> Edit:
    def edit(project: Path) -> None:
        config = project / "apid.toml"
        assert old in config.read_text()
        config.write_text(config.read_text().replace(old, new, 1))

    return edit


def write(path: str, text: str) -> Edit:
    return lambda project: (project / path).write_text(text)


def prepend(path: str, text: str) -> Edit:
    return lambda project: (project / path).write_text(text + (project / path).read_text())


def delete(path: str) -> Edit:
    return lambda project: (project / path).unlink()


def each(*edits: Edit) -> Edit:
    return lambda project: [edit(project) for edit in edits] and None


PLAN = '[[plans]]\nname = "free"\nrate_limit = 2\nburst = 5\nmonthly_quota = 1000\nfree_calls = 1000\n'

CASES = [
    pytest.param(delete("apid.toml"), "apid.toml: not found; run `apid init`", id="no-apid-toml"),
    pytest.param(write("apid.toml", '[api\nname = "x"\n'), "apid.toml: not valid TOML", id="malformed-toml"),
    pytest.param(
        in_toml('category = "weather"', 'category = "weather"\ncolour = "red"'),
        "api.colour: unknown field",
        id="unknown-field",
    ),
    pytest.param(
        in_toml("price_per_1000 = 0.40", "price_per_1000 = -0.40"),
        "plans[1].price_per_1000: Input should be greater than or equal to 0",
        id="negative-price",
    ),
    pytest.param(
        in_toml("monthly_quota = 1000\nfree_calls = 1000", "monthly_quota = 1\nfree_calls = 1"),
        "monthly_quota (1) is below rate_limit (2.0/s)",
        id="quota-below-rate",
    ),
    pytest.param(
        in_toml('name = "weather-api"', 'name = "Weather API!"'),
        "api.name: 'Weather API!' is not allowed",
        id="name-illegal-characters",
    ),
    pytest.param(in_toml('name = "weather-api"', f'name = "{"w" * 41}"'), "api.name:", id="name-too-long"),
    pytest.param(
        in_toml("free_calls = 1000\n", "free_calls = 5000\n"),
        "free_calls (5000) exceeds monthly_quota (1000)",
        id="free-calls-above-quota",
    ),
    pytest.param(
        lambda project: (project / "apid.toml").write_text((project / "apid.toml").read_text() + PLAN),
        "plan names must be unique; repeated: free",
        id="duplicate-plan",
    ),
    pytest.param(
        in_toml("rate_limit = 2", "rate_limit = 0"),
        "plans[0].rate_limit: Input should be greater than 0",
        id="zero-rate-limit",
    ),
    pytest.param(
        in_toml('architecture = "arm64"', 'architecture = "sparc"'), "runtime.architecture:", id="architecture"
    ),
    pytest.param(in_toml('python = "3.12"', 'python = "2.7"'), "runtime.python:", id="python-version"),
    pytest.param(
        in_toml("timeout_seconds = 10", "timeout_seconds = 60"),
        "runtime.timeout_seconds: Input should be less than or equal to 29",
        id="timeout-beyond-api-gateway",
    ),
    pytest.param(
        in_toml('app = "weather.main:app"', 'app = "weather/main.py"'),
        "api.app: 'weather/main.py' is not allowed",
        id="app-reference-syntax",
    ),
    pytest.param(
        in_toml('app = "weather.main:app"', 'app = "weather.server:app"'),
        "module 'weather.server' not found",
        id="app-module-missing",
    ),
    pytest.param(delete("requirements.txt"), "runtime.requirements: requirements.txt not found", id="no-requirements"),
    pytest.param(
        in_toml('app = "weather.main:app"', 'app = "weather.main:application"'),
        "weather.main has no attribute 'application'",
        id="no-asgi-app",
    ),
    pytest.param(
        each(
            write("weather/wsgi.py", "def app(environ, start_response):\n    return []\n"),
            in_toml('app = "weather.main:app"', 'app = "weather.wsgi:app"'),
        ),
        "app is of type function, not an ASGI app",
        id="wsgi-app",
    ),
    pytest.param(
        prepend("weather/main.py", "import geopandas\n"),
        "no module named 'geopandas', and requirements.txt does not provide it",
        id="app-dependency-missing",
    ),
    pytest.param(
        prepend("weather/climate.py", "CITIES = load_cities()\n"),
        "NameError: name 'load_cities' is not defined (weather/climate.py, line 1)",
        id="app-raises-at-import",
    ),
    pytest.param(
        prepend("weather/main.py", "def broken(:\n"),
        "SyntaxError: invalid syntax (weather/main.py, line 1)",
        id="app-syntax-error",
    ),
    pytest.param(
        write("requirements.txt", "fastapi==0.0.1\n"),
        "pip could not install the requirements for Lambda",
        id="requirements-unresolvable",
    ),
]


@pytest.mark.parametrize(("edit", "message"), CASES)
def test_bad_project_is_one_line_exit_3_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Edit, message: str
) -> None:
    project = copy_example(tmp_path)
    edit(project)
    before = files(project)
    result = CliRunner().invoke(cli, ["--project", str(project), "synth"])
    one_line_error(result, InputError.exit_code, message)
    assert files(project) == before


def test_with_check_import_off_a_broken_app_synthesizes_with_one_warning_until_it_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opt-out imports nothing and says so once; turning it back on is a new synthesis, and the app is refused."""
    project = copy_example(tmp_path)
    prepend("weather/climate.py", "CITIES = load_cities()\n")(project)
    in_toml('requirements = "requirements.txt"', 'requirements = "requirements.txt"\ncheck_import = false')(project)
    with monkeypatch.context() as patch:
        patch.setattr(synthesis, "start_app_check", lambda *_, **__: pytest.fail("the app check started"))
        result = CliRunner().invoke(cli, ["--project", str(project), "--json", "synth"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == [CHECK_OFF_WARNING]
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        f"warning: {CHECK_OFF_WARNING}"
    ]
    in_toml("check_import = false", "check_import = true")(project)
    one_line_error(
        CliRunner().invoke(cli, ["--project", str(project), "synth"]),
        InputError.exit_code,
        "NameError: name 'load_cities' is not defined (weather/climate.py, line 1)",
    )
