"""Keep a bundle within Lambda's size limit: drop what Lambda never runs, and check what is left.

Lambda unzips a function's code, layers included, into at most 250 MB
(:data:`LAMBDA_UNZIPPED_LIMIT`). A zip over it is refused at deploy time, after
the upload; :func:`check_bundle_size` says so at synth, naming the packages that
take the room.

:func:`slim_dependencies` removes only the test suites packages ship inside
themselves (``numpy/_core/tests``, ``pandas/tests``): code that pytest collects
and an application never loads. One that a module of the install does import is
kept (PyTables' ``tables/__init__.py`` imports ``tables.tests``). It runs once
per dependency install, so its result is cached with the install. What it
leaves alone, and why:

* byte-code: the bundler already drops every ``.pyc`` a wheel carries and compiles
  its own for the runtime's Python, so no other version's byte-code remains;
* ``.pyi`` stubs: the import system never reads them, but some packages read
  them as data at run time (mypy's and jedi's bundled typeshed), and they are a
  few percent of a bundle at most;
* ``*.dist-info``: ``importlib.metadata`` reads versions and entry points there;
* shared libraries, data files and licences: needed, or owed.
"""

import ast
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from api_direct.errors import InputError

#: Names of the folders :func:`slim_dependencies` removes when they sit inside a package.
#: Only exact folder names: a module named so (``werkzeug/test.py``, ``jinja2/tests.py``)
#: is code, and ``numpy/testing``, ``pandas/_testing`` are helpers packages import.
TEST_SUITE_FOLDERS = ("tests", "test")

#: Test folders (dotted names) to keep although no ``import`` statement names them,
#: for a package that loads its tests by name at run time. None is known: of 34
#: packages checked (numpy, pandas, scipy, scikit-learn, matplotlib, statsmodels,
#: sympy, networkx, nltk, numba, pyarrow, polars, PyTables, h5py, Twisted, tornado,
#: SQLAlchemy, gevent, Flask, boto3, pydantic and others), every module outside a
#: test folder imports the same with their test folders slimmed as without.
KEPT_TEST_FOLDERS: frozenset[str] = frozenset()

#: Lambda's limit on a function's unzipped code, layers included ("250 MB" in the
#: quotas, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
#: It is 250 MiB: Lambda refuses code with "Unzipped size must be smaller than
#: 262144000 bytes". Sizes in this module's messages are in the same MB.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
_MB = 2**20

#: A line starting an import statement that may name a test folder, up to a closing
#: bracket (``from . import (\n tests,\n)``): the cheap filter before parsing. It is
#: searched for in the text after a newline (one is prepended), which is faster than ``re.M``.
_IMPORT_NAMING_A_TEST_FOLDER = re.compile(rb"\n[ \t]*(?:from|import)[ \t](?:[^\n(]*|[^\n(]*\([^)]*)\btests?\b")


class BundleTooLarge(InputError):
    """A bundle is over Lambda's unzipped size limit; one line naming the largest packages."""


@dataclass(frozen=True)
class SlimReport:
    """What :func:`slim_dependencies` removed, and the test folders it kept."""

    #: Folders removed, as paths relative to the root, sorted.
    removed: tuple[str, ...]
    #: Folders named like a test suite but kept: imported by their package, or in :data:`KEPT_TEST_FOLDERS`.
    kept: tuple[str, ...]
    files: int
    bytes: int


def slim_dependencies(root: Path) -> SlimReport:
    """Remove the test suites installed packages ship, from the install folder ``root``.

    A folder is a test suite if it is named in :data:`TEST_SUITE_FOLDERS` and its
    parent is a package (it has ``__init__.py``, or is a top-level folder, which
    may be a namespace package). A top-level ``tests`` is not inside a package and
    stays. A test folder stays too if any other module imports it (read from its
    ``import`` statements; ``conftest.py`` is pytest's, not the package's), or if
    :data:`KEPT_TEST_FOLDERS` names it.
    """
    candidates = dict(_test_folders(root))
    imported = _imported_names(root, set(candidates.values()))
    removed, kept, files, size = [], [], 0, 0
    for relative, dotted in sorted(candidates.items()):
        if dotted in KEPT_TEST_FOLDERS or any(name == dotted or name.startswith(dotted + ".") for name in imported):
            kept.append(relative)
            continue
        folder_files, folder_bytes = _count(root / relative)
        files, size = files + folder_files, size + folder_bytes
        shutil.rmtree(root / relative)
        removed.append(relative)
    return SlimReport(removed=tuple(removed), kept=tuple(kept), files=files, bytes=size)


def check_bundle_size(root: Path, limit: int = LAMBDA_UNZIPPED_LIMIT) -> int:
    """The unzipped size of the bundle folder ``root`` in bytes; :class:`BundleTooLarge` unless under ``limit``.

    Every file counts at its own size, hard-linked or not: Lambda unzips a copy
    of each. Layers a creator adds to the function count against the same limit
    and are not seen here.
    """
    sizes = package_sizes(root)
    total = sum(sizes.values())
    if total >= limit:  # Lambda: "must be smaller than"
        largest = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:3]
        raise BundleTooLarge(
            f"bundle for Lambda is {megabytes(total)} unzipped, over Lambda's {megabytes(limit)} limit; "
            f"largest: {', '.join(f'{name} {megabytes(size)}' for name, size in largest)}; "
            "drop unused requirements, add exclude patterns, or use a slimmer package"
        )
    return total


def package_sizes(root: Path) -> dict[str, int]:
    """Bytes per top-level package of the bundle folder ``root``.

    A distribution's pieces count as one: ``numpy.libs`` (its vendored shared
    libraries) and ``numpy-2.3.0.dist-info`` with ``numpy``, a top-level module's
    byte-code in ``__pycache__`` with the module.
    """
    sizes: dict[str, int] = {}
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name == "__pycache__" and entry.is_dir(follow_symlinks=False):
                for name, size in _file_sizes(entry.path):
                    package = name.split(".", 1)[0]
                    sizes[package] = sizes.get(package, 0) + size
                continue
            if entry.is_dir(follow_symlinks=False):
                size = sum(size for _, size in _file_sizes(entry.path))
            else:
                size = entry.stat().st_size
            package = entry.name.split("-", 1)[0] if entry.name.endswith(".dist-info") else entry.name.split(".", 1)[0]
            sizes[package] = sizes.get(package, 0) + size
    return sizes


def folder_size(root: Path) -> int:
    """Bytes of every file under ``root``, each at its own size, as Lambda unzips them."""
    return sum(size for _, size in _file_sizes(str(root)))


def megabytes(size: int) -> str:
    """``size`` bytes in Lambda's MB (MiB): whole ones from 10 MB up, tenths below."""
    return f"{size / _MB:.0f} MB" if size >= 10 * _MB else f"{size / _MB:.1f} MB"


def _test_folders(root: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, dotted name)`` of each test folder inside a package, not descending into them."""
    for directory, subdirs, filenames in os.walk(root):
        parts = PurePosixPath(Path(directory).relative_to(root).as_posix()).parts
        in_package = "__init__.py" in filenames or (len(parts) == 1 and parts[0].isidentifier())
        for name in list(subdirs):
            if name in TEST_SUITE_FOLDERS and in_package:
                subdirs.remove(name)
                yield "/".join((*parts, name)), ".".join((*parts, name))


def _imported_names(root: Path, test_folders: set[str]) -> set[str]:
    """Every module name the Python files under ``root`` outside ``test_folders`` (dotted) name in an import."""
    if not test_folders:
        return set()
    names: set[str] = set()
    for directory, subdirs, filenames in os.walk(root):
        package = PurePosixPath(Path(directory).relative_to(root).as_posix()).parts
        subdirs[:] = [d for d in subdirs if ".".join((*package, d)) not in test_folders]
        for filename in filenames:
            if not filename.endswith(".py") or filename == "conftest.py":
                continue
            source = Path(directory, filename).read_bytes()
            if b"test" in source and _IMPORT_NAMING_A_TEST_FOLDER.search(b"\n" + source):
                names.update(_imports(source, package))
    return names


def _imports(source: bytes, package: tuple[str, ...]) -> Iterator[str]:
    """The absolute module names a module of ``package`` imports, or may
    (``from x import y``: both ``x`` and ``x.y``)."""
    try:
        with warnings.catch_warnings():  # a package's invalid escapes are its business, not the synth's output
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):  # not Python 3: the runtime cannot import it either
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package):  # relative beyond the top-level package: fails to import anyway
                continue
            base = [*package[: len(package) - node.level + 1]] if node.level else []
            base += node.module.split(".") if node.module else []
            yield ".".join(base)
            yield from (".".join((*base, alias.name)) for alias in node.names)


def _file_sizes(folder: str) -> Iterator[tuple[str, int]]:
    """``(name, bytes)`` of every file under ``folder``, at its own size (a hard link counts in full)."""
    for directory, _, filenames in os.walk(folder):
        for name in filenames:
            yield name, os.stat(os.path.join(directory, name)).st_size


def _count(folder: Path) -> tuple[int, int]:
    sizes = [size for _, size in _file_sizes(str(folder))]
    return len(sizes), sum(sizes)
