"""``apid versions | rollback``: the app's published versions and moving its live alias back."""

from typing import Any

import click

from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.cli.stack import session_of
from api_direct.deploy import operations
from api_direct.deploy.versions import LiveState, Version


@click.command()
@stage_option
@global_options
@click.pass_obj
def versions(settings: Settings) -> None:
    """List the app's published versions, newest first: when, which release (commit and who), which is live.

    Every deploy that changes the app's code or settings publishes one; `apid
    rollback --to N` makes any of them live again.
    """
    with ProgressDisplay(settings.output, "listing versions") as progress:
        state, found = operations.versions(session_of(settings, progress))
    rows = [_version_json(version, state) for version in found]
    lines = [f"{state.function_name}: live is {state.live}" + _behind(state)]
    for row in rows:
        marks = " ".join(mark for mark, on in (("live", row["live"]), ("deployed", row["deployed"])) if on)
        lines.append(f"  {row['version']:>4}  {row['published'][:19]}  {row['release'] or '-'}  {marks}".rstrip())
    settings.output.result(
        {"function": state.function_name, "live": state.live, "deployed": state.deployed, "versions": rows},
        "\n".join(lines),
    )


@click.command()
@click.option("--to", "to", type=click.IntRange(min=1), help="The version to make live (see `apid versions`).")
@stage_option
@global_options
@click.pass_obj
def rollback(settings: Settings, to: int | None) -> None:
    """Make an earlier version of the app live again, in seconds, without CloudFormation.

    Moves the `live` alias that API Gateway invokes to version N (--to), else to
    the newest version older than the live one. The stack is not changed: `apid
    status` says the stage is rolled back until the next `apid deploy`, which makes
    its own version live again.
    """
    with ProgressDisplay(settings.output, "rolling back") as progress:
        result = operations.rollback(session_of(settings, progress), to=to)
    settings.output.result(
        {
            "function": result.function_name,
            "previous": result.previous,
            "live": result.live,
            "seconds": round(result.seconds, 3),
        },
        f"{result.function_name}: version {result.live} is live (was {result.previous}),"
        f" in {result.seconds:.1f} s. The next `apid deploy` makes the deployed version live again.",
    )


def _version_json(version: Version, state: LiveState) -> dict[str, Any]:
    return {
        "version": version.number,
        "published": version.published,
        "release": version.release,
        "code_sha256": version.code_sha256,
        "live": str(version.number) == state.live,
        "deployed": str(version.number) == state.deployed,
    }


def _behind(state: LiveState) -> str:
    if state.rolled_back:
        return f" (rolled back; the last deploy made {state.deployed} live)"
    if state.live != state.deployed and state.deployed is not None:
        return " (a hotswap's code; the next deploy publishes it)"
    return ""
