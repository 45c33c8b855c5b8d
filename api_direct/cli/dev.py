"""``apid dev``: serve the app locally behind the deployed API's key check and metering."""

from dataclasses import replace

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options
from api_direct.local.dev_launch import DevLaunch, prepare_launch, run_launch
from api_direct.local.dev_mcp import dev_mcp_server, mcp_url


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--plan",
    "plan_name",
    default=None,
    metavar="NAME",
    help="Plan of the local key: its billable_statuses decide what is billable. Default: the first plan in apid.toml.",
)
@click.option(
    "--key",
    envvar="APID_DEV_KEY",
    show_envvar=True,
    default=None,
    help="Local API key to accept, to keep one across runs (apid_ and 43 characters, as printed by"
    " an earlier run). Default: a new key each run.",
)
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Restart the app when a .py file in the project changes.",
)
@global_options
@click.pass_obj
def dev(settings: Settings, host: str, port: int, plan_name: str | None, key: str | None, reload: bool) -> None:
    """Serve the app on this machine as the deployed API serves it, until Ctrl-C.

    \b
    Requests go through the code the deployed stack runs:
      - the authorizer's key check, with one local key (printed at start)
        on the chosen plan; a missing or wrong key gets the same status
        and JSON body as from the deployed API, and never reaches the app;
      - the access-log line API Gateway writes for the request, read back
        by the usage forwarder and priced by the plan, printed live:
          GET /forecast/{city_id}  200  12 ms  billable 1  (plan pro)

    The API's MCP endpoint for AI agents answers at /mcp (same key): one
    tool per operation; each tool call is a request to its route, metered
    as one.

    Not emulated: rate limits, quotas and the authorizer's cache. Restart
    after editing apid.toml.
    """
    launch = prepare_launch(settings.project_dir, plan_name, key)
    url = f"http://{host}:{port}"
    curl = launch.call.curl(url, ("x-api-key", launch.key))
    loopback = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    with dev_mcp_server(launch.target.project, loopback) as mcp:
        agents_url = mcp_url(url) if mcp else None
        settings.output.result(
            {
                "url": url,
                "key": launch.key,
                "plan": launch.target.plan.name,
                "reload": reload,
                "curl": curl,
                "mcp_url": agents_url,
            },
            _human(launch, url, curl, agents_url),
        )
        status = run_launch(
            replace(launch, target=replace(launch.target, mcp=mcp)), host=host, port=port, reload=reload
        )
    if status:
        raise SystemExit(status)


def _human(launch: DevLaunch, url: str, curl: str, mcp_url: str | None) -> str:
    config = launch.target.project.config
    python = f"\nPython: {escape(str(launch.interpreter))} (the project's)" if launch.interpreter else ""
    mcp = f"\nMCP (AI agents): {mcp_url} with the same x-api-key header" if mcp_url else ""
    return (
        f"[bold]{config.api.name}[/bold] ({escape(config.api.app)}) on {url}, plan {launch.target.plan.name}\n"
        f"Local API key: [bold]{launch.key}[/bold]\n"
        f"Try: {escape(curl)}{mcp}{python}"
    )
