"""`apid init` through Click: files and JSON out, one-line refusals with exit code 3 that change nothing."""

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli


@pytest.fixture(scope="module")
def apid() -> click.Group:
    """The real root group (global options, error mapping)."""
    return cli


def run(apid: click.Group, *args: str) -> Result:
    return CliRunner().invoke(apid, list(args))


def test_creates_the_project_and_reports_it_as_json(apid: click.Group, tmp_path: Path) -> None:
    result = run(apid, "--json", "init", str(tmp_path / "Quote Service"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    root = tmp_path / "Quote Service"
    assert report["project_dir"] == str(root) and report["name"] == "quote-service"
    assert sorted(report["created"]) == [".gitignore", "apid.toml", "main.py", "requirements.txt", "tests/test_main.py"]
    assert all((root / path).is_file() for path in report["created"])
    assert report["next_steps"] == [f"cd '{root}'", "python -m pytest", "apid synth", "apid aws link", "apid deploy"]


def test_human_output_lists_files_and_next_commands(apid: click.Group, tmp_path: Path) -> None:
    result = run(apid, "init", str(tmp_path), "--name", "Text Tools")
    assert result.exit_code == 0, result.output
    assert "Created text-tools in" in result.stdout
    assert "tests/test_main.py" in result.stdout and "apid aws link" in result.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_directory_defaults_to_the_project_option(apid: click.Group, tmp_path: Path, where: str) -> None:
    project = ["--project", str(tmp_path / "via-option")]
    result = run(apid, *project, "init") if where == "before" else run(apid, "init", *project)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "via-option" / "apid.toml").is_file()


def test_in_the_current_folder_there_is_no_cd_step(
    apid: click.Group, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(apid, "--json", "init", "--name", "here-api")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["next_steps"][0] == "python -m pytest"
    assert (tmp_path / "apid.toml").is_file()


def test_existing_project_is_refused_with_exit_3_and_untouched(apid: click.Group, tmp_path: Path) -> None:
    (tmp_path / "apid.toml").write_text("# mine\n")
    result = run(apid, "init", str(tmp_path))
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "apid.toml: already exists; this folder is already an API-Direct project" in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["apid.toml"]
    assert (tmp_path / "apid.toml").read_text() == "# mine\n"


def test_conflicting_file_is_named_and_nothing_is_written(apid: click.Group, tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('mine')\n")
    result = run(apid, "init", str(tmp_path), "--name", "clash")
    assert result.exit_code == 3
    assert "main.py: already exists" in result.stderr and "Traceback" not in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["main.py"]


def test_unsluggable_name_is_exit_3(apid: click.Group, tmp_path: Path) -> None:
    result = run(apid, "init", str(tmp_path / "new"), "--name", "?")
    assert result.exit_code == 3 and "3-40 lowercase letters" in result.stderr
    assert not (tmp_path / "new").exists()


def test_help_says_what_it_creates_and_what_comes_next(apid: click.Group) -> None:
    result = run(apid, "init", "--help")
    assert result.exit_code == 0
    for text in ("main.py", "apid.toml", "apid synth", "apid aws link", "apid deploy"):
        assert text in result.output


def test_the_new_project_synthesizes(apid: click.Group, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "fresh-api"
    assert run(apid, "init", str(project)).exit_code == 0
    result = run(apid, "--project", str(project), "--json", "synth", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stack"] == "apid-fresh-api"
