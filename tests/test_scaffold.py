"""`scaffold_project`: a new project that loads, passes its own tests, and never overwrites anything."""

import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest

from api_direct import scaffold
from api_direct.errors import InputError
from api_direct.project import load_project
from api_direct.scaffold import TEMPLATES, scaffold_project, slugify_api_name


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show a refusal changed nothing."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_creates_a_project_that_loads(tmp_path: Path) -> None:
    result = scaffold_project(tmp_path / "My Text_API")
    assert result.name == "my-text-api"
    assert set(result.created) == {"main.py", "requirements.txt", "apid.toml", ".gitignore", "tests/test_main.py"}
    assert set(snapshot(result.root)) == set(result.created)
    project = load_project(result.root)
    assert project.stack_name == "apid-my-text-api"
    assert project.config.api.app == "main:app"
    assert [plan.name for plan in project.config.plans] == ["free", "pro"]
    assert project.config.plans[1].price_per_1000 > 0


def test_pins_the_fastapi_and_pydantic_in_use(tmp_path: Path) -> None:
    scaffold_project(tmp_path, name="pinned")
    assert (tmp_path / "requirements.txt").read_text().splitlines() == [
        f"fastapi=={metadata.version('fastapi')}",
        f"pydantic=={metadata.version('pydantic')}",
    ]


def test_gitignore_keeps_local_state_out(tmp_path: Path) -> None:
    scaffold_project(tmp_path, name="ignored")
    assert (tmp_path / ".gitignore").read_text().split() == [".apid/", "__pycache__/", ".venv/"]


def test_generated_tests_pass(tmp_path: Path) -> None:
    result = scaffold_project(tmp_path / "fresh")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=result.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


def test_explicit_name_is_slugified_too(tmp_path: Path) -> None:
    assert scaffold_project(tmp_path, name="Weather API v2").name == "weather-api-v2"
    assert 'name = "weather-api-v2"' in (tmp_path / "apid.toml").read_text()


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("weather-api", "weather-api"),
        ("My Weather_API", "my-weather-api"),
        ("  --Café  Prices!-- ", "cafe-prices"),
        ("api.v2", "api-v2"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify_api_name(text) == slug


@pytest.mark.parametrize("text", ["x", "2024-report", "!!!", "日本", "a" * 41])
def test_unsluggable_name_is_one_line_naming_the_rule(text: str) -> None:
    with pytest.raises(InputError) as raised:
        slugify_api_name(text)
    message = str(raised.value)
    assert "\n" not in message and "3-40 lowercase letters" in message and "--name" in message


def test_bad_name_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        scaffold_project(tmp_path / "new", name="x")
    assert not (tmp_path / "new").exists()


def test_refuses_an_existing_project(tmp_path: Path) -> None:
    (tmp_path / "apid.toml").write_text("# mine\n")
    with pytest.raises(InputError, match="apid.toml: already exists; this folder is already an API-Direct project"):
        scaffold_project(tmp_path, name="taken")
    assert snapshot(tmp_path) == {"apid.toml": b"# mine\n"}


@pytest.mark.parametrize("existing", ["main.py", "tests/test_main.py", ".gitignore"])
def test_refuses_to_overwrite_any_file_and_writes_nothing(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("keep me\n")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match=f"{existing}: already exists"):
        scaffold_project(tmp_path, name="clash")
    assert snapshot(tmp_path) == before


def test_a_file_where_a_folder_must_go_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "tests").write_text("not a folder\n")
    with pytest.raises(InputError, match=r"tests: already exists"):
        scaffold_project(tmp_path, name="clash")
    assert snapshot(tmp_path) == {"tests": b"not a folder\n"}


def test_target_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a folder"):
        scaffold_project(tmp_path / "file", name="clash")


def test_a_failed_write_removes_what_it_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def open_failing_on_tests(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "test_main.py":
            raise OSError(28, "No space left on device", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_failing_on_tests)
    with pytest.raises(InputError, match="test_main.py: cannot write the project: No space left on device"):
        scaffold_project(tmp_path / "a" / "b", name="full-disk")
    assert list(tmp_path.iterdir()) == []


def test_the_template_folder_holds_exactly_the_templates_used() -> None:
    folder = resources.files("api_direct") / "scaffold_template"
    on_disk = {str(path.relative_to(Path(str(folder)))) for path in Path(str(folder)).rglob("*.tmpl")}
    assert on_disk == set(TEMPLATES.values())


def test_rendering_leaves_no_placeholder() -> None:
    for text in scaffold.render_templates("some-api").values():
        assert "{api_" not in text and "_version}" not in text
