"""``apid``: the root command, its global options and the error-to-exit-code mapping."""

import traceback
from typing import Any

import click

from api_direct import __version__
from api_direct.cli import account, build, dev, init, marketplace, money, sandbox, stack
from api_direct.cli.settings import Settings, global_options
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

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Every command's --help ends with the exit codes (scripts branch on them)."""
        cmd.epilog = cmd.epilog or EXIT_CODES_HELP
        for sub in getattr(cmd, "commands", {}).values():
            sub.epilog = sub.epilog or EXIT_CODES_HELP
        super().add_command(cmd, name)

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
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """API-Direct: deploy a FastAPI app into your own AWS account and sell it as a metered API.

    Global options work before or after the command (`apid --json plan` = `apid plan --json`).
    """
    ctx.ensure_object(Settings)


for command in (init.init, build.synth, stack.plan, stack.deploy, stack.status, stack.logs, stack.destroy, account.aws,
                *marketplace.COMMANDS, *money.COMMANDS, dev.dev, sandbox.sandbox):
    cli.add_command(command)
