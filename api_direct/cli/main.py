"""``apid``: the root command, its global options and the error-to-exit-code mapping."""

import atexit
import gc
import importlib
import logging
import traceback
from typing import Any

import click
from rich.markup import escape

from api_direct import __version__
from api_direct.cli.settings import Settings, global_options
from api_direct.errors import AccessError, ApidError, InputError, OperationFailed, StateError

#: The last thing done at exit (exit handlers run last-registered first): once the CDK's jsii classes and
#: boto3 are loaded, the interpreter's final collections trace hundreds of thousands of objects for nothing;
#: frozen, they are only freed, and exiting after a synthesis stops costing a noticeable part of it.
atexit.register(gc.freeze)

EXIT_CODES_HELP = f"""
\b
Exit codes:
  0  success (including "no changes")
  1  unexpected error (a bug: rerun with --verbose and report it)
  2  bad command-line usage
  {InputError.exit_code}  invalid project or input (apid.toml, requirements, arguments)
  {AccessError.exit_code}  AWS access problem (credentials, assume-role, ExternalId, AWS unreachable)
  {StateError.exit_code}  wrong state (not linked, stack busy or failed, another deploy running, nothing to act on)
  {OperationFailed.exit_code}  the operation ran and failed (e.g. deploy rolled back, AWS's answer lost)
  130 interrupted (Ctrl-C)
"""


#: Command name -> where it is defined. Imported when run (or listed by --help), so that a
#: command that never synthesizes, such as `apid dev`, does not load the CDK and start
#: jsii's Node.js process (nearly a second, and a traceback from it on Ctrl-C).
COMMANDS = {
    "init": "init:init",
    "synth": "build:synth",
    "plan": "stack:plan",
    "deploy": "stack:deploy",
    "status": "stack:status",
    "logs": "stack:logs",
    "mcp": "mcp:mcp",
    "destroy": "stack:destroy",
    "versions": "versions:versions",
    "rollback": "versions:rollback",
    "aws": "account:aws",
    "ci": "ci:ci",
    "signup": "marketplace:signup",
    "login": "marketplace:login",
    "logout": "marketplace:logout",
    "publish": "marketplace:publish",
    "unpublish": "marketplace:unpublish",
    "invite": "invites:invite",
    "keys": "marketplace:keys",
    "payouts": "money:payouts",
    "earnings": "money:earnings",
    "costs": "costs:costs",
    "refund": "money:refund",
    "usage": "usage:usage",
    "alerts": "alerts:alerts",
    "dev": "dev:dev",
    "sandbox": "sandbox:sandbox",
    "secrets": "secrets:secrets",
}


class ApidGroup(click.Group):
    """Loads commands lazily; turns library errors into one line on stderr and a documented exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its --help (and its subcommands') ending with the exit codes scripts branch on."""
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(f"api_direct.cli.{module}"), attribute)
        for each in (command, *getattr(command, "commands", {}).values()):
            each.epilog = each.epilog or EXIT_CODES_HELP
        return command

    def invoke(self, ctx: click.Context) -> Any:
        notices = _Notices(ctx)
        logging.getLogger("api_direct").addHandler(notices)
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
            failure = _aws_failure(error, f"apid {ctx.invoked_subcommand}")
            if failure is not None:
                raise _Failure(str(failure), failure.exit_code) from None
            settings = ctx.find_object(Settings)
            if settings and settings.output.verbose:
                traceback.print_exc()
            raise _Failure(
                f"unexpected {type(error).__name__}: {error} (rerun with --verbose for details)", 1
            ) from None
        finally:
            logging.getLogger("api_direct").removeHandler(notices)


def _aws_failure(error: Exception, doing: str) -> ApidError | None:
    """botocore's failure raised outside the library's ``aws_errors`` blocks: still AWS's answer, with its
    documented exit code, not a bug's 1; ``None`` for anything else."""
    from api_direct.deploy.aws import AWS_FAILURES, aws_failure  # here: boto3 is slow to import

    return aws_failure(error, doing) if isinstance(error, AWS_FAILURES) else None


class _Notices(logging.Handler):
    """The library's warnings (an AWS call being retried) as progress lines on stderr."""

    def __init__(self, ctx: click.Context) -> None:
        super().__init__(logging.WARNING)
        self._ctx = ctx

    def emit(self, record: logging.LogRecord) -> None:
        settings = self._ctx.find_object(Settings)
        if settings is None:
            click.echo(record.getMessage(), err=True)
        else:
            settings.output.note(f"[yellow]{escape(record.getMessage())}[/yellow]")


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        # click types exit_code a ClassVar, but reads it from the instance, where each error sets its own.
        self.exit_code = exit_code  # type: ignore[misc]


@click.group(cls=ApidGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apid")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """API-Direct: deploy a FastAPI app into your own AWS account and sell it as a metered API.

    Global options work before or after the command (`apid --json plan` = `apid plan --json`).
    """
    ctx.ensure_object(Settings)
