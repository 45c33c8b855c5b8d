"""Which Python runs the creator's app on this machine: the project's own, when it has one.

A creator's app has its own dependencies (its FastAPI, its pydantic), and apid has
its own; installed with pipx or ``uv tool``, apid lives in an environment the app's
packages are not in. So ``apid dev`` and the import check of ``apid synth``, ``plan``
and ``deploy`` run the app with the project's interpreter, chosen here and only here:
``[runtime] interpreter`` in ``apid.toml`` (a path, relative to the project), else the
project's ``.venv``, else the Python apid itself runs in (an app installed beside apid,
as before there was a choice).
"""

import os
import sys
from pathlib import Path

from api_direct.project import CONFIG_FILE, Project, ProjectError

#: Where ``python -m venv .venv`` (and uv) put the interpreter, by platform.
VENV_PYTHON = Path(".venv") / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def project_interpreter(project: Project) -> Path:
    """The interpreter to run ``project``'s app with; :class:`ProjectError` if the configured one is missing.

    The path is not resolved: a virtual environment's ``python`` is a link to the base
    interpreter, and only through the link does it see the environment's packages.
    """
    configured = project.runtime.interpreter
    if configured is not None:
        path = project.root / Path(configured).expanduser()
        if not path.is_file():
            raise ProjectError(
                f"{CONFIG_FILE}: runtime.interpreter: {configured} not found under {project.root};"
                " point it at the Python of the project's environment, or remove it"
            )
        return path
    venv = project.root / VENV_PYTHON
    if venv.is_file():
        return venv
    return Path(sys.executable)


def is_own_interpreter(interpreter: Path) -> bool:
    """Whether ``interpreter`` is the environment apid runs in (the app can then be imported in process)."""
    environment = interpreter.absolute().parent.parent
    return interpreter.absolute() == Path(sys.executable).absolute() or (
        (environment / "pyvenv.cfg").is_file() and environment == Path(sys.prefix).absolute()
    )
