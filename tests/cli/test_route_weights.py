"""``[[routes]]`` API Gateway cannot make, or the app does not declare, stop `apid synth` on one line (exit 3)."""

from pathlib import Path

from click.testing import CliRunner

from api_direct.cli.main import cli


def synth_with_route(project: Path, path: str) -> tuple[int, str]:
    """The exit code and the error line of `apid synth` with one more ``[[routes]]`` entry."""
    toml = project / "apid.toml"
    toml.write_text(toml.read_text() + f'\n[[routes]]\npath = "{path}"\nweight = 2\n')
    result = CliRunner().invoke(cli, ["--project", str(project), "synth"])
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    return result.exit_code, error


def test_two_path_parameters_at_one_level_are_refused_before_anything_is_built(copy_of_example: Path) -> None:
    code, error = synth_with_route(copy_of_example, "/forecast/{day}/hourly")
    assert code == 3 and error == (
        "Error: routes /forecast/{city_id} and /forecast/{day}: API Gateway allows one path parameter per level;"
        " name them alike"
    )
    assert not (copy_of_example / ".apid" / "cdk.out").exists()


def test_a_route_the_app_does_not_declare_is_refused(copy_of_example: Path) -> None:
    code, error = synth_with_route(copy_of_example, "/forecasts/{city_id}")
    assert code == 3 and error.startswith("Error: routes: /forecasts/{city_id} is not a route of weather.main:app;")
