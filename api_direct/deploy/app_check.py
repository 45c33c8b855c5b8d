"""Import the creator's app before it ships, so a broken app fails `apid synth`, not every call in Lambda.

apid.toml can name a module that imports nothing callable, raises when imported,
or holds a WSGI app Mangum cannot serve; CloudFormation would deploy any of them
happily and the API would answer 502 to every consumer. The import runs in a
separate interpreter (the creator's modules never load into ours), started before
synthesis and read after it, so the second it takes overlaps with bundling.

The interpreter is this one, with the project root first on ``sys.path``, as for
``apid dev`` and the app's own tests. A module the local environment lacks is not
the app's fault if the Lambda bundle provides it (its requirements are installed
for Lambda's platform, not here): only a module neither provides is an error.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from api_direct.errors import InputError
from api_direct.project import Project

#: Long enough for an app that loads a model at import; a hang is reported, not waited on forever.
TIMEOUT_SECONDS = 120

_CHECK = """
import inspect, json, sys, traceback
root, reference = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
module_name, _, attribute = reference.partition(":")

def report(**fields):
    sys.stdout.write(json.dumps(fields))
    sys.exit(0)

def raised_at(error):
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(root + "/")]
    return f" ({frames[-1].filename[len(root) + 1:]}, line {frames[-1].lineno})" if frames else ""

try:
    import importlib
    module = importlib.import_module(module_name)
except ModuleNotFoundError as error:
    report(missing=error.name or "", detail=str(error), where=raised_at(error))
except SyntaxError as error:
    report(error=f"SyntaxError: {error.msg} ({error.filename[len(root) + 1:]}, line {error.lineno})")
except BaseException as error:
    first = (str(error).splitlines() or [""])[0]
    report(error=f"{type(error).__name__}: {first}{raised_at(error)}")
app = getattr(module, attribute, None)
if app is None:
    report(absent=True)
call = app if inspect.isfunction(app) else getattr(type(app), "__call__", None)
if not inspect.iscoroutinefunction(call):
    report(not_asgi=type(app).__name__)
report()
"""


@dataclass
class AppCheck:
    """An import of the project's app under way in another interpreter."""

    project: Project
    process: subprocess.Popen[str]
    _found: dict[str, str] | None = None

    def result(self, bundle: Path) -> None:
        """Raise :class:`InputError` if the app cannot serve; ``bundle`` is the Lambda bundle's folder."""
        problem = _problem(self._wait(), self.project, bundle)
        if problem:
            raise InputError(f"api.app {self.project.config.api.app}: {problem}")

    def cancel(self) -> None:
        """Stop the import if it is still running (synthesis failed before its verdict was read)."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.communicate()

    def _wait(self) -> dict[str, str]:
        if self._found is None:
            reference = self.project.config.api.app
            try:
                stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.cancel()
                raise InputError(f"api.app {reference}: importing it took over {TIMEOUT_SECONDS} s; does it block at import?") from None
            try:
                self._found = json.loads(stdout)
            except ValueError:
                last = (stderr.strip().splitlines() or [f"exit status {self.process.returncode}"])[-1]
                raise InputError(f"api.app {reference}: importing it crashed the interpreter ({last})") from None
        return self._found


@dataclass
class PendingAppCheck:
    """A verdict a deploy reads as late as it safely can: before its first change to the account.

    The assembly (and its record) is already written when this is read; a "no"
    removes the record, so no later run trusts that assembly without checking again.
    """

    check: AppCheck
    bundle: Path
    record: Path

    def verify(self) -> None:
        try:
            self.check.result(self.bundle)
        except InputError:
            self.record.unlink(missing_ok=True)
            raise

    def cancel(self) -> None:
        """The deploy failed before reading the verdict: stop the import (a no-op once read)."""
        self.check.cancel()


def start_app_check(project: Project) -> AppCheck:
    """Start importing the app; :meth:`AppCheck.result` waits for the verdict."""
    process = subprocess.Popen(
        [sys.executable, "-c", _CHECK, str(project.root.resolve()), project.config.api.app],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        cwd=project.root, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # leave no __pycache__ in their tree
    )
    return AppCheck(project, process)


def _problem(found: dict[str, str], project: Project, bundle: Path) -> str | None:
    module_name, _, attribute = project.config.api.app.partition(":")
    if "error" in found:
        return f"importing {module_name} failed: {found['error']}"
    if found.get("absent"):
        return f"{module_name} has no attribute {attribute!r}; point api.app at your FastAPI() instance"
    if "not_asgi" in found:
        return (f"{attribute} is of type {found['not_asgi']}, not an ASGI app (an object with `async def __call__`);"
                " Lambda serves it through Mangum, which needs ASGI: use FastAPI or Starlette")
    if "missing" in found:
        top = found["missing"].split(".")[0]
        if _provides(project.root, top):
            return f"importing {module_name} failed: {found['detail']}{found.get('where', '')}"
        if _provides(bundle, top):
            return None  # the Lambda bundle has it; this machine just has not installed it
        return (f"importing {module_name} failed: no module named {found['missing']!r}, and"
                f" {project.config.runtime.requirements} does not provide it: add the package that does")
    return None


def _provides(folder: Path, top_level: str) -> bool:
    return (folder / top_level).is_dir() or any(folder.glob(f"{top_level}.*py*")) or any(folder.glob(f"{top_level}.*.so"))
