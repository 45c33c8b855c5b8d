"""Import the creator's app before it ships, so a broken app fails `apid synth`, not every call in Lambda.

apid.toml can name a module that imports nothing callable, raises when imported,
or holds a WSGI app Mangum cannot serve; CloudFormation would deploy any of them
happily and the API would answer 502 to every consumer. The import runs in a
separate interpreter (the creator's modules never load into ours), started before
synthesis and read after it, so the second it takes overlaps with bundling.

The interpreter is the project's (:func:`~api_direct.interpreter.project_interpreter`:
``[runtime] interpreter``, else its ``.venv``, else this one), as for ``apid dev``, with
the project root first on ``sys.path``, as for the app's own tests, and with the variables Lambda sets
(:mod:`.lambda_environment`), so an app that reads ``AWS_REGION`` at import is
not refused. A module the local environment lacks is not the app's fault if the
Lambda bundle provides it (its requirements are installed for Lambda's platform,
not here): only a module neither provides is an error.

The same import lists the app's WebSocket routes: API Gateway REST APIs cannot
serve WebSocket, so each is a warning before deploying. It lists its HTTP routes too:
a ``[[routes]]`` path the app does not declare (a typo weighs nothing) is an error. ``[runtime] check_import
= false`` turns the check off (for an app whose import cannot run outside Lambda);
the commands then say so once instead.
"""

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_direct.deploy.lambda_environment import lambda_environment
from api_direct.errors import InputError
from api_direct.interpreter import project_interpreter
from api_direct.project import Project

#: Long enough for an app that loads a model at import; a hang is reported, not waited on forever.
TIMEOUT_SECONDS = 120
#: What synth, plan and deploy say once when ``runtime.check_import`` is off.
CHECK_OFF_WARNING = (
    "runtime.check_import is off: the app is not imported before deploying; an app that cannot import answers 502"
    " to every call, and WebSocket routes are not detected either"
)

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

def routes_of(app):
    try:
        from starlette.routing import WebSocketRoute  # FastAPI's APIWebSocketRoute is one too
    except ImportError:
        return [], []
    try:  # a FastAPI that keeps an included router as one entry of `routes` (0.16x) lists its routes so
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older one copies them into `routes`, prefixed
        iter_route_contexts = None
    for _ in range(10):  # through middleware that wraps the app (`app.app`) to the one with routes
        if hasattr(app, "routes") or not hasattr(app, "app"):
            break
        app = app.app
    found, http, seen = [], [], set()

    def walk(routes, prefix):
        routes = list(routes or ())
        if iter_route_contexts is not None:
            entries = [(entry.original_route, entry.path) for entry in iter_route_contexts(routes)]
        else:
            entries = [(route, getattr(route, "path", None)) for route in routes]
        for route, path in entries:
            if isinstance(route, WebSocketRoute):
                found.append(prefix + (path or ""))
            elif getattr(route, "methods", None) and path:
                http.append(prefix + path)
            elif id(route) not in seen and getattr(route, "routes", None):  # a Mount, a Host
                seen.add(id(route))
                walk(route.routes, prefix + (path or ""))

    walk(getattr(app, "routes", None), "")
    return list(dict.fromkeys(found)), list(dict.fromkeys(http))

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
websocket, http = routes_of(app)
report(websocket_routes=websocket, http_routes=http)
"""


@dataclass
class AppCheck:
    """An import of the project's app under way in another interpreter."""

    project: Project
    process: subprocess.Popen[str]
    _found: dict[str, Any] | None = None
    _routes: tuple[str, ...] | None = field(default=None, repr=False)

    def result(self, bundle: Path) -> tuple[str, ...]:
        """The app's WebSocket routes; :class:`InputError` if it cannot serve. ``bundle`` is the Lambda bundle's folder.

        An app whose import needs a module only the bundle has passes unimported: it has no routes to report.
        """
        if self._routes is None:
            found = self._wait()
            problem = _problem(found, self.project, bundle)
            if problem:
                raise InputError(f"api.app {self.project.config.api.app}: {problem}")
            if "http_routes" in found:
                _require_routes(self.project, found["http_routes"])
            self._routes = tuple(found.get("websocket_routes", ()))
        return self._routes

    def cancel(self) -> None:
        """Stop the import if it is still running (synthesis failed before its verdict was read)."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.communicate()

    def _wait(self) -> dict[str, Any]:
        if self._found is None:
            reference = self.project.config.api.app
            try:
                stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.cancel()
                raise InputError(
                    f"api.app {reference}: importing it took over {TIMEOUT_SECONDS} s; does it block at import?"
                ) from None
            try:
                self._found = json.loads(stdout)
            except ValueError:
                last = (stderr.strip().splitlines() or [f"exit status {self.process.returncode}"])[-1]
                raise InputError(f"api.app {reference}: importing it crashed the interpreter ({last})") from None
        return self._found


def start_app_check(project: Project, *, region: str | None = None) -> AppCheck:
    """Start importing the app; :meth:`AppCheck.result` waits for the verdict.

    ``region``: where it deploys, if known.
    """
    root = project.root.resolve()
    process = subprocess.Popen(
        [str(project_interpreter(project)), "-c", _CHECK, str(root), project.config.api.app],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=project.root,
        env={
            **os.environ,
            **lambda_environment(project, region=region, task_root=str(root)),
            "PYTHONDONTWRITEBYTECODE": "1",
        },  # leave no __pycache__ in their tree
    )
    return AppCheck(project, process)


def app_warnings(project: Project, websocket_routes: tuple[str, ...]) -> tuple[str, ...]:
    """What the creator should hear about the app before it ships: the check being off, or each WebSocket route."""
    if not project.runtime.check_import:
        return (CHECK_OFF_WARNING,)
    return tuple(
        f"WebSocket route {path}: API Gateway REST APIs cannot serve WebSocket; it will not be reachable once deployed"
        for path in websocket_routes
    )


def _problem(found: dict[str, Any], project: Project, bundle: Path) -> str | None:
    module_name, _, attribute = project.config.api.app.partition(":")
    if "error" in found:
        return f"importing {module_name} failed: {found['error']}"
    if found.get("absent"):
        return f"{module_name} has no attribute {attribute!r}; point api.app at your FastAPI() instance"
    if "not_asgi" in found:
        return (
            f"{attribute} is of type {found['not_asgi']}, not an ASGI app (an object with `async def __call__`);"
            " Lambda serves it through Mangum, which needs ASGI: use FastAPI or Starlette"
        )
    if "missing" in found:
        top = found["missing"].split(".")[0]
        if _provides(project.root, top):
            return f"importing {module_name} failed: {found['detail']}{found.get('where', '')}"
        if _provides(bundle, top):
            return None  # the Lambda bundle has it; this machine just has not installed it
        return (
            f"importing {module_name} failed: no module named {found['missing']!r}, and"
            f" {project.runtime.requirements} does not provide it: add the package that does"
        )
    return None


def _require_routes(project: Project, app_routes: list[str]) -> None:
    """Each ``[[routes]]`` path is a route the app declares, as it declares it (``/files/{name:path}``)."""
    for route in project.config.routes:
        if route.path not in app_routes:
            raise InputError(
                f"routes: {route.path} is not a route of {project.config.api.app}; use a path as the app declares it"
                " (apid.toml's [[routes]])"
            )


def _provides(folder: Path, top_level: str) -> bool:
    return (
        (folder / top_level).is_dir() or any(folder.glob(f"{top_level}.*py*")) or any(folder.glob(f"{top_level}.*.so"))
    )
