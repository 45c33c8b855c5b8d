"""``apid secrets set | list | remove``: a stage's secrets, kept in the linked account, read by the app at cold start."""

import sys

import click
from rich.markup import escape

from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.deploy import operations
from api_direct.deploy import secrets as library
from api_direct.deploy.operations import Session
from api_direct.deploy.secrets import SecretInfo
from api_direct.errors import InputError


@click.group()
def secrets() -> None:
    """Keep secrets (API keys of services the app calls, passwords) out of files and templates.

    Each is a SecureString parameter in the linked account's Parameter Store, one folder per stage; the app
    reads it as an environment variable of the same name, set when its function starts (a cold start).
    """


def _session(settings: Settings, progress: ProgressDisplay) -> Session:
    return operations.open_session(settings.project_dir, settings.aws_target(), progress, stage=settings.stage)


@secrets.command(name="set", context_settings={"allow_extra_args": True})
@click.argument("name")
@stage_option
@global_options
@click.pass_context
def set_(ctx: click.Context, name: str) -> None:
    """Store the secret NAME for the stage, or a new version of it.

    The value is never an argument (it would stay in your shell's history and in the process list): on a
    terminal it is asked for without echo, otherwise read from stdin, one trailing newline dropped
    (`printf %s "$TOKEN" | apid secrets set NAME`). Containers already running keep the value they started
    with; see the Secrets page of the docs.
    """
    if ctx.args:  # refused without repeating it: it may be the value
        raise InputError(
            "apid secrets set takes only NAME: the value comes from the prompt or stdin, never an argument"
        )
    settings: Settings = ctx.obj
    library.check_name(name)
    progress = ProgressDisplay(settings.output, "storing the secret")
    session = _session(settings, progress)
    library.check_unshadowed(session.project, name)  # before asking for a value that would be refused
    value = _read_value(name)
    with progress:
        info = library.set_secret(session, name, value)
    settings.output.result(
        {"stage": session.project.stage, "path": library.stage_path(session), "secret": _json(info)},
        f"Stored {name} (version {info.version}) for {library.stage_label(session)}. Containers read it when they"
        " start; running ones keep the value they started with until the next deploy that changes the app.",
    )


@secrets.command(name="list")
@stage_option
@global_options
@click.pass_obj
def list_(settings: Settings) -> None:
    """List the stage's secrets: names, versions and last changes, never values."""
    with ProgressDisplay(settings.output, "listing the secrets") as progress:
        session = _session(settings, progress)
        found = library.list_secrets(session)
    width = max((len(info.name) for info in found), default=0)
    lines = [f"{len(found)} secret(s) for {library.stage_label(session)} under {library.stage_path(session)}"] + [
        f"  {escape(info.name):<{width}}  v{info.version}  {_when(info)}  {escape(info.last_modified_by or '')}"
        for info in found
    ]
    settings.output.result(
        {
            "stage": session.project.stage,
            "path": library.stage_path(session),
            "secrets": [_json(info) for info in found],
        },
        "\n".join(lines),
    )


@secrets.command()
@click.argument("name")
@stage_option
@global_options
@click.pass_obj
def remove(settings: Settings, name: str) -> None:
    """Delete the secret NAME of the stage, with its history (asks first unless --yes).

    Running containers keep the value they started with; new ones start without it.
    """
    library.check_name(name)
    with ProgressDisplay(settings.output, "removing the secret") as progress:
        session = _session(settings, progress)
        if not settings.confirm(
            f"Delete secret {name} of {library.stage_label(session)} from {session.link.account_id}?"
        ):
            raise click.Abort()
        library.remove_secret(session, name)
    settings.output.result(
        {"stage": session.project.stage, "path": library.stage_path(session), "removed": name},
        f"Removed {name} from {library.stage_label(session)}.",
    )


def _read_value(name: str) -> str:
    """The value from a prompt that does not echo, or from stdin less one trailing newline (``echo`` adds it)."""
    if sys.stdin.isatty():
        return str(click.prompt(f"Value of {name}", hide_input=True, err=True, default="", show_default=False))
    value = sys.stdin.read()
    return value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value


def _when(info: SecretInfo) -> str:
    return f"{info.last_modified:%Y-%m-%d %H:%M:%S %Z}".strip() if info.last_modified else "-"


def _json(info: SecretInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "version": info.version,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "last_modified_by": info.last_modified_by,
    }
