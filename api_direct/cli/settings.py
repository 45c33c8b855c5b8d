"""What every command receives: the global options, parsed once, overridable per command.

The options are accepted both before the command (``apid --json deploy``) and
after it (``apid deploy --json``), as users and scripts write both.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from api_direct.cli.output import Output
from api_direct.deploy.aws_target import AwsTarget
from api_direct.errors import StateError

if TYPE_CHECKING:
    from api_direct.client.control_plane import ControlPlane

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Settings:
    """Global options, shared by every command through the Click context."""

    project_dir: Path = Path(".")
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    assume_yes: bool = False
    #: ``--stage``: None acts on the project's default stage.
    stage: str | None = None
    output: Output = field(default_factory=lambda: Output(as_json=False, verbose=False))

    def aws_target(self, default_region: str | None = None) -> AwsTarget:
        return AwsTarget(profile=self.profile, region=self.region or default_region, endpoint_url=self.endpoint_url)

    def control_plane(self) -> "ControlPlane":
        """The typed client of the control plane you are signed in to (one line if you are not)."""
        from api_direct.client import sign_in

        return sign_in.client_for(sign_in.require_session(), endpoint_url=self.endpoint_url)

    def confirm(self, question: str) -> bool:
        """Ask, unless ``--yes``; with nobody to ask, refuse with the flag to pass."""
        if self.assume_yes:
            return True
        if not sys.stdin.isatty() or self.output.as_json:
            raise StateError(f"{question} Not confirmed: rerun with --yes to proceed")
        return click.confirm(question, default=False, err=True)


def _setter(apply: Callable[[Settings, Any], None]) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            apply(ctx.ensure_object(Settings), value)

    return callback


def _set_json(settings: Settings, _: Any) -> None:
    settings.output.as_json = True


def _set_verbose(settings: Settings, _: Any) -> None:
    settings.output.verbose = True


GLOBAL_OPTIONS = (
    click.option(
        "--project",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "project_dir", v)),
        help="Project folder (the one holding apid.toml). Default: current folder.",
    ),
    click.option(
        "--profile",
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "profile", v)),
        help="AWS profile for your own credentials.",
    ),
    click.option(
        "--region",
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "region", v)),
        help="AWS region (default: the linked region).",
    ),
    click.option(
        "--endpoint-url",
        envvar="APID_ENDPOINT_URL",
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "endpoint_url", v)),
        help="Send every AWS call here (an AWS-compatible endpoint such as a local emulator).",
    ),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_setter(_set_json),
        help="Print one machine-readable JSON result on stdout.",
    ),
    click.option(
        "--yes",
        "-y",
        "assume_yes",
        is_flag=True,
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "assume_yes", True)),
        help="Answer yes to every confirmation.",
    ),
    click.option(
        "--verbose",
        "-v",
        is_flag=True,
        expose_value=False,
        callback=_setter(_set_verbose),
        help="Show debugging detail on stderr.",
    ),
)


def stage_option(command: F) -> F:
    """``--stage NAME``, for the commands that act on one stage's stack."""
    return click.option(
        "--stage",
        expose_value=False,
        callback=_setter(lambda s, v: setattr(s, "stage", v)),
        help="The stage to act on: its own stack apid-<api>-<stage>, URL and keys. Default: [deploy] "
        "default_stage in apid.toml, else the project's one unnamed stage (apid-<api>).",
    )(command)


def global_options(command: F) -> F:
    """Accept the global options after the command name too."""
    for option in reversed(GLOBAL_OPTIONS):
        command = option(command)
    return command
