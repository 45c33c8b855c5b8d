"""Fetch the Lambda-platform wheels the suite bundles with, so tests never reach a network.

``make install`` runs this once; ``make test`` then points pip at the folder with
``PIP_NO_INDEX=1 PIP_FIND_LINKS=…``, which the bundler's pip inherits. The
requirement lists come from the code that bundles them, so they cannot drift.
"""

import subprocess
import sys
from pathlib import Path

from api_direct.constructs.bundling import BundleSpec, read_requirements
from api_direct.constructs.control_plane_api import CONTROL_PLANE_REQUIREMENTS
from api_direct.constructs.function_code import ADAPTER_REQUIREMENT
from api_direct.constructs.runtime_function import RUNTIME_REQUIREMENTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "weather_api"

#: (python, architecture) pairs the suite bundles for.
PLATFORMS = (("3.12", "arm64"), ("3.12", "x86_64"))


def requirements() -> tuple[str, ...]:
    return tuple(dict.fromkeys((
        *read_requirements(EXAMPLE / "requirements.txt"), ADAPTER_REQUIREMENT, *RUNTIME_REQUIREMENTS,
        *CONTROL_PLANE_REQUIREMENTS,
    )))


def download(destination: Path) -> None:
    for python, architecture in PLATFORMS:
        spec = BundleSpec(requirements=requirements(), sources=(), python_version=python, architecture=architecture)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(destination),
                   "--only-binary=:all:", "--implementation", "cp", "--python-version", python]
        for platform in spec.platforms():
            command += ["--platform", platform]
        subprocess.run([*command, *spec.requirements], check=True)


if __name__ == "__main__":
    download(Path(sys.argv[1]))
