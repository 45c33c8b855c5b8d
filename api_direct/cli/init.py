"""``apid init``: start a new project from a working template."""

import shlex
from pathlib import Path

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options
from api_direct.scaffold import ScaffoldResult, scaffold_project


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name", default=None, help="API name (default: the folder's name, slugified: lowercase letters, digits, hyphens)."
)
@global_options
@click.pass_obj
def init(settings: Settings, directory: Path | None, name: str | None) -> None:
    """Create a ready-to-deploy FastAPI project in DIRECTORY (default: the --project folder, `.`).

    \b
    It writes these files, and none of them if any already exists:
      main.py             a FastAPI app with a few routes and pydantic models
      requirements.txt    fastapi and pydantic, pinned
      apid.toml           the API's name, description, a free and a paid plan
      tests/test_main.py  tests with FastAPI's TestClient
      .gitignore

    \b
    Then, in the project folder:
      python -m pytest    run the app's tests
      apid synth          bundle and synthesize the stack, offline
      apid aws link       connect your AWS account (once)
      apid deploy         deploy the API and print its URL
    """
    result = scaffold_project(directory or settings.project_dir, name=name)
    steps = _next_steps(result.root)
    settings.output.result(
        {"project_dir": str(result.root), "name": result.name, "created": list(result.created), "next_steps": steps},
        _human(result, steps),
    )


def _next_steps(root: Path) -> list[str]:
    """The commands to run next, starting with a ``cd`` unless the project is the current folder."""
    steps = ["python -m pytest", "apid synth", "apid aws link", "apid deploy"]
    return steps if root == Path.cwd().resolve() else [f"cd {shlex.quote(str(root))}", *steps]


def _human(result: ScaffoldResult, steps: list[str]) -> str:
    files = "\n".join(f"  {escape(path)}" for path in result.created)
    commands = "\n".join(f"  {escape(step)}" for step in steps)
    return f"Created [bold]{result.name}[/bold] in {escape(str(result.root))}:\n{files}\n\nNext:\n{commands}"
