"""Slimming installed dependencies of their test suites, and Lambda's 250 MB unzipped limit, checked at synth."""

import dataclasses
import functools
import os
import warnings
from pathlib import Path

import pytest

from api_direct.bundling import build as bundling
from api_direct.bundling import slimming as bundle_slimming
from api_direct.bundling.slimming import (
    LAMBDA_UNZIPPED_LIMIT,
    BundleTooLarge,
    check_bundle_size,
    package_sizes,
    slim_dependencies,
)
from api_direct.bundling.build import BundleSpec, SourceTree, build_bundle
from api_direct.errors import InputError

MB = 2**20

#: An install folder shaped like numpy's, pandas' and others': path -> content.
INSTALL = {
    "numpy/__init__.py": "from . import _core, testing\n",
    "numpy/__init__.pyi": "def test() -> None: ...\n",
    "numpy/_core/__init__.py": "",
    "numpy/_core/_multiarray_umath.cpython-312-aarch64-linux-gnu.so": "\x7fELF" + "\0" * 400,
    "numpy/_core/tests/test_multiarray.py": "import numpy\n" + "# case\n" * 100,
    "numpy/_core/tests/data/umath-validation-set-exp.csv": "1,2\n" * 50,
    "numpy/testing/__init__.py": "from numpy.testing._private.utils import assert_equal\n",
    "numpy/testing/_private/__init__.py": "",
    "numpy/testing/_private/utils.py": "def assert_equal(a, b): assert a == b\n",
    "numpy/testing/tests/test_utils.py": "from numpy.testing import assert_equal\n",
    "numpy/tests/test_public_api.py": "import numpy\n",
    "numpy-2.3.0.dist-info/METADATA": "Name: numpy\n",
    "numpy-2.3.0.dist-info/RECORD": "numpy/__init__.py,,\n",
    "numpy-2.3.0.dist-info/LICENSE.txt": "BSD\n",
    "numpy.libs/libscipy_openblas64_-ff651d7f.so": "\x7fELF",
    "pandas/__init__.py": "from pandas.util._tester import test\n",
    "pandas/conftest.py": "from pandas.tests.extension.base import BaseExtensionTests\n",
    "pandas/util/__init__.py": "",
    "pandas/util/_tester.py": "def test():\n    import pytest\n",
    "pandas/_testing/__init__.py": "",
    "pandas/io/formats/templates/html.tpl": "<table>",
    "pandas/tests/__init__.py": "",
    "pandas/tests/extension/base/__init__.py": "from pandas.tests.extension.base.base import BaseExtensionTests\n",
    "werkzeug/__init__.py": "",
    "werkzeug/test.py": "class Client: pass\n",
    "jinja2/__init__.py": "from .tests import TESTS\n",
    "jinja2/tests.py": "TESTS = {}\n",
    # PyTables imports its test package on import: it must stay.
    "tables/__init__.py": "from .tests import print_versions, test\n",
    "tables/tests/__init__.py": "from tables.tests.common import print_versions, test\n",
    "tables/tests/common.py": "def print_versions(): pass\ndef test(): pass\n",
    # h5py imports its tests inside a function, bracketed over lines; numba by absolute name from another module.
    "h5py/__init__.py": "def run_tests():\n    from . import (\n        tests,\n    )\n    return tests\n",
    "h5py/tests/__init__.py": "",
    "numba/__init__.py": "",
    "numba/misc/__init__.py": "",
    "numba/misc/inspector.py": "import numba.tests.support\n",
    "numba/tests/support.py": "",
    "numba/core/__init__.py": "",
    "numba/core/tests/test_core.py": "",
    # Not inside a package: a data folder without __init__.py, and a stray top-level one.
    "nltk_data/corpora/test/words.txt": "word\n",
    "tzdata/zoneinfo/test/UTC": "TZif",
    "tzdata/__init__.py": "",
    "tests/__init__.py": "",
    "tests/test_stray.py": "",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def sparse_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes that takes no disk: the size check reads sizes, never content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.truncate(size)


def files_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def test_slimming_removes_the_test_suites_inside_packages_and_nothing_else(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "install", INSTALL)
    report = slim_dependencies(root)
    assert report.removed == (
        "numba/core/tests",
        "numpy/_core/tests",
        "numpy/testing/tests",
        "numpy/tests",
        "pandas/tests",
    )
    removed = [path for path in INSTALL if path.startswith(tuple(folder + "/" for folder in report.removed))]
    assert files_under(root) == set(INSTALL) - set(removed)
    # numpy.testing, pandas._testing, modules named test/tests, .so, .pyi, data, dist-info and licences all stay.
    for kept in (
        "numpy/testing/__init__.py",
        "pandas/_testing/__init__.py",
        "werkzeug/test.py",
        "jinja2/tests.py",
        "numpy/_core/_multiarray_umath.cpython-312-aarch64-linux-gnu.so",
        "numpy/__init__.pyi",
        "numpy.libs/libscipy_openblas64_-ff651d7f.so",
        "numpy-2.3.0.dist-info/RECORD",
        "numpy-2.3.0.dist-info/LICENSE.txt",
        "pandas/io/formats/templates/html.tpl",
        "nltk_data/corpora/test/words.txt",
        "tzdata/zoneinfo/test/UTC",
        "tests/test_stray.py",
    ):
        assert (root / kept).is_file(), kept


def test_test_folders_a_module_imports_are_kept(tmp_path: Path) -> None:
    """Relative, bracketed, in a function or by absolute name from elsewhere; pytest's conftest.py does not count."""
    root = write_tree(tmp_path / "install", INSTALL)
    report = slim_dependencies(root)
    assert report.kept == ("h5py/tests", "numba/tests", "tables/tests")
    assert (root / "tables/tests/common.py").is_file() and (root / "numba/tests/support.py").is_file()
    assert not (root / "pandas/tests").exists()  # only pandas/conftest.py and the tests themselves import it


def test_a_module_with_old_escapes_is_read_quietly_and_still_keeps_its_tests(tmp_path: Path) -> None:
    """Python 3.12 warns about ``"\\d"`` when parsing; neither the warning nor an error filter may lose the import."""
    root = write_tree(
        tmp_path / "install",
        {
            "legacy/__init__.py": 'PATTERN = "\\d+"\nfrom .tests import check\n',
            "legacy/tests/__init__.py": "def check(): pass\n",
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert slim_dependencies(root).kept == ("legacy/tests",)


def test_the_report_counts_what_was_removed(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "install", INSTALL)
    before = {path: (root / path).stat().st_size for path in files_under(root)}
    report = slim_dependencies(root)
    gone = set(before) - files_under(root)
    assert report.files == len(gone) == 7
    assert report.bytes == sum(before[path] for path in gone) > 0


def test_the_allow_list_keeps_a_test_folder_nothing_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_slimming, "KEPT_TEST_FOLDERS", frozenset({"numpy._core.tests"}))
    root = write_tree(tmp_path / "install", INSTALL)
    report = slim_dependencies(root)
    assert "numpy/_core/tests" in report.kept and "numpy/_core/tests" not in report.removed
    assert (root / "numpy/_core/tests/test_multiarray.py").is_file()


def test_an_install_without_test_folders_is_untouched(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "install", {"fastapi/__init__.py": "", "fastapi/testclient.py": ""})
    assert slim_dependencies(root) == bundle_slimming.SlimReport(removed=(), kept=(), files=0, bytes=0)
    assert files_under(root) == {"fastapi/__init__.py", "fastapi/testclient.py"}


def test_the_bundle_format_and_slim_are_part_of_the_dependency_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = BundleSpec(requirements=("numpy==2.3.0",), sources=())
    assert spec.slim is True
    whole = dataclasses.replace(spec, slim=False)
    assert whole.dependencies_hash() != spec.dependencies_hash()
    assert whole.bundle_hash() != spec.bundle_hash()
    before = spec.dependencies_hash()
    monkeypatch.setattr(bundling, "BUNDLE_FORMAT", bundling.BUNDLE_FORMAT + "-next")
    assert spec.dependencies_hash() != before


def test_the_dependency_install_is_slimmed_unless_the_spec_says_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring in the bundler, with pip replaced by the fake install (tests stay offline)."""
    monkeypatch.setattr(bundling, "_install_requirements", lambda spec, target: write_tree(target, INSTALL))
    spec = BundleSpec(requirements=("numpy==2.3.0",), sources=())
    slim = build_bundle(spec, tmp_path / "cache")
    whole = build_bundle(dataclasses.replace(spec, slim=False), tmp_path / "cache")
    assert not (slim.path / "numpy/_core/tests").exists() and (slim.path / "tables/tests/common.py").is_file()
    assert (whole.path / "numpy/_core/tests/test_multiarray.py").is_file()
    assert slim.path != whole.path


def test_package_sizes_count_each_distribution_once_and_hard_links_in_full(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    sparse_file(root / "numpy/_core/_multiarray_umath.so", 30 * MB)
    sparse_file(root / "numpy.libs/libopenblas.so", 8 * MB)
    sparse_file(root / "numpy-2.3.0.dist-info/RECORD", 1000)
    sparse_file(root / "six.py", 2000)
    sparse_file(root / "__pycache__/six.cpython-312.pyc", 500)
    sparse_file(root / "app/main.py", 100)
    os.link(root / "app/main.py", root / "app/copy.py")
    assert package_sizes(root) == {"numpy": 38 * MB + 1000, "six": 2500, "app": 200}


def test_an_oversized_bundle_is_one_line_naming_the_largest_packages(tmp_path: Path) -> None:
    """Sparse files: the real limit, without 250 MB of disk."""
    root = tmp_path / "bundle"
    sparse_file(root / "torch/lib/libtorch_cpu.so", 210 * MB)
    sparse_file(root / "numpy/_core/_multiarray_umath.so", 30 * MB)
    sparse_file(root / "numpy.libs/libopenblas.so", 8 * MB)
    sparse_file(root / "pandas/_libs/lib.so", 31 * MB)
    sparse_file(root / "app/main.py", 2000)
    with pytest.raises(BundleTooLarge) as error:
        check_bundle_size(root)
    assert str(error.value) == (
        "bundle for Lambda is 279 MB unzipped, over Lambda's 250 MB limit; largest: torch 210 MB, numpy 38 MB, "
        "pandas 31 MB; drop unused requirements, add exclude patterns, or use a slimmer package"
    )
    assert isinstance(error.value, InputError)
    assert LAMBDA_UNZIPPED_LIMIT == 262_144_000 == 250 * MB


def test_a_bundle_under_the_limit_passes_and_reports_its_size(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    sparse_file(root / "torch/lib/libtorch_cpu.so", LAMBDA_UNZIPPED_LIMIT - 1)
    assert check_bundle_size(root) == LAMBDA_UNZIPPED_LIMIT - 1
    sparse_file(root / "app/main.py", 1)  # Lambda wants it smaller than the limit: equal is refused
    with pytest.raises(BundleTooLarge, match="largest: torch 250 MB, app 0.0 MB;"):
        check_bundle_size(root)
    assert check_bundle_size(root, limit=LAMBDA_UNZIPPED_LIMIT + 1) == LAMBDA_UNZIPPED_LIMIT


def test_build_bundle_checks_the_size_when_built_and_when_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_tree(tmp_path / "project", {"main.py": "app = None\n", "model/weights.txt": "w" * 300_000})
    spec = BundleSpec(requirements=(), sources=(SourceTree(project),))
    monkeypatch.setattr(bundling, "check_bundle_size", functools.partial(check_bundle_size, limit=200_000))
    with pytest.raises(
        BundleTooLarge,
        match=r"^bundle for Lambda is 0.3 MB unzipped, over Lambda's 0.2 MB limit; "
        r"largest: model 0.3 MB, main 0.0 MB;",
    ):
        build_bundle(spec, tmp_path / "cache")
    with pytest.raises(BundleTooLarge):  # the cache serves the folder; the check still runs
        build_bundle(spec, tmp_path / "cache")
    monkeypatch.undo()
    bundle = build_bundle(spec, tmp_path / "cache")
    assert not bundle.installed_dependencies and (bundle.path / "model/weights.txt").is_file()
