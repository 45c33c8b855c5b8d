"""``apid deploy --watch``: deploy again on each save, as fast as what changed allows.

Each batch of saved files gets one deploy with the hotswap fast path
(:func:`api_direct.deploy.operations.deploy` with ``hotswap=True``): code alone
changed, the functions' code is swapped in seconds; anything else (``apid.toml``,
requirements), a full CloudFormation deploy. A failed deploy is reported and the
watch goes on: the next save is the fix.
"""

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from api_direct.errors import ApidError

#: Saves closer together than this are one change (an editor's save-all, a formatter run after a save).
DEBOUNCE_MS = 800
#: What a deploy writes itself (its synthesis under ``.apid``) and caches that no bundle takes.
IGNORED_DIRS = (".apid", ".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv", "node_modules")


@dataclass(frozen=True)
class Redeploy:
    """What one batch of changes did: the deploy's status, or the error that stopped it."""

    changed: tuple[str, ...]
    seconds: float
    status: str | None = None
    detail: str = ""
    error: str | None = None
    exit_code: int = 0


def project_changes(root: Path, stop: threading.Event | None = None) -> Iterator[tuple[str, ...]]:
    """Batches of changed files under ``root`` (relative paths), until ``stop`` is set or Ctrl-C."""
    changes: Iterable[set[tuple[watchfiles.Change, str]]] = watchfiles.watch(
        root,
        watch_filter=watchfiles.DefaultFilter(ignore_dirs=IGNORED_DIRS),
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        raise_interrupt=False,
    )
    for batch in changes:
        yield tuple(sorted({Path(path).relative_to(root).as_posix() for _, path in batch}))


def redeploy_each(
    batches: Iterable[tuple[str, ...]], deploy_once: Callable[[], tuple[str, str]], report: Callable[[Redeploy], None]
) -> None:
    """For each batch, ``deploy_once()`` (its status and a detail line) and one :class:`Redeploy` to ``report``."""
    for changed in batches:
        started = time.monotonic()
        try:
            status, detail = deploy_once()
        except ApidError as error:
            report(Redeploy(changed, time.monotonic() - started, error=str(error), exit_code=error.exit_code))
        else:
            report(Redeploy(changed, time.monotonic() - started, status=status, detail=detail))
