"""The creator's app runs in the project's interpreter: which one, and `apid dev` and the app check using it.

The journey the issue asks for is a creator's: apid installed in an environment of its
own (as pipx or ``uv tool`` install it; here the suite's own venv stands for that one)
and a project whose ``.venv`` holds older FastAPI and pydantic than apid's, and no
api-direct at all. The venv is built offline from the wheelhouse
(:data:`tests.wheelhouse.CREATOR_VENV_REQUIREMENTS`, fetched by ``make install``).
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api_direct.deploy.app_check import start_app_check
from api_direct.errors import InputError
from api_direct.interpreter import VENV_PYTHON, is_own_interpreter, project_interpreter
from api_direct.local.dev_launch import prepare_launch
from api_direct.project import ProjectError, load_project
from api_direct.runtime.api_keys import generate_key
from api_direct.runtime.gateway_responses import MISSING_KEY
from tests.dev_process import running_apid_dev
from tests.example_project import REPO
from tests.wheelhouse import CREATOR_VENV_REQUIREMENTS

KEY = generate_key()
OLD_FASTAPI, OLD_PYDANTIC = (requirement.partition("==")[2] for requirement in CREATOR_VENV_REQUIREMENTS[:2])
WHEELHOUSE = os.environ.get("PIP_FIND_LINKS") or str(REPO / ".cache" / "wheelhouse")
START_SECONDS = 60

APP = """
import fastapi
import pydantic
from fastapi import FastAPI

app = FastAPI()


@app.get("/versions")
def versions() -> dict[str, str]:
    return {"fastapi": fastapi.__version__, "pydantic": pydantic.VERSION}
"""


def write_project(root: Path, source: str = APP, runtime: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "apid.toml").write_text(
        '[api]\nname = "old-stack"\ndescription = "d"\n\n'
        f"{runtime}"
        '[[plans]]\nname = "basic"\nrate_limit = 1\nburst = 1\n'
    )
    (root / "requirements.txt").write_text("fastapi\n")
    (root / "main.py").write_text(source)
    return root


def test_without_an_interpreter_of_its_own_the_project_runs_in_apids(tmp_path: Path) -> None:
    python = project_interpreter(load_project(write_project(tmp_path)))
    assert python == Path(sys.executable) and is_own_interpreter(python)


def test_the_projects_venv_then_the_configured_interpreter_are_chosen(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app")
    (project / VENV_PYTHON).parent.mkdir(parents=True)
    (project / VENV_PYTHON).touch()
    assert project_interpreter(load_project(project)) == project / VENV_PYTHON
    (tmp_path / "py311").touch()
    write_project(project, runtime='[runtime]\ninterpreter = "../py311"\n\n')
    assert project_interpreter(load_project(project)) == project / "../py311"
    assert not is_own_interpreter(project / "../py311")


def test_a_configured_interpreter_that_is_missing_is_one_line(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, runtime='[runtime]\ninterpreter = "envs/app/bin/python"\n\n'))
    with pytest.raises(ProjectError, match=r"^apid\.toml: runtime\.interpreter: envs/app/bin/python not found under"):
        project_interpreter(project)


@pytest.fixture(scope="module")
def creator_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose .venv has the older FastAPI, pydantic and uvicorn, installed offline, and no api-direct."""
    project = write_project(tmp_path_factory.mktemp("creator") / "old-stack")
    subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], check=True)
    python = str(project / VENV_PYTHON)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            WHEELHOUSE,
            *CREATOR_VENV_REQUIREMENTS,
        ],
        check=True,
    )
    assert subprocess.run([python, "-c", "import api_direct"], cwd=project, capture_output=True).returncode != 0
    return project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_apid_dev_serves_an_app_on_older_fastapi_and_pydantic_from_the_projects_venv(
    creator_project: Path, tmp_path: Path
) -> None:
    port, output = free_port(), tmp_path / "apid-dev.log"
    with (
        running_apid_dev(creator_project, port, KEY, output) as process,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as client,
    ):
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                allowed = client.get("/versions", headers={"x-api-key": KEY})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"apid dev did not answer (exit code {process.poll()}):\n{output.read_text()}")
                time.sleep(0.2)
        rejected = client.get("/versions")
    assert process.returncode == 0, output.read_text()  # stopped by the Ctrl-C apid passed on
    assert (allowed.status_code, allowed.json()) == (200, {"fastapi": OLD_FASTAPI, "pydantic": OLD_PYDANTIC})
    assert (rejected.status_code, rejected.text) == (MISSING_KEY.status, MISSING_KEY.body())
    log = output.read_text()
    assert f"Local API key: {KEY}" in log and f"Python: {creator_project / VENV_PYTHON} (the project's)" in log, log
    assert f"curl -H 'x-api-key: {KEY}' http://127.0.0.1:{port}/versions" in log, log
    assert re.search(r"^GET /versions  200  \d+ ms  billable 1  \(plan basic\)$", log, re.MULTILINE), log
    assert re.search(r"^GET /versions  401  \d+ ms  billable 0  \(rejected: missing key\)$", log, re.MULTILINE), log


def test_a_broken_app_in_the_projects_venv_is_the_same_one_line_error(creator_project: Path, tmp_path: Path) -> None:
    broken = write_project(tmp_path / "broken", source="raise RuntimeError('boom')\n")
    (broken / ".venv").symlink_to(creator_project / ".venv")
    with pytest.raises(
        InputError, match=r"^api\.app main:app: importing main failed: RuntimeError: boom \(main\.py, line 1\)$"
    ):
        prepare_launch(broken, None, KEY)


def test_a_venv_without_uvicorn_is_told_how_to_get_it(tmp_path: Path) -> None:
    project = write_project(tmp_path / "bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    with pytest.raises(InputError, match=r"which has no uvicorn: install it there \(`.*-m pip install uvicorn`"):
        prepare_launch(project, None, KEY)


def test_the_app_check_imports_the_app_with_the_projects_interpreter(creator_project: Path, tmp_path: Path) -> None:
    source = (
        f"import fastapi\nassert fastapi.__version__ == {OLD_FASTAPI!r}, fastapi.__version__\napp = fastapi.FastAPI()\n"
    )
    configured = write_project(
        tmp_path / "configured",
        source=source,
        runtime=f'[runtime]\ninterpreter = "{creator_project / VENV_PYTHON}"\n\n',
    )
    assert start_app_check(load_project(configured)).result(tmp_path) == ()
    apids = write_project(tmp_path / "apids", source=source)  # no interpreter of its own: apid's, with its FastAPI
    with pytest.raises(InputError, match=r"importing main failed: AssertionError: "):
        start_app_check(load_project(apids)).result(tmp_path)
