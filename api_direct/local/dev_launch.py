"""Where ``apid dev``'s server runs: in the interpreter that runs the creator's app.

The app's packages belong to the project (its ``.venv``, or ``[runtime] interpreter``;
:func:`~api_direct.interpreter.project_interpreter`), and apid may live in an
environment of its own (pipx, ``uv tool``) with another FastAPI and pydantic. When
the project's interpreter is apid's own, the server runs in this process, as always.
Otherwise it runs in a child process of the project's interpreter, and the metering
(:class:`~api_direct.local.dev_server.MeteredDevApp`) runs there too, beside the app.

How apid's code gets there without installing api-direct into the creator's
environment: the child's ``PYTHONPATH`` is a temporary folder holding only the
modules :mod:`~api_direct.local.dev_server` imports, found by reading their imports
(:func:`kit_modules`), under a blank ``api_direct/__init__.py``, as the Lambda
runtime bundle ships ``api_direct.runtime``. Those modules need only the standard
library, uvicorn, starlette and pydantic 2, which an environment running a FastAPI
app has (``fastapi[standard]`` brings uvicorn); the child uses the creator's versions
of them, and whatever is missing is said in one line before anything starts. Putting
apid's whole ``site-packages`` on the path instead would shadow the creator's FastAPI
and pydantic with apid's, the very thing this avoids.

The child first imports the app once (:func:`~api_direct.local.dev_server.describe`)
so a broken app is the same one-line error as in process, and the printed curl is
the app's first call; then it serves. Signals sent to ``apid dev`` reach the server.
"""

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import api_direct
from api_direct.errors import InputError
from api_direct.interpreter import is_own_interpreter, project_interpreter
from api_direct.local.dev_server import DevTarget, described_call, import_app, prepare_target, sample_call, serve
from api_direct.local.sample_calls import SampleCall

#: The module the child runs; the kit is what it imports.
SERVER_MODULE = "api_direct.local.dev_server"
PACKAGE = Path(api_direct.__file__).resolve().parent

#: Run by the project's interpreter before anything of apid's: the standard library only, so that
#: what its environment lacks is reported in one line rather than as a traceback.
_DESCRIBE = """
import json, os, sys
def report(**fields):
    with open(sys.argv[1], "w") as out:
        json.dump(fields, out)
    sys.exit(0)
if sys.version_info < (3, 11):
    report(problem="is Python %d.%d; apid dev needs 3.11 or newer" % sys.version_info[:2])
for module in ("uvicorn", "pydantic"):
    try:
        __import__(module)
    except ImportError:
        extra = ", or fastapi[standard], which brings it" if module == "uvicorn" else ""
        report(problem=f"has no {module}: install it there (`{sys.executable} -m pip install {module}`{extra})")
import pydantic
if not pydantic.VERSION.startswith("2."):
    report(problem=f"has pydantic {pydantic.VERSION}; apid dev needs pydantic 2 there")
from api_direct.local.dev_server import describe
report(**describe(os.environ))
"""

_SERVE = (
    "import os, sys\n"
    "from api_direct.local.dev_server import DevTarget, serve\n"
    "serve(DevTarget.from_environment(os.environ), host=sys.argv[1], port=int(sys.argv[2]),"
    " reload=sys.argv[3] == '1')\n"
)


@dataclass(frozen=True)
class DevLaunch:
    """A checked project, ready to serve: the target, the key to show once and the app's first call.

    ``interpreter`` is the project's own when the server runs in a child process,
    ``None`` when it runs here; ``kit`` the folder of apid's modules the child imports.
    """

    target: DevTarget
    key: str
    call: SampleCall
    interpreter: Path | None = None
    kit: Path | None = None


def prepare_launch(project_dir: Path | str, plan_name: str | None, key: str | None) -> DevLaunch:
    """:func:`~api_direct.local.dev_server.prepare`, with the app imported by the interpreter that runs it."""
    target, key = prepare_target(project_dir, plan_name, key)
    interpreter = project_interpreter(target.project)
    if is_own_interpreter(interpreter):
        return DevLaunch(target, key, sample_call(import_app(target.project)))
    kit = Path(tempfile.mkdtemp(prefix="apid-dev-"))
    try:
        write_kit(kit)
        call = _describe(interpreter, kit, target)
    except BaseException:
        shutil.rmtree(kit, ignore_errors=True)
        raise
    return DevLaunch(target, key, call, interpreter, kit)


def run_launch(launch: DevLaunch, *, host: str, port: int, reload: bool) -> int:
    """Serve until Ctrl-C: here, or in the project's interpreter; the server's exit status."""
    if launch.interpreter is None or launch.kit is None:
        serve(launch.target, host=host, port=port, reload=reload)
        return 0
    command = [str(launch.interpreter), "-c", _SERVE, host, str(port), "1" if reload else "0"]
    try:
        process = subprocess.Popen(command, env=_child_environment(launch.kit, launch.target), stdin=subprocess.DEVNULL)

        def forward(signum: int, _frame: FrameType | None) -> None:
            process.send_signal(signum)

        handled = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
        previous = {signum: signal.signal(signum, forward) for signum in handled}
        try:
            return process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        shutil.rmtree(launch.kit, ignore_errors=True)


def _describe(interpreter: Path, kit: Path, target: DevTarget) -> SampleCall:
    result = kit / "describe.json"
    process = subprocess.run(
        [str(interpreter), "-c", _DESCRIBE, str(result)],
        env=_child_environment(kit, target),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    where = f"apid dev runs the app with the project's interpreter {interpreter}, which"
    if not result.is_file():
        last = (process.stderr.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
        raise InputError(f"{where} failed to start the server: {last}")
    sys.stderr.write(process.stderr)  # what the app's import said (warnings), as in process
    found = json.loads(result.read_text())
    if "problem" in found:
        raise InputError(f"{where} {found['problem']}")
    if "error" in found:
        raise InputError(found["error"])
    return described_call(found["call"])


def _child_environment(kit: Path, target: DevTarget) -> dict[str, str]:
    """apid's environment, the target, the kit first on the path; ``PYTHONSAFEPATH``: never apid's source from the
    current folder instead (``-c`` puts it first), as when apid is run from a checkout of it."""
    path = os.pathsep.join(filter(None, [str(kit), os.environ.get("PYTHONPATH")]))
    return {**os.environ, **target.environment(), "PYTHONPATH": path, "PYTHONSAFEPATH": "1"}


def kit_modules(root: str = SERVER_MODULE) -> dict[str, Path]:
    """``root`` and every ``api_direct`` module it imports, directly or not, with their packages: name -> file."""
    found: dict[str, Path] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in found or path is None:
            continue
        found[name] = path
        pending += [name.rpartition(".")[0]] if "." in name else []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                pending += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return found


def write_kit(folder: Path) -> None:
    """Copy :func:`kit_modules` into ``folder``, the root package's ``__init__`` blank
    (it sets up jsii, unneeded here)."""
    for name, path in kit_modules().items():
        target = folder / path.relative_to(PACKAGE.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "api_direct":
            target.write_text('"""apid dev\'s modules, run in the project\'s interpreter."""\n')
        else:
            shutil.copyfile(path, target)


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "api_direct":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None
