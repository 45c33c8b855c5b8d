"""What running the app's lifespan once per container adds to a cold start.

    .venv/bin/python -m bench.lifespan

The peer is the handler API-Direct generated before it ran lifespans (Mangum
with ``lifespan="off"``), in a bundle otherwise identical to the one
``FastApiFunction`` builds now; ours is that bundle's generated handler
(:class:`~api_direct.runtime.asgi_lambda.LambdaAsgiHandler`), which starts the
lifespan at import. Both are timed from the start of the import to the first
response, in fresh interpreters (:func:`bench.cold_import.cold_start`), for two
apps: the example (Starlette's default lifespan: only the protocol's cost) and
the ``apid init`` scaffold with a lifespan that yields state (what an app that
uses one pays on top, its own startup work aside: the lifespan here does none).
"""

import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from api_direct.bundling.fastapi_code import HANDLER_MODULE
from api_direct.local.rest_proxy import HttpRequest, RestProxy
from api_direct.scaffold import scaffold_project
from bench.cold_import import EXAMPLE, ColdStart, cold_start, x86_bundle
from bench.figures import Figure

#: The handler module generated before lifespan support, kept here as the peer.
_OLD_SHIM = (
    'from mangum import Mangum\nfrom {module} import {attribute} as _app\nhandler = Mangum(_app, lifespan="off")\n'
)
#: Added to the scaffold's main.py: a lifespan whose state a route reads (the Lambda-off peer cannot serve it).
_LIFESPAN = """
from contextlib import asynccontextmanager
from fastapi import Request


@asynccontextmanager
async def lifespan(_app):
    yield {"greeting": "Hello"}


app.router.lifespan_context = lifespan


@app.get("/state")
def state(request: Request) -> dict[str, str]:
    return {"greeting": getattr(request.state, "greeting", "no lifespan ran")}
"""
RUNS = 11
TARGET_MS = 50.0


def _old_handler_bundle(bundle: Path, app: str, work: Path) -> Path:
    """A copy of ``bundle`` (hard links) whose handler module is the old shim."""
    copy = work / f"old-{bundle.name[:12]}"
    shutil.copytree(bundle, copy, copy_function=_link)
    module, _, attribute = app.partition(":")
    handler = copy / f"{HANDLER_MODULE}.py"
    handler.unlink()
    handler.write_text(_OLD_SHIM.format(module=module, attribute=attribute))
    for cached in copy.glob(f"__pycache__/{HANDLER_MODULE}.*.pyc"):
        cached.unlink()
    return copy


def _link(source: str, destination: str) -> None:
    Path(destination).hardlink_to(source)


def _interleaved(first: Callable[[], ColdStart], second: Callable[[], ColdStart]) -> tuple[ColdStart, ColdStart]:
    """Medians of both, run turn about so drift on a shared machine hits them alike."""
    samples: tuple[list[ColdStart], list[ColdStart]] = ([], [])
    for _ in range(RUNS):
        samples[0].append(first())
        samples[1].append(second())
    return tuple(  # type: ignore[return-value]
        ColdStart(
            statistics.median(s.import_seconds for s in runs), statistics.median(s.first_response_seconds for s in runs)
        )
        for runs in samples
    )


def _request(path: str) -> dict[str, object]:
    return RestProxy(stage="v1", rest_api_id="bench").event(HttpRequest("GET", path, (("accept", "*/*"),)))


def measure() -> list[Figure]:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    figures = []
    with tempfile.TemporaryDirectory(prefix="apid-bench-lifespan-") as scratch:
        work = Path(scratch)
        scaffold = scaffold_project(work / "scaffold", name="lifespan-bench").root
        with (scaffold / "main.py").open("a", encoding="utf-8") as main:
            main.write(_LIFESPAN)
        for title, project, app, path in (
            ("the example (no lifespan of its own)", EXAMPLE, "weather.main:app", "/cities"),
            ("the `apid init` app with a lifespan", scaffold, "main:app", "/state"),
        ):
            bundle = x86_bundle(python, project, app)
            request = _request(path)
            old_bundle = _old_handler_bundle(bundle, app, work)
            ours, old = _interleaved(
                partial(cold_start, bundle, HANDLER_MODULE, "handler", runs=1, request=request),
                partial(cold_start, old_bundle, HANDLER_MODULE, "handler", runs=1, request=request),
            )
            added = (ours.first_response_seconds - old.first_response_seconds) * 1000
            figures.append(
                Figure(
                    f"cold start to the first response with the lifespan run, {title}",
                    "ms",
                    ours.first_response_seconds * 1000,
                    old.first_response_seconds * 1000,
                    "Mangum lifespan=off",
                    f"adds <= {TARGET_MS:.0f} ms",
                    added <= TARGET_MS,
                    f"fresh python{python} processes importing the x86_64 bundle, median of {RUNS}, "
                    f"run turn about: adds {added:.1f} ms "
                    f"(import alone: {ours.import_seconds * 1000:.0f} vs {old.import_seconds * 1000:.0f} ms)",
                )
            )
    return figures


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure()))
