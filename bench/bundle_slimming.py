"""Bundle size with and without slimming: numpy, pandas and FastAPI for Lambda's python3.12 on arm64.

    .venv/bin/python -m bench.bundle_slimming

The same requirements (and the Mangum adapter every app bundle carries) go
through :func:`build_bundle` twice, into a temporary cache: with ``slim=False``
and with the default ``slim=True``. Both are byte-code compiled as deployed when
this machine has a python3.12. Each is measured as Lambda and ``apid deploy`` see
it: unzipped bytes (in Lambda's MB, MiB) and files, and the zip ``apid deploy``
uploads (:func:`~api_direct.deploy.zips.zip_folder`). pip needs PyPI.

Then the slimmed install is tried: the same requirements, built for x86_64 (the
arm64 libraries cannot load here), are imported by this machine's python3.12 from
the bundle alone, and compute with numpy and pandas.
"""

import dataclasses
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from api_direct.bundling.slimming import package_sizes
from api_direct.bundling.build import Bundle, BundleSpec, build_bundle, byte_compiler
from api_direct.bundling.fastapi_code import ADAPTER_REQUIREMENT
from api_direct.deploy.zips import zip_folder
from bench.figures import Figure

REQUIREMENTS = ("numpy==2.5.5", "pandas==3.1.1", "fastapi==0.163.2", ADAPTER_REQUIREMENT)
PYTHON = "3.12"
MB = 2**20
#: Runs from the slimmed x86_64 bundle: what an app does with these packages, and numpy's helpers that must stay.
_PROBE = (
    "import numpy, numpy.testing, pandas, fastapi\n"
    "frame = pandas.DataFrame({'a': numpy.arange(10), 'b': list('abcdefghij')})\n"
    "numpy.testing.assert_equal(int(frame.groupby(frame.a % 2).a.sum().sum()), 45)\n"
    "print(numpy.__file__)\n"
)


@dataclass(frozen=True)
class Size:
    unzipped: int
    files: int
    zipped: int


def measure_bundle(bundle: Bundle) -> Size:
    files = sum(1 for path in bundle.path.rglob("*") if path.is_file())
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "bundle.zip"
        zip_folder(bundle.path, archive)
        zipped = archive.stat().st_size
    return Size(sum(package_sizes(bundle.path).values()), files, zipped)


def still_imports(cache: Path) -> str:
    """Empty if the slimmed x86_64 bundle imports and computes under python3.12; else why not."""
    python = byte_compiler(PYTHON)
    if python is None:
        return f"not checked: no python{PYTHON} on this machine"
    bundle = build_bundle(
        BundleSpec(requirements=REQUIREMENTS, sources=(), python_version=PYTHON, architecture="x86_64"), cache
    )
    result = subprocess.run(
        [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(bundle.path)!r})\n{_PROBE}"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        check=False,
    )
    if result.returncode != 0 or not result.stdout.startswith(str(bundle.path)):
        return f"FAILED: {(result.stderr.strip().splitlines() or ['numpy not from the bundle'])[-1]}"
    return ""


def measure() -> list[Figure]:
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch)
        spec = BundleSpec(requirements=REQUIREMENTS, sources=(), python_version=PYTHON, architecture="arm64")
        whole = measure_bundle(build_bundle(dataclasses.replace(spec, slim=False), cache))
        slim = measure_bundle(build_bundle(spec, cache))
        failure = still_imports(cache)
    compiled = "with" if byte_compiler(PYTHON) else "without"
    imports = failure or "the slimmed x86_64 build imports numpy, numpy.testing, pandas and FastAPI and computes"
    ok = not failure.startswith("FAILED")
    name = "bundle of numpy + pandas + FastAPI"

    def figure(what: str, unit: str, ours: float, peer: float, note: str) -> Figure:
        return Figure(
            f"{name}, {what} (slimmed vs not)",
            unit,
            ours,
            peer,
            "slim=False",
            "< 1x and still imports",
            ours < peer and ok,
            note,
        )

    return [
        figure(
            "unzipped",
            "MB",
            slim.unzipped / MB,
            whole.unzipped / MB,
            f"{', '.join(REQUIREMENTS)} for python{PYTHON} arm64, {compiled} byte-code, built by build_bundle; "
            f"ours slim (the default), peer slim=False; Lambda's MB (MiB), as in its 250 MB limit; "
            f"{slim.files:,} files vs {whole.files:,}; {imports}",
        ),
        figure(
            "zipped",
            "MB",
            slim.zipped / MB,
            whole.zipped / MB,
            "the same two bundles, zipped as apid deploy uploads them (deploy.zips.zip_folder, deflate level 6)",
        ),
    ]


if __name__ == "__main__":
    from bench.figures import table

    print(table(measure()))
