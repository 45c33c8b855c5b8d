"""Bundling without Docker: Lambda-platform wheels, content-hashed caches, atomic writes."""

import importlib.util
import json
import marshal
import os
import sys
from pathlib import Path

import pytest

from api_direct.bundling import build as bundling
from api_direct.bundling.build import BundleSpec, BundlingError, SourceTree, build_bundle, read_requirements
from api_direct.bundling.fastapi_code import ADAPTER_REQUIREMENT, handler_shim, write_handler
from api_direct.local.rest_proxy import HttpRequest, RestProxy
from api_direct.project import DEFAULT_EXCLUDES
from tests.example_project import EXAMPLE_DIR

ELF_MACHINE = {0xB7: "aarch64", 0x3E: "x86_64"}


def example_spec(source_root: Path = EXAMPLE_DIR, architecture: str = "arm64") -> BundleSpec:
    return BundleSpec(
        requirements=(*read_requirements(EXAMPLE_DIR / "requirements.txt"), ADAPTER_REQUIREMENT),
        sources=(SourceTree(source_root, exclude=DEFAULT_EXCLUDES),),
        architecture=architecture,  # type: ignore[arg-type]
        generated={"apid_handler.py": handler_shim("weather.main:app")},
    )


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return ELF_MACHINE[int.from_bytes(header[18:20], "little")]


def test_installs_binary_wheels_for_the_lambda_platform(tmp_path: Path, pip_calls: list[list[str]]) -> None:
    bundle = build_bundle(example_spec(), tmp_path)
    command = pip_calls[0]
    assert command[command.index("--platform") : command.index("--platform") + 2] == [
        "--platform",
        "manylinux2014_aarch64",
    ]
    assert "--only-binary=:all:" in command and command[command.index("--python-version") + 1] == "3.12"
    [extension] = (bundle.path / "pydantic_core").glob("_pydantic_core*.so")
    assert "aarch64" in extension.name and elf_machine(extension) == "aarch64"
    assert (bundle.path / "weather" / "main.py").is_file()
    assert (bundle.path / "apid_handler.py").read_text() == handler_shim("weather.main:app")


def test_x86_64_bundle_gets_x86_64_wheels(tmp_path: Path) -> None:
    bundle = build_bundle(example_spec(architecture="x86_64"), tmp_path)
    [extension] = (bundle.path / "pydantic_core").glob("_pydantic_core*.so")
    assert elf_machine(extension) == "x86_64"


def test_warm_build_runs_no_pip(tmp_path: Path, pip_calls: list[list[str]]) -> None:
    first = build_bundle(example_spec(), tmp_path)
    second = build_bundle(example_spec(), tmp_path)
    assert len(pip_calls) == 1
    assert (first.installed_dependencies, second.installed_dependencies) == (True, False)
    assert first.path == second.path and first.content_hash == second.content_hash


def test_source_edit_rebuilds_bundle_but_not_dependencies(
    tmp_path: Path, pip_calls: list[list[str]], copy_of_example: Path
) -> None:
    before = build_bundle(example_spec(copy_of_example), tmp_path / "cache")
    (copy_of_example / "weather" / "main.py").write_text(
        (copy_of_example / "weather" / "main.py").read_text() + "\n# edited\n"
    )
    after = build_bundle(example_spec(copy_of_example), tmp_path / "cache")
    assert len(pip_calls) == 1
    assert after.content_hash != before.content_hash
    assert "# edited" in (after.path / "weather" / "main.py").read_text()
    # Dependencies are hard links into the shared cache, not fresh copies.
    module = Path("pydantic_core") / "__init__.py"
    assert os.stat(after.path / module).st_ino == os.stat(before.path / module).st_ino


def test_excluded_files_are_neither_shipped_nor_hashed(tmp_path: Path, copy_of_example: Path) -> None:
    before = build_bundle(example_spec(copy_of_example), tmp_path / "cache")
    (copy_of_example / ".venv").mkdir()
    (copy_of_example / ".venv" / "big.bin").write_bytes(b"\0" * 1024)
    (copy_of_example / "tests" / "test_more.py").write_text("def test_x():\n    pass\n")
    after = build_bundle(example_spec(copy_of_example), tmp_path / "cache")
    assert after.content_hash == before.content_hash
    assert not (after.path / "tests").exists() and not (after.path / ".venv").exists()
    assert not (after.path / "apid.toml").exists()


def test_hash_depends_on_every_input() -> None:
    base = example_spec()
    variants = [
        BundleSpec(requirements=(*base.requirements, "six==1.16.0"), sources=base.sources, generated=base.generated),
        BundleSpec(
            requirements=base.requirements, sources=base.sources, python_version="3.13", generated=base.generated
        ),
        BundleSpec(
            requirements=base.requirements, sources=base.sources, architecture="x86_64", generated=base.generated
        ),
        BundleSpec(requirements=base.requirements, sources=base.sources, generated={"apid_handler.py": "other"}),
    ]
    hashes = {spec.bundle_hash() for spec in [base, *variants]}
    assert len(hashes) == 5
    assert base.bundle_hash() == example_spec().bundle_hash()


def test_unresolvable_requirement_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    spec = BundleSpec(requirements=("apid-no-such-package-anywhere==9.9.9",), sources=())
    with pytest.raises(BundlingError) as error:
        build_bundle(spec, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "apid-no-such-package-anywhere" in message and "binary wheels" in message
    assert not (tmp_path / "deps" / spec.dependencies_hash()).exists()
    assert [p for p in (tmp_path / "deps").iterdir()] == []


def test_crash_mid_build_leaves_no_bundle_and_rerun_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(command: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundling, "run_pip", crash)
    with pytest.raises(KeyboardInterrupt):
        build_bundle(example_spec(), tmp_path)
    assert list((tmp_path / "deps").iterdir()) == []
    monkeypatch.undo()
    bundle = build_bundle(example_spec(), tmp_path)
    assert bundle.installed_dependencies and (bundle.path / "fastapi").is_dir()


def test_handler_shim_serves_the_app_through_mangum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated module and its adapter, run against the example, answer an API Gateway REST event."""
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    write_handler(tmp_path, "weather.main:app")
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {}
    exec(compile(handler_shim("weather.main:app"), "apid_handler.py", "exec"), namespace)
    request = HttpRequest("GET", "/cities", headers=(("x-api-key", "redacted"),), query="limit=2")
    event = RestProxy(stage="v1").event(request, source_ip="203.0.113.9")
    response = namespace["handler"](event, None)  # type: ignore[operator]
    assert response["statusCode"] == 200
    assert len(json.loads(response["body"])["items"]) == 2
    for module in [m for m in sys.modules if m in ("weather", "apid_asgi") or m.startswith("weather.")]:
        monkeypatch.delitem(sys.modules, module)


def test_bundles_carry_hash_based_byte_code_naming_the_task_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda cannot write byte-code next to read-only code, so the bundle brings it (here compiled by this Python)."""
    monkeypatch.setattr(bundling, "byte_compiler", lambda version: sys.executable)
    bundle = build_bundle(example_spec(), tmp_path)
    for source in ("weather/main.py", "apid_handler.py", "fastapi/applications.py"):
        data = Path(importlib.util.cache_from_source(str(bundle.path / source))).read_bytes()
        assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, never checked against a timestamp
        assert marshal.loads(data[16:]).co_filename == f"/var/task/{source}"


def test_without_an_interpreter_of_the_runtime_the_bundle_is_source_only_and_hashed_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = example_spec().dependencies_hash()
    monkeypatch.setattr(bundling, "byte_compiler", lambda version: None)
    assert example_spec().dependencies_hash() != compiled
    bundle = build_bundle(example_spec(), tmp_path)
    assert not list(bundle.path.rglob("__pycache__"))


def test_the_byte_compiler_is_this_python_the_path_or_pyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert bundling.byte_compiler.__wrapped__(host) == sys.executable
    fake = tmp_path / "pyenv" / "versions" / "3.42.1" / "bin" / "python3.42"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 1\n")  # never started: pyenv's folder names the version
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert bundling.byte_compiler.__wrapped__("3.42") == str(fake)
    assert bundling.byte_compiler.__wrapped__("3.43") is None
    on_path = tmp_path / "bin" / "python3.43"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\necho 3.43\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert bundling.byte_compiler.__wrapped__("3.43") == str(on_path)
    on_path.write_text("#!/bin/sh\necho 'pyenv: python3.43: command not found' >&2; exit 127\n")
    assert bundling.byte_compiler.__wrapped__("3.43") is None
