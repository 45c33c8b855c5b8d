"""``apid``: the root command, its global options and the error-to-exit-code mapping."""

import traceback
from pathlib import Path
from typing import Any

import click

from api_direct import __version__
from api_direct.cli import build
from api_direct.cli.output import Output
from api_direct.cli.settings import Settings
from api_direct.errors import AccessError, ApidError, InputError, OperationFailed, StateError

EXIT_CODES_HELP = f"""
\b
Exit codes:
  0  success (including "no changes")
  1  unexpected error (a bug: rerun with --verbose and report it)
  2  bad command-line usage
  {InputError.exit_code}  invalid project or input (apid.toml, requirements, arguments)
  {AccessError.exit_code}  AWS access problem (credentials, assume-role, ExternalId)
  {StateError.exit_code}  wrong state (not linked, stack busy or failed, nothing to act on)
  {OperationFailed.exit_code}  the operation ran and failed (e.g. deploy rolled back)
  130 interrupted (Ctrl-C)
"""


class ApidGroup(click.Group):
    """Turns library errors into one line on stderr and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApidError as error:
            raise _Failure(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # a bug: say so in one line, details only when asked
            settings = ctx.find_object(Settings)
            if settings and settings.output.verbose:
                traceback.print_exc()
            raise _Failure(f"unexpected {type(error).__name__}: {error} (rerun with --verbose for details)", 1) from None


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@click.group(cls=ApidGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apid")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Project folder (the one holding apid.toml).")
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile for your own credentials.")
@click.option("--region", envvar="AWS_REGION", help="AWS region of the linked account.")
@click.option("--endpoint-url", envvar="APID_ENDPOINT_URL",
              help="Send every AWS call here (an AWS-compatible endpoint such as a local emulator).")
@click.option("--json", "as_json", is_flag=True, help="Print one machine-readable JSON result on stdout.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Answer yes to every confirmation.")
@click.option("--verbose", "-v", is_flag=True, help="Show debugging detail on stderr.")
@click.pass_context
def cli(
    ctx: click.Context,
    project_dir: Path,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    as_json: bool,
    assume_yes: bool,
    verbose: bool,
) -> None:
    """API-Direct: deploy a FastAPI app into your own AWS account and sell it as a metered API."""
    ctx.obj = Settings(
        project_dir=project_dir,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        assume_yes=assume_yes,
        output=Output(as_json=as_json, verbose=verbose),
    )


cli.add_command(build.synth)
