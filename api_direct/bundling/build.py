"""Build Lambda deployment folders for Python code without Docker.

Dependencies are installed by pip for the Lambda platform, not the build
machine's (``--platform manylinux…_{arch} --only-binary=:all: --python-version``),
so compiled wheels such as pydantic-core are the ones Lambda can load.

Two content-hashed caches keep a warm synth fast:

* ``deps/<hash>``: the pip install, keyed by the requirement lines, the Python
  version and the architecture. Only a change to those runs pip again.
* ``bundles/<hash>``: the deployable folder, keyed by the dependency hash and the
  bytes of every source file. It is assembled from hard links into ``deps``, so a
  code edit costs a few file copies, never a reinstall.

Both are written under a temporary name and renamed into place, so a crash or a
concurrent synth never leaves a half-built folder that looks complete.

The install is slimmed of the test suites packages ship (``BundleSpec.slim``,
:func:`~api_direct.bundling.slimming.slim_dependencies`), and every
bundle, built or cached, is checked against Lambda's 250 MB unzipped limit
(:func:`~api_direct.bundling.slimming.check_bundle_size`), so an
oversized one fails the synth, not the deploy.

Bundles carry their byte-code. Lambda's code folder is read-only, so Python can
never cache what it compiles there: without ``.pyc`` files every cold start
compiles FastAPI, pydantic and the app from source again. Byte-code is specific
to a Python version, so it is compiled by an interpreter of the runtime's version
(this one, one pyenv installed, or ``python3.12`` on the PATH: :func:`byte_compiler`), as hash-based
``.pyc`` files that name their source under ``/var/task`` (deterministic: no
timestamps). A machine without such an interpreter builds bundles without it, and
says so in the bundle's hash, so the two never share a cache entry.
"""

import fnmatch
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from api_direct.bundling.slimming import check_bundle_size, slim_dependencies
from api_direct.contracts import user_cache_dir
from api_direct.errors import InputError

Architecture = Literal["arm64", "x86_64"]

#: Bumped whenever the layout of a bundle changes, so old cache entries are not reused.
BUNDLE_FORMAT = "2"  # 2: dependencies slimmed of packages' test suites

_PLATFORM_MACHINE: dict[str, str] = {"arm64": "aarch64", "x86_64": "x86_64"}

#: glibc of the Lambda images: Amazon Linux 2 (python3.11) has 2.26, Amazon Linux
#: 2023 (python3.12 and later) 2.34, so newer runtimes also accept manylinux_2_28 wheels.
_MANYLINUX_TAGS: dict[str, tuple[str, ...]] = {
    "3.11": ("manylinux2014",),
    "3.12": ("manylinux2014", "manylinux_2_28"),
    "3.13": ("manylinux2014", "manylinux_2_28"),
}

#: Byte-code pip or a wheel may carry, for whichever interpreter made it; bundles compile their own.
_PRUNED_FROM_DEPENDENCIES = ("__pycache__", "*.pyc")
#: Where Lambda puts a function's code: the source path compiled byte-code names, for tracebacks.
LAMBDA_TASK_ROOT = "/var/task"


class BundlingError(InputError):
    """Dependencies could not be installed for the Lambda platform; one line."""


@dataclass(frozen=True)
class SourceTree:
    """A folder copied into the bundle at ``destination`` (``""`` for the root)."""

    root: Path
    destination: str = ""
    exclude: tuple[str, ...] = ()

    def files(self) -> Iterator[tuple[Path, str]]:
        """Yield ``(absolute path, path inside the bundle)`` in a stable order."""
        for directory, subdirs, filenames in os.walk(self.root):
            relative_dir = Path(directory).relative_to(self.root)
            subdirs[:] = sorted(d for d in subdirs if not self._excluded(relative_dir / d))
            for name in sorted(filenames):
                relative = relative_dir / name
                if not self._excluded(relative):
                    yield Path(directory) / name, (Path(self.destination) / relative).as_posix()

    def _excluded(self, relative: Path) -> bool:
        return any(
            fnmatch.fnmatch(relative.name, pattern) or fnmatch.fnmatch(relative.as_posix(), pattern)
            for pattern in self.exclude
        )


@dataclass(frozen=True)
class BundleSpec:
    """Everything that determines a bundle's content, and so its hash."""

    requirements: tuple[str, ...]
    sources: tuple[SourceTree, ...]
    python_version: str = "3.12"
    architecture: Architecture = "arm64"
    #: Small generated files (``path in bundle -> text``), e.g. a handler shim.
    generated: Mapping[str, str] = field(default_factory=dict)
    #: Remove the test suites installed packages ship (``slim_dependencies``); False keeps the install whole.
    slim: bool = True

    def platforms(self) -> tuple[str, ...]:
        machine = _PLATFORM_MACHINE[self.architecture]
        return tuple(f"{tag}_{machine}" for tag in _MANYLINUX_TAGS[self.python_version])

    def dependencies_hash(self) -> str:
        digest = hashlib.sha256()
        compiled = "byte-compiled" if byte_compiler(self.python_version) else "source only"
        slimmed = "slim" if self.slim else "whole"
        for part in (BUNDLE_FORMAT, self.python_version, self.architecture, compiled, slimmed, *self.platforms()):
            hash_part(digest, part.encode())
        for line in self.requirements:
            hash_part(digest, line.encode())
        return digest.hexdigest()

    def bundle_hash(self) -> str:
        digest = hashlib.sha256()
        hash_part(digest, self.dependencies_hash().encode())
        for source in self.sources:
            hash_tree(digest, source)
        for inside, text in sorted(self.generated.items()):
            hash_part(digest, inside.encode())
            hash_part(digest, text.encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A finished deployment folder and the hash that names it."""

    path: Path
    content_hash: str
    #: True when pip ran for this bundle; False when the dependency cache served it.
    installed_dependencies: bool


def read_requirements(path: Path) -> tuple[str, ...]:
    """Requirement lines without comments and blanks, in file order."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line)


#: Told of each bundle :func:`build_bundle` returns, while :func:`bundles_told_to` has set it.
_listener: ContextVar[Callable[[Bundle], None] | None] = ContextVar("apid_bundle_listener", default=None)


@contextmanager
def bundles_told_to(listener: Callable[[Bundle], None]) -> Iterator[None]:
    """Tell ``listener`` of every bundle built (or served by the cache) inside the block: the constructs build
    theirs while jsii synthesizes, and a deploy starts zipping each then instead of after the synthesis."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def build_bundle(spec: BundleSpec, cache_dir: Path | None = None) -> Bundle:
    """Return the bundle for ``spec``, building only what the caches lack.

    :class:`~api_direct.bundling.slimming.BundleTooLarge` if the bundle
    is over Lambda's unzipped limit, whether just built or served by the cache
    (a walk of the folder: some 20 ms for numpy and pandas' 3,500 files).
    """
    cache_dir = cache_dir or user_cache_dir()
    bundle_hash = spec.bundle_hash()
    target = cache_dir / "bundles" / bundle_hash
    installed = False
    if not target.is_dir():
        installed = _assemble(spec, cache_dir, target)
    check_bundle_size(target)
    bundle = Bundle(path=target, content_hash=bundle_hash, installed_dependencies=installed)
    listener = _listener.get()
    if listener is not None:
        listener(bundle)
    return bundle


def _assemble(spec: BundleSpec, cache_dir: Path, target: Path) -> bool:
    """Build the bundle folder ``target``; True if pip ran for it."""
    dependencies, installed = _dependencies(spec, cache_dir)
    with Staging(target) as staging:
        link_tree(dependencies, staging)
        ours: list[str] = list(spec.generated)
        for source in spec.sources:
            for path, inside in source.files():
                destination = staging / inside
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
                ours.append(inside)
        for inside, text in spec.generated.items():
            destination = staging / inside
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
        byte_compile(spec.python_version, staging, [inside for inside in ours if inside.endswith(".py")])
    return installed


def _dependencies(spec: BundleSpec, cache_dir: Path) -> tuple[Path, bool]:
    target = cache_dir / "deps" / spec.dependencies_hash()
    if target.is_dir():
        return target, False
    with Staging(target) as staging:
        if spec.requirements:
            _install_requirements(spec, staging)
        _prune(staging, _PRUNED_FROM_DEPENDENCIES)
        # Console scripts written for the build machine's interpreter: dead weight in Lambda.
        shutil.rmtree(staging / "bin", ignore_errors=True)
        if spec.slim:
            slim_dependencies(staging)
        byte_compile(spec.python_version, staging)
    return target, True


@functools.cache
def byte_compiler(python_version: str) -> str | None:
    """An interpreter of ``python_version`` ("3.12") to compile byte-code with, or None if this machine has none.

    This one if it is that version, else one that pyenv installed
    (``$PYENV_ROOT/versions/3.12.*``, which pyenv's shims only put on the PATH
    when that version is selected), else ``python3.12`` on the PATH, if it
    answers that it is that version.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = sorted(pyenv_root.glob(f"versions/{python_version}.*/bin/python{python_version}"), reverse=True)
    if installed:  # pyenv names each folder for the version it holds: no need to start it to ask
        return str(installed[0])
    for candidate in filter(None, [shutil.which(f"python{python_version}")]):
        try:
            answer = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0 and answer.stdout.strip() == python_version:
            return candidate
    return None


def byte_compile(python_version: str, root: Path, files: Sequence[str] | None = None) -> None:
    """Write hash-based ``.pyc`` files with the runtime's interpreter: for ``files`` (paths under
    ``root``), or all of it.

    A file that does not compile (a package's Python 2 example, say) is left as
    source, as Python itself would; only the interpreter being absent skips all.
    """
    compiler = byte_compiler(python_version)
    if compiler is None or files == []:
        return
    command = [compiler, "-m", "compileall", "-qq", "--invalidation-mode", "unchecked-hash", "-p", LAMBDA_TASK_ROOT]
    if files is None:  # a whole folder, compiled in parallel, each path named as under the task root
        command += ["-j", "0", "-s", str(root), str(root)]
    else:  # relative names, read from standard input
        command += ["-i", "-"]
    subprocess.run(command, input="\n".join(files or ()) + "\n", cwd=root, capture_output=True, text=True, check=False)


def _install_requirements(spec: BundleSpec, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
        run_pip(pip_install_command(spec, target, requirements))


def pip_install_command(spec: BundleSpec, target: Path, requirements: Path) -> list[str]:
    """The pip call that installs ``spec``'s requirements for Lambda into ``target``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        spec.python_version,
        "--only-binary=:all:",
    ]
    for platform in spec.platforms():
        command += ["--platform", platform]
    return [*command, "--requirement", str(requirements)]


def run_pip(command: Sequence[str]) -> None:
    """Run pip; turn a failure into one line saying which requirement did not resolve."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(f"pip could not install the requirements for Lambda: {_pip_reason(result.stderr)}")


def _pip_reason(stderr: str) -> str:
    errors = [line.removeprefix("ERROR: ").strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    if not errors:
        return stderr.strip().splitlines()[-1] if stderr.strip() else "unknown error"
    reason = errors[0]
    if "Could not find a version" in reason or "No matching distribution" in reason:
        reason += (
            " (only binary wheels for the Lambda platform can be used: check the name,"
            " or pick a version that publishes manylinux wheels)"
        )
    return reason


def hash_part(digest: "hashlib._Hash", data: bytes) -> None:
    """Length-prefix each part so ("ab", "c") and ("a", "bc") hash differently."""
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


def hash_tree(digest: "hashlib._Hash", tree: SourceTree) -> None:
    """Every file the tree puts in a bundle: where it goes and its bytes."""
    for path, inside in tree.files():
        hash_part(digest, inside.encode())
        hash_part(digest, path.read_bytes())


class Staging:
    """A sibling temporary folder renamed onto ``target`` only if the block succeeds."""

    def __init__(self, target: Path) -> None:
        self._target = target

    def __enter__(self) -> Path:
        self._target.parent.mkdir(parents=True, exist_ok=True)
        self._path = Path(tempfile.mkdtemp(prefix=f".{self._target.name[:12]}-", dir=self._target.parent))
        return self._path

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            return
        try:
            self._path.rename(self._target)
        except OSError:
            # Another synth finished the same content first: theirs is identical.
            shutil.rmtree(self._path, ignore_errors=True)


def link_tree(source: Path, destination: Path) -> None:
    """Mirror ``source`` into ``destination`` with hard links (copies across devices).

    Plain ``os.path`` strings, not ``Path`` objects: a bundle is a thousand files,
    and this runs on every code edit.
    """
    root = str(source)
    for directory, _, filenames in os.walk(root):
        target_dir = os.path.join(destination, os.path.relpath(directory, root))
        os.makedirs(target_dir, exist_ok=True)
        for name in filenames:
            original, target = os.path.join(directory, name), os.path.join(target_dir, name)
            try:
                os.link(original, target)
            except OSError:
                shutil.copy2(original, target)


def _prune(root: Path, patterns: tuple[str, ...]) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
