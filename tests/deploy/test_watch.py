"""``apid deploy --watch``: the file watcher's batches, and one redeploy (and one line) per batch."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_direct.deploy.watch import Redeploy, project_changes, redeploy_each
from api_direct.errors import StateError


def first_batch(root: Path, *, after: str, then: str) -> tuple[str, ...]:
    """The first batch the watcher yields once ``after`` is written and then ``then`` (which it must see)."""
    stop = threading.Event()
    batches: list[tuple[str, ...]] = []

    def watch() -> None:
        for batch in project_changes(root, stop):
            batches.append(batch)
            stop.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(100):  # until the watcher is up: writes before it starts are not events
            (root / after).parent.mkdir(parents=True, exist_ok=True)
            (root / after).write_text("x")
            (root / then).write_text("y")
            watcher.join(timeout=0.2)
            if batches:
                break
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert batches, "the watcher saw no change"
    return batches[0]


def test_saved_files_come_as_one_batch_of_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    batch = first_batch(tmp_path, after="app/models.py", then="app/main.py")
    assert set(batch) <= {"app/models.py", "app/main.py"} and "app/main.py" in batch


def test_what_a_deploy_writes_is_not_a_change(tmp_path: Path) -> None:
    batch = first_batch(tmp_path, after=".apid/cdk.out/template.json", then="main.py")
    assert batch == ("main.py",)


def test_each_batch_gets_one_deploy_and_a_failure_does_not_stop_the_watch() -> None:
    outcomes: Iterator[tuple[str, str] | Exception] = iter(
        [("HOTSWAPPED", "hotswapped App"), StateError("the stack is busy"), ("UPDATE_COMPLETE", "2 change(s)")]
    )

    def deploy_once() -> tuple[str, str]:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    reported: list[Redeploy] = []
    redeploy_each([("a.py",), ("b.py",), ("apid.toml",)], deploy_once, reported.append)
    assert [(r.changed, r.status, r.error, r.exit_code) for r in reported] == [
        (("a.py",), "HOTSWAPPED", None, 0),
        (("b.py",), None, "the stack is busy", 5),
        (("apid.toml",), "UPDATE_COMPLETE", None, 0),
    ]


def test_a_bug_is_not_swallowed() -> None:
    def deploy_once() -> tuple[str, str]:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        redeploy_each([("a.py",)], deploy_once, lambda redeploy: None)
