"""Fetch the Lambda-platform wheels the suite bundles with, and a creator's environment, so tests never reach a network.

``make install`` runs this once; ``make test`` then points pip at the folder with
``PIP_NO_INDEX=1 PIP_FIND_LINKS=…``, which the bundler's pip inherits. The
requirement lists come from the code that bundles them, so they cannot drift.
"""

import subprocess
import sys
from pathlib import Path

from api_direct.bundling.build import Architecture, BundleSpec, read_requirements
from api_direct.constructs.control_plane_api import CONTROL_PLANE_REQUIREMENTS
from api_direct.bundling.fastapi_code import ADAPTER_REQUIREMENT
from api_direct.bundling.runtime_code import MCP_REQUIREMENTS, RUNTIME_REQUIREMENTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"
#: The sandbox's test project with numpy (tests/e2e/test_sandbox_projects.py), bundled for the same platforms.
RICH_APP = Path(__file__).resolve().parent / "e2e" / "projects" / "rich_app"

#: (python, architecture) pairs the suite bundles for.
PLATFORMS = (("3.12", "arm64"), ("3.12", "x86_64"))


def requirements() -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            (
                *read_requirements(EXAMPLE / "requirements.txt"),
                *read_requirements(RICH_APP / "requirements.txt"),
                ADAPTER_REQUIREMENT,
                *RUNTIME_REQUIREMENTS,
                *MCP_REQUIREMENTS,
                *CONTROL_PLANE_REQUIREMENTS,
            )
        )
    )


def wanted() -> list[tuple[str, Architecture, tuple[str, ...]]]:
    """(python, architecture, requirements) to fetch: the suite's platforms, and the one the compatibility
    suite bundles its apps for (this machine's, so the bundles run here; tests/compat/differential.py)."""
    from tests.compat.differential import ARCHITECTURE, PYTHON_VERSION, REQUIREMENTS

    suite = [(python, architecture, requirements()) for python, architecture in PLATFORMS]
    return [*suite, (PYTHON_VERSION, ARCHITECTURE, (*REQUIREMENTS, ADAPTER_REQUIREMENT))]


#: A creator's own environment, on older FastAPI and pydantic than apid's (and the uvicorn of their day):
#: `apid dev` serves an app from it (tests/local/test_dev_launch.py). Within api-direct's declared ranges.
CREATOR_VENV_REQUIREMENTS = ("fastapi==0.115.14", "pydantic==2.9.2", "uvicorn==0.32.1")


def download_creator_venv(destination: Path) -> None:
    """:data:`CREATOR_VENV_REQUIREMENTS` and their dependencies, for this machine's Python and platform."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(destination), "--only-binary=:all:"]
    subprocess.run([*command, *CREATOR_VENV_REQUIREMENTS], check=True)


def download(destination: Path) -> None:
    for python, architecture, wheels in wanted():
        spec = BundleSpec(requirements=wheels, sources=(), python_version=python, architecture=architecture)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            str(destination),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
        ]
        for platform in spec.platforms():
            command += ["--platform", platform]
        subprocess.run([*command, *spec.requirements], check=True)


if __name__ == "__main__":
    download(Path(sys.argv[1]))
    download_creator_venv(Path(sys.argv[1]))
