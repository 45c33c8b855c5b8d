"""``apid sandbox``: see the whole product work on this machine, no AWS or Stripe account needed."""

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import api_direct
from api_direct.cli.output import Output
from api_direct.cli.settings import Settings, global_options
from api_direct.deploy.assets import PublishedAsset
from api_direct.deploy.change_sets import ChangeSet
from api_direct.deploy.executor import Observer
from api_direct.deploy.planner import Step
from api_direct.deploy.stack_events import StackEvent
from api_direct.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from api_direct.local.sandbox import Endpoints, Summary

#: The example the sandbox deploys when not run in (or pointed at) a project.
EXAMPLE = Path(api_direct.__file__).resolve().parent.parent / "examples" / "weather_api"


@click.command()
@click.option(
    "--calls",
    type=click.IntRange(1, 5000),
    default=200,
    show_default=True,
    help="How many calls the consumer makes: the app's GET and POST operations in turn, with a missing "
    "key, a wrong key and an unknown route mixed in.",
)
@click.option(
    "--plan",
    "plan_name",
    default=None,
    help="The plan the consumer subscribes to; its shape decides the money story: a subscription is invoiced for "
    "the calls' units, a free trial (trial_days) takes a card on Stripe's Checkout page, bills nothing in the trial "
    "and the fee from its end, a prepaid plan answers 402 until a pack is bought on Checkout, then burns and "
    "auto-reloads the credit. Default: the first paid plan in apid.toml.",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the marketplace running, live, until Ctrl-C: the API served on 127.0.0.1 (call it with the "
    "consumer's key), its usage and key changes delivered as in AWS; print the marketplace, creator "
    "portal, API, control plane, emulator and Stripe fake URLs.",
)
@global_options
@click.pass_obj
def sandbox(settings: Settings, calls: int, plan_name: str | None, keep: bool) -> None:
    """Run the whole marketplace on this machine and check the money adds up.

    \b
    Starts an AWS emulator (moto) and a Stripe fake on 127.0.0.1, then, with the
    product's own code: deploys the control plane template; signs up a creator and
    a consumer; links the creator's emulated account and deploys the API through
    the deploy role; publishes it with its plans; the consumer subscribes and gets
    a key; --calls requests go through the API's authorizer and app; the usage is
    metered, billed as Stripe meter events and invoiced; the creator is paid out.
    Ends with a table (calls, billable units, billed, Stripe's fees, platform
    fee, payout) and exits 0 only if every number matches what the calls and
    the plan imply (6 if not).

    \b
    The calls come from the app's own OpenAPI document: every GET and POST
    operation, its parameters and JSON body filled from the examples it gives
    (Field(examples=[...]), Path(examples=[...]), ...) or else made from its
    schema. Every such call must answer 2xx; a missing key must get 401, a
    wrong key 403 and a path no route matches 404. Operations that cannot be
    filled (a multipart upload, the app's own credentials) are skipped and
    named; an app with none to call exits 3 before anything starts.

    \b
    The API is the project in --project (or the current folder) if it holds an
    apid.toml, else the repository's examples/weather_api. Needs no AWS or Stripe
    credentials and never contacts them; bundling the Lambda code downloads wheels
    from PyPI the first time (cached after). Without --keep nothing is left running.
    """
    from api_direct.local.sandbox import run_sandbox  # imported here: it loads the control plane app

    project_dir = _project_dir(settings.project_dir)
    narrator = _Narrator(settings.output)
    summary = run_sandbox(
        project_dir,
        narrator,
        calls=calls,
        plan_name=plan_name,
        keep=_wait_for_interrupt(settings.output) if keep else None,
    )
    settings.output.result({**asdict(summary), "ok": summary.ok}, _summary_text(summary))
    if not summary.ok:
        wrong = [check.name for check in summary.checks if not check.ok]
        raise OperationFailed(f"the sandbox's numbers do not add up: {', '.join(wrong)}")


def _project_dir(given: Path) -> Path:
    if (given / "apid.toml").is_file():
        return given
    if given == Path(".") and (EXAMPLE / "apid.toml").is_file():
        return EXAMPLE
    raise InputError(f"no apid.toml in {given}: pass --project DIR (a folder made by `apid init`)")


class _Narrator:
    """Steps as lines (✓ with their time), a spinner with the deploy's resource count while one runs."""

    def __init__(self, output: Output) -> None:
        self._output = output
        self._status: Any = None
        self._title = ""
        self._settled: set[str] = set()
        self.observer: Observer = self

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        self._title, self._settled = title, set()
        try:
            if self._output.interactive:
                with self._output.err.status(escape(title)) as status:
                    self._status = status
                    yield
            else:
                self._output.note(f"→ {escape(title)}")
                yield
        except BaseException:
            self._output.note(f"[red]✗[/red] {escape(title)}")
            raise
        finally:
            self._status = None
        self._output.note(f"[green]✓[/green] {escape(title)} [dim]({time.monotonic() - started:.1f} s)[/dim]")

    def detail(self, text: str) -> None:
        self._output.note(f"    [dim]{escape(text)}[/dim]")

    # The deploy engine's observer: a resource count on the spinner, details only with --verbose.

    def step_started(self, step: Step) -> None:
        self._output.debug(f"    {step.describe()}")

    def asset_published(self, published: PublishedAsset) -> None:
        self._output.debug(f"    asset {published.key} ({'uploaded' if published.uploaded else 'already there'})")

    def change_set_ready(self, change_set: ChangeSet) -> None:
        self._output.debug(f"    change set: {len(change_set.changes)} change(s)")

    def note(self, text: str) -> None:
        self._output.debug(f"    {text}")

    def stack_event(self, event: StackEvent) -> None:
        if not event.is_stack and event.status.endswith("_COMPLETE"):
            self._settled.add(event.logical_id)
            if self._status is not None:
                self._status.update(f"{escape(self._title)}  [dim]{len(self._settled)} resources[/dim]")


def _summary_text(summary: "Summary") -> str:
    currency = summary.currency.upper()
    table = Table(title="Sandbox summary", title_justify="left")
    for column in ("figure", "value", "check"):
        table.add_column(column)
    for figure, value in (
        ("calls made", str(summary.calls)),
        ("of them MCP tool calls", str(summary.mcp_tool_calls)),
        ("billable units", str(summary.billable)),
        ("amount billed", _money(summary.billed, currency)),
        ("Stripe's fees", _money(summary.stripe_fees, currency)),
        ("platform fee", _money(summary.fee, currency)),
        ("creator payout", _money(summary.payout, currency)),
        ("AWS cost of the calls (estimate)", f"{summary.aws_variable_cost} USD"),
        ("AWS fixed cost a month (estimate)", f"{summary.aws_fixed_monthly} USD"),
        ("margin after AWS", f"{summary.margin} USD"),
    ):
        table.add_row(figure, value, "")
    for check in summary.checks:
        mark = "[green]ok[/green]" if check.ok else f"[red]expected {escape(str(check.expected))}[/red]"
        table.add_row(f"  {escape(check.name)}", escape(str(check.actual)), mark)
    console = Console(width=100, highlight=False)
    with console.capture() as captured:
        console.print(table)
    verdict = "Every number matches" if summary.ok else "[red]Some numbers do not match[/red]"
    return f"{captured.get()}{verdict} ({summary.seconds:.0f} s)."


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}"


def _wait_for_interrupt(output: Output) -> "Callable[[Endpoints], None]":
    def keep(endpoints: "Endpoints") -> None:
        e = endpoints
        mcp = f"  MCP (agents):    {e.mcp} (the same x-api-key header)\n" if e.mcp else ""
        output.note(
            "\n[bold]Left running[/bold] until Ctrl-C (which stops everything and removes the work folder):\n"
            f"  marketplace:     {e.marketplace}\n  creator portal:  {e.portal}\n"
            f"  API (callable):  {e.gateway}\n  API (deployed):  {e.api_url} (the emulator's URL; it cannot serve it)\n"
            f"{mcp}"
            f"  AWS emulator:    {e.aws}\n  control plane:   {e.control_plane}\n  Stripe fake:     {e.stripe}\n"
            f"  work folder:     {e.workdir}\n"
            f"  users:           {', '.join(e.users)} (password {e.password})\n"
            f"  consumer key:    {e.consumer_key}\n\n"
            "Calls reach the usage counters within a second, and a new subscriber's key works as soon. "
            "Explore, for instance:\n"
            f"  {escape(e.sample.curl(e.gateway, ('x-api-key', '<consumer key>')))}\n"
            f"  curl {e.control_plane}/listings\n"
            f"  apid --endpoint-url {e.aws} login --control-plane {e.control_plane} --username {e.users[0]}\n"
            f"  apid --endpoint-url {e.aws} earnings"
        )
        try:
            wait_for_ctrl_c()
        except KeyboardInterrupt:
            output.note("Stopping.")

    return keep


def wait_for_ctrl_c() -> None:
    """Block until Ctrl-C, or the SIGTERM that ``kill`` sends: what ``--keep`` does while the user explores.

    Both end as KeyboardInterrupt, so a terminated sandbox stops everything and removes
    its work folder just as an interrupted one does.
    """
    signal.signal(signal.SIGTERM, _interrupted)
    while True:
        time.sleep(3600)


def _interrupted(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt
