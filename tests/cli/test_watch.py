"""``apid deploy --watch`` through the real CLI, moto in process: a code save hotswaps, an apid.toml save deploys in
full, one line each. The batches are the watcher's (tests/deploy/test_watch.py checks it sees saves); here they are
the saves themselves, made as the command asks for the next one."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import api_direct.cli.stack as stack_command
from tests.cli_aws import aws, linked, remove_stack, run

__all__ = ["aws", "linked"]  # fixtures


@pytest.fixture
def project(linked: Path, aws: Any) -> Iterator[Path]:
    remove_stack(aws, "apid-weather-api")
    saved = {path: path.read_text() for path in (linked / "apid.toml", linked / "weather" / "main.py")}
    yield linked
    for path, text in saved.items():
        path.write_text(text)


def test_each_save_redeploys_as_fast_as_what_changed_allows(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def saves(root: Path) -> Iterator[tuple[str, ...]]:
        main = root / "weather" / "main.py"
        main.write_text(main.read_text() + "\n# saved\n")
        yield ("weather/main.py",)
        toml = root / "apid.toml"
        toml.write_text(toml.read_text().replace("memory_mb = 512", "memory_mb = 1024"))
        yield ("apid.toml",)
        toml.write_text(toml.read_text().replace("[[plans]]", "[[plans", 1))  # broken: the watch goes on
        yield ("apid.toml",)
        toml.write_text(toml.read_text().replace("[[plans\n", "[[plans]]\n", 1))
        yield ("apid.toml",)

    monkeypatch.setattr(stack_command, "project_changes", saves)
    result = run(project, "--json", "deploy", "--yes", "--watch")
    assert result.exit_code == 0, result.output
    first, *lines = result.stdout.strip().split("\n{")
    assert json.loads(first)["status"] == "CREATE_COMPLETE"
    redeploys = [json.loads("{" + line) for line in lines]
    assert [(r["changed"], r["status"], r["exit_code"]) for r in redeploys] == [
        (["weather/main.py"], "HOTSWAPPED", 0),
        (["apid.toml"], "UPDATE_COMPLETE", 0),
        (["apid.toml"], None, 3),
        (["apid.toml"], "NO_CHANGES", 0),
    ]
    assert "apid.toml" in redeploys[2]["error"]


def test_lines_for_people(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def saves(root: Path) -> Iterator[tuple[str, ...]]:
        main = root / "weather" / "main.py"
        main.write_text(main.read_text() + "\n# saved\n")
        yield ("weather/main.py",)

    monkeypatch.setattr(stack_command, "project_changes", saves)
    result = run(project, "deploy", "--yes", "--watch")
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if "weather/main.py →" in line]
    assert "HOTSWAPPED: hotswapped App" in line and line.endswith(" s)")
    assert "Watching" in result.stderr
