"""One deploy, destroy or rollback at a time per project stage on this machine.

Two ``apid deploy`` runs on the same stage would write the same synthesis
directory, delete each other's change sets and race to execute them; the second
is refused at once instead, naming the first. The lock is the operating system's
(``flock`` on a file beside the stage's synthesis), held by an open file: a crashed
or killed process holds nothing, so no stale lock is ever left to remove by hand.
The file also says who holds it, for the refusal's message. Its holder removes it
on release, so a run leaves the project as it found it; one that locked a file
just removed that way sees the path gone or new, and locks again.

Other machines do not see this lock: there, CloudFormation's own state (a stack in
``*_IN_PROGRESS``) refuses the second operation (:func:`~api_direct.deploy.aws.aws_errors`).
"""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from api_direct.errors import StateError

LOCK_FILE = "operation.lock"
#: More than any holder record takes; a longer read would only find garbage.
_MAX_RECORD_BYTES = 4096


@dataclass(frozen=True)
class Holder:
    """Who holds a stage's lock, as the refusal names it."""

    command: str
    pid: int
    since: str
    stage: str | None

    def describe(self) -> str:
        where = f"stage {self.stage}" if self.stage else "the default stage"
        return f"{self.command} (pid {self.pid}, since {self.since}) is already running on {where} of this project"


@contextmanager
def operation_lock(directory: Path, command: str, stage: str | None) -> Iterator[Holder]:
    """Hold the stage's lock (a file in ``directory``) while the block runs; :class:`StateError` if taken.

    ``command`` is what the refusal calls this run (``apid deploy``); the lock is
    released when the block ends, however it ends, or when the process dies.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    descriptor = _locked(path)
    try:
        holder = Holder(command, os.getpid(), f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", stage)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(asdict(holder)).encode(), 0)
        yield holder
    finally:
        path.unlink(missing_ok=True)  # while still locked: nobody can be holding the file removed
        os.close(descriptor)  # releases the lock


def _locked(path: Path) -> int:
    """A descriptor of ``path`` locked by us; :class:`StateError` naming the holder when another has it."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            refusal = _refusal(descriptor, path)
            os.close(descriptor)
            raise StateError(refusal) from None
        if _same_file(path, descriptor):
            return descriptor
        os.close(descriptor)  # we locked the file its last holder removed on release: lock the path's own


def _same_file(path: Path, descriptor: int) -> bool:
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _refusal(descriptor: int, path: Path) -> str:
    """The one line that refuses a second run: the holder's own record, or the file when it has none yet."""
    try:
        holder = Holder(**json.loads(os.pread(descriptor, _MAX_RECORD_BYTES, 0)))
    except (ValueError, TypeError):  # the holder is between taking the lock and writing its record
        return f"another apid command holds {path}: wait for it to finish and rerun"
    return f"{holder.describe()}: wait for it to finish (or stop it) and rerun"
