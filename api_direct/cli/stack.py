"""``apid plan | deploy | status | logs | destroy``: the API stack in the linked account."""

from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial

import click
from rich.markup import escape

from api_direct.cli.output import Output
from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.canary import Canary, parse_canary
from api_direct.deploy import logs as log_tail
from api_direct.deploy import operations
from api_direct.deploy.change_sets import ResourceChange
from api_direct.deploy.domains import DomainState
from api_direct.deploy.operations import DeployResult, Session
from api_direct.deploy.watch import Redeploy, project_changes, redeploy_each


def session_of(settings: Settings, progress: ProgressDisplay) -> Session:
    """The session a stack command acts in: the project in ``--stage``, its link, the creator's credentials."""
    return operations.open_session(settings.project_dir, settings.aws_target(), progress, stage=settings.stage)


@click.command()
@stage_option
@global_options
@click.pass_obj
def plan(settings: Settings) -> None:
    """Show what `apid deploy` would change, and change nothing.

    Synthesizes the stack, assumes the deploy role, creates a CloudFormation change
    set, lists each resource it would add, modify (and whether that replaces it) or
    remove, then deletes the change set. A stage with a custom domain also shows its
    certificate: issued, pending validation, or still to be requested by `apid deploy`.

    Then what the stack costs in AWS: its fixed monthly charges (alarms, keys, secrets,
    dashboards: the resources billed whatever the traffic), and 1,000 calls at the stage's
    memory and architecture, shaped like the API's traffic the control plane measured
    (signed in, published) or else assumed; it says which. `--json` has them under "costs".
    """
    with ProgressDisplay(settings.output, "planning") as progress:
        result = operations.plan(session_of(settings, progress))
    _warn(settings.output, result.warnings)
    settings.output.result(
        {
            "stack": result.stack_name,
            "creates_stack": result.creates_stack,
            "changes": [_change_json(c) for c in result.changes],
            "no_changes": not result.changes,
            "warnings": list(result.warnings),
            "domain": _domain_json(result.domain),
            "costs": result.costs.as_json() if result.costs else None,
        },
        "\n".join(
            [
                _changes_text(result.stack_name, result.changes),
                *([result.domain.describe()] if result.domain else []),
                *([escape(result.costs.describe())] if result.costs else []),
            ]
        ),
    )


@click.command()
@click.option(
    "--hotswap",
    is_flag=True,
    help="If only function code changed, update the functions directly (seconds, not minutes). "
    "The stack then drifts from its template until the next full deploy.",
)
@click.option(
    "--canary",
    metavar="PERCENT%:DURATION",
    help="Shift traffic to the new version gradually through CodeDeploy: PERCENT first, all of it after DURATION"
    " (e.g. 10%:5m, 25%:1h), rolled back by itself if over 5% of a minute's requests get a 5xx meanwhile.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="After the deploy, deploy again on each save: a hotswap when only code changed, a full deploy"
    " otherwise, one line per change, until Ctrl-C.",
)
@stage_option
@global_options
@click.pass_obj
def deploy(settings: Settings, hotswap: bool, canary: str | None, watch: bool) -> None:
    """Build and deploy the API into the linked account, with live progress.

    Publishes the bundles (skipping any already uploaded), then creates and executes
    a change set with the execution role. "No changes" is a success. Ctrl-C stops
    watching; CloudFormation carries on (see `apid status`).

    With a custom domain (`[gateway] domain` or a stage's `domain`), its ACM
    certificate comes first: requested, validated through the account's Route 53
    zone and waited for, before the stack changes. Without the zone, the deploy
    stops (exit 5) naming the DNS record to create; rerun it once the record exists.
    """
    shift = parse_canary(canary) if canary else None
    with ProgressDisplay(settings.output, "deploying") as progress:
        result = operations.deploy(
            session_of(settings, progress), hotswap=hotswap, confirm=settings.confirm, canary=shift
        )
    _warn(settings.output, result.warnings)
    settings.output.result(_deploy_json(result), _deploy_text(result))
    if watch:
        _watch(settings, shift)


def _watch(settings: Settings, canary: Canary | None) -> None:
    """Redeploy on each save until Ctrl-C; the project (and its apid.toml) is read again each time."""

    def deploy_once() -> tuple[str, str]:
        with ProgressDisplay(settings.output, "redeploying") as progress:
            result = operations.deploy(
                session_of(settings, progress), hotswap=True, confirm=settings.confirm, canary=canary
            )
        _warn(settings.output, result.warnings)
        if result.status == "HOTSWAPPED":
            return result.status, f"hotswapped {', '.join(result.hotswapped)}"
        return result.status, f"{len(result.changes)} change(s)" if result.changes else "no changes"

    settings.output.note(f"Watching {settings.project_dir} for changes (Ctrl-C to stop).")
    try:
        redeploy_each(
            project_changes(settings.project_dir.resolve()), deploy_once, partial(_print_redeploy, settings.output)
        )
    except KeyboardInterrupt:
        pass


def _print_redeploy(output: Output, redeploy: Redeploy) -> None:
    if output.as_json:
        output.out.print_json(data=asdict(redeploy))
        return
    changed = ", ".join(redeploy.changed[:3]) + (
        f" (+{len(redeploy.changed) - 3})" if len(redeploy.changed) > 3 else ""
    )
    if redeploy.error:
        outcome = f"[red]failed[/red] (exit {redeploy.exit_code}): {escape(redeploy.error)}"
    else:
        outcome = f"{redeploy.status}: {redeploy.detail}"
    output.out.print(f"{datetime.now():%H:%M:%S}  {escape(changed)} → {outcome} ({redeploy.seconds:.1f} s)")


@click.command()
@stage_option
@global_options
@click.pass_obj
def status(settings: Settings) -> None:
    """Show the API stack's state, its outputs (the URL) and whether a hotswap left it drifted."""
    with ProgressDisplay(settings.output, "reading status") as progress:
        report = operations.status(session_of(settings, progress))
    stack = report.stack
    outputs = stack.outputs if stack else {}
    data = {
        "stack": report.stack_name,
        "account_id": report.link.account_id,
        "region": report.link.region,
        "status": stack.status if stack else "NOT_DEPLOYED",
        "reason": stack.reason if stack else None,
        "last_updated": stack.last_updated.isoformat() if stack and stack.last_updated else None,
        "outputs": outputs,
        "drifted_since": report.drifted_since,
        "resources": len(report.resources),
        "live_version": report.live.live if report.live else None,
        "deployed_version": report.live.deployed if report.live else None,
        "rolled_back": report.live.rolled_back if report.live else False,
    }
    lines = [f"[bold]{report.stack_name}[/bold] in {report.link.account_id}/{report.link.region}: {data['status']}"]
    if stack and stack.reason:
        lines.append(f"  reason: {escape(stack.reason)}")
    if data["last_updated"]:
        lines.append(f"  last updated: {data['last_updated']}")
    lines += [f"  {key}: {value}" for key, value in sorted(outputs.items())]
    if report.live and report.live.rolled_back:
        lines.append(
            f"  [yellow]rolled back: version {report.live.live} is live, the last deploy made"
            f" {report.live.deployed} live; the next `apid deploy` makes its version live again[/yellow]"
        )
    elif report.live:
        lines.append(f"  live version: {report.live.live}")
    if report.drifted_since:
        lines.append(
            f"  [yellow]drifted since {report.drifted_since} (hotswap); run `apid deploy` to reconcile[/yellow]"
        )
    settings.output.result(data, "\n".join(lines))


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C (which exits 0).")
@click.option(
    "--since", default="10m", show_default=True, help="How far back to start: 30s, 10m, 2h, 1d, or an ISO-8601 time."
)
@click.option("--access", is_flag=True, help="Show the API's JSON access log instead of the app's log.")
@stage_option
@global_options
@click.pass_obj
def logs(settings: Settings, follow: bool, since: str, access: bool) -> None:
    """Print the deployed app's log lines (or its access log), oldest first."""
    start = log_tail.parse_since(since, datetime.now(UTC))
    with ProgressDisplay(settings.output, "finding the logs") as progress:
        client, group = operations.log_source(session_of(settings, progress), access=access)
    if not follow:
        lines = log_tail.fetch(client, [group], start)
        settings.output.result(
            {
                "log_group": group,
                "lines": [{"timestamp": line.timestamp.isoformat(), "message": line.message} for line in lines],
            },
            "\n".join(f"{line.timestamp:%Y-%m-%d %H:%M:%S}  {escape(line.message.rstrip())}" for line in lines)
            or "(no log lines)",
        )
        return
    try:
        for line in log_tail.follow(client, [group], start, stop=lambda: False):
            _print_line(settings.output, line)
    except KeyboardInterrupt:
        pass


@click.command()
@click.option("--retain-data", is_flag=True, help="Keep the key table (it stays in the account, unmanaged).")
@stage_option
@global_options
@click.pass_obj
def destroy(settings: Settings, retain_data: bool) -> None:
    """Delete the API stack from the linked account (asks first unless --yes)."""
    with ProgressDisplay(settings.output, "destroying") as progress:
        session = session_of(settings, progress)
        kept = " keeping the key table" if retain_data else " and its data"
        if not settings.confirm(
            f"Delete {session.project.stack_name}{kept} from {session.link.account_id}/{session.link.region}?"
        ):
            raise click.Abort()
        result = operations.destroy(session, retain_data=retain_data)
    _warn(settings.output, result.warnings)
    settings.output.result(
        {
            "stack": result.stack_name,
            "status": result.status,
            "retained_data": retain_data,
            "warnings": list(result.warnings),
        },
        f"Deleted {result.stack_name}." + (" The key table was kept." if retain_data else ""),
    )


def _warn(output: Output, warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        output.warning(warning)


def _print_line(output: Output, line: log_tail.LogLine) -> None:
    if output.as_json:
        output.out.print_json(data={"timestamp": line.timestamp.isoformat(), "message": line.message})
    else:
        output.out.print(f"{line.timestamp:%H:%M:%S}  {escape(line.message.rstrip())}")


def _domain_json(domain: DomainState | None) -> dict[str, object] | None:
    if domain is None:
        return None
    return {
        "name": domain.name,
        "certificate_arn": domain.certificate_arn,
        "certificate_status": domain.certificate_status,
        "hosted_zone": domain.zone.name if domain.zone else None,
    }


def _change_json(change: ResourceChange) -> dict[str, object]:
    return {
        "logical_id": change.logical_id,
        "type": change.resource_type,
        "action": change.action,
        "replacement": change.replacement,
    }


def _changes_text(stack_name: str, changes: tuple[ResourceChange, ...]) -> str:
    """One aligned line per change (plain text: it is read in terminals, logs and CI output)."""
    if not changes:
        return f"{stack_name}: no changes"
    width = max(len(c.logical_id) for c in changes)
    lines = [f"{stack_name}: {len(changes)} change(s)"]
    for change in changes:
        replace = (
            "  [red]replaces[/red]"
            if change.replaces
            else ("  may replace" if change.replacement == "Conditional" else "")
        )
        lines.append(f"  {change.action:<7} {change.logical_id:<{width}}  {change.resource_type}{replace}")
    return "\n".join(lines)


def _deploy_json(result: DeployResult) -> dict[str, object]:
    return {
        "stack": result.stack_name,
        "status": result.status,
        "outputs": result.outputs,
        "changes": [_change_json(c) for c in result.changes],
        "hotswapped": list(result.hotswapped),
        "uploaded_assets": result.uploaded_assets,
        "fell_back_from_hotswap": result.fell_back_from_hotswap,
        "live_moved_from": result.live_moved_from,
        "warnings": list(result.warnings),
    }


def _deploy_text(result: DeployResult) -> str:
    lines = []
    if result.fell_back_from_hotswap:
        lines.append("More than function code changed (or nothing was deployed yet): did a full deploy.")
    if result.status == "NO_CHANGES":
        lines.append(f"{result.stack_name}: no changes.")
    elif result.status == "HOTSWAPPED":
        lines.append(
            f"Hotswapped {', '.join(result.hotswapped)}. [yellow]The stack has drifted from its template"
            " until the next full `apid deploy`.[/yellow]"
        )
    else:
        lines.append(f"{result.stack_name}: {result.status} ({len(result.changes)} change(s)).")
    if result.live_moved_from:
        lines.append(
            f"The live alias was on version {result.live_moved_from} (a rollback): moved back to this deploy's."
        )
    if "ApiUrl" in result.outputs:
        lines.append(f"API URL: [bold]{result.outputs['ApiUrl']}[/bold]")
    return "\n".join(lines)
