"""``apid init``: a new project a creator can test, synthesize and deploy straight away.

The files come from templates shipped as package data in ``scaffold_template/``.
Their placeholders (``{api_name}``, ...) are replaced by name, not with
``str.format``, so the templates stay plain Python and TOML whose own braces
(f-strings, route paths, dicts) need no escaping.
"""

import re
import unicodedata
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from api_direct.errors import InputError
from api_direct.project import API_NAME_PATTERN, CONFIG_FILE

#: What the scaffold writes (relative to the project folder) and the template each comes
#: from. ``.gitignore`` is stored without its dot: package-data globs skip hidden files.
TEMPLATES: dict[str, str] = {
    "main.py": "main.py.tmpl",
    "requirements.txt": "requirements.txt.tmpl",
    CONFIG_FILE: "apid.toml.tmpl",
    ".gitignore": "gitignore.tmpl",
    "tests/test_main.py": "tests/test_main.py.tmpl",
}


@dataclass(frozen=True)
class ScaffoldResult:
    """The project that was created: where, under which API name, and its files (relative)."""

    root: Path
    name: str
    created: tuple[str, ...]


def scaffold_project(target: Path, *, name: str | None = None) -> ScaffoldResult:
    """Create a minimal FastAPI project in ``target`` (created if missing).

    ``name`` (default: the folder's name) is slugified into the API name. Every
    check runs before the first write, so a refusal leaves the folder untouched.
    """
    root = target.resolve()
    api_name = slugify_api_name(name if name is not None else root.name)
    files = render_templates(api_name)
    _check_target(root, files)
    _write(root, files)
    return ScaffoldResult(root=root, name=api_name, created=tuple(files))


def slugify_api_name(text: str) -> str:
    """Turn ``text`` (e.g. ``My Weather_API``) into a valid API name (``my-weather-api``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not re.fullmatch(API_NAME_PATTERN, slug):
        raise InputError(
            f"cannot make an API name from {text!r}: it must be 3-40 lowercase letters, digits or hyphens,"
            f" start with a letter and end with a letter or digit ({API_NAME_PATTERN}); choose one with --name"
        )
    return slug


def render_templates(api_name: str) -> dict[str, str]:
    """Every file of a new project, by relative path, with its placeholders filled in."""
    values = {
        "api_name": api_name,
        "api_title": api_name.replace("-", " ").title(),
        "fastapi_version": metadata.version("fastapi"),
        "pydantic_version": metadata.version("pydantic"),
    }
    templates = resources.files("api_direct") / "scaffold_template"
    rendered = {}
    for path, template in TEMPLATES.items():
        text = templates.joinpath(template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        rendered[path] = text
    return rendered


def _check_target(root: Path, files: dict[str, str]) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    if (root / CONFIG_FILE).exists():
        raise InputError(f"{root / CONFIG_FILE}: already exists; this folder is already an API-Direct project")
    for path in files:
        conflict = _first_existing(root, Path(path))
        if conflict is not None:
            raise InputError(
                f"{conflict}: already exists; `apid init` would overwrite it (move it or pick an empty folder)"
            )


def _first_existing(root: Path, relative: Path) -> Path | None:
    """The file at ``relative``, or a non-folder standing where one of its parent folders must go."""
    target = root / relative
    if target.exists() or target.is_symlink():
        return target
    for parent in relative.parents:
        folder = root / parent
        if folder.exists() and not folder.is_dir():
            return folder
    return None


def _write(root: Path, files: dict[str, str]) -> None:
    """Write every file, or none: a failure part-way removes what this call had created."""
    created: list[Path] = []
    try:
        for folder in _missing_folders(root, files):
            folder.mkdir()
            created.append(folder)
        for relative, text in files.items():
            with (root / relative).open("x", encoding="utf-8") as handle:
                created.append(root / relative)
                handle.write(text)
    except OSError as err:
        for path in reversed(created):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        raise InputError(f"{err.filename or root}: cannot write the project: {err.strerror or err}") from None


def _missing_folders(root: Path, files: dict[str, str]) -> list[Path]:
    """The folders the files need that do not exist yet, parents first."""
    needed = {root, *root.parents, *((root / relative).parent for relative in files)}
    return sorted((folder for folder in needed if not folder.exists()), key=lambda folder: len(folder.parts))
