"""``apid usage [invoices]``: what a consumer used and paid, to take away."""

import sys
from datetime import date
from decimal import Decimal
from typing import Any

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options


@click.group(invoke_without_command=True)
@click.option("--api", "api_id", metavar="ID", help="Only this API (default: every API you subscribed to).")
@click.option(
    "--from",
    "first",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="First UTC day, YYYY-MM-DD (default: the month's 1st).",
)
@click.option(
    "--to",
    "last",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="Last UTC day, included (default: today with --from, else the current month's end).",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write the rows as CSV (with a header row) to stdout.")
@global_options
@click.pass_context
def usage(ctx: click.Context, api_id: str | None, first: Any, last: Any, as_csv: bool) -> None:
    """Your calls per UTC day, API and key (consumers), as billing counts them.

    Days are UTC. The range is at most 366 days, the current month by default.
    `--json` prints the whole document (per-API totals and the rows); `--csv` the rows as
    the dashboard's CSV download. `apid usage invoices` lists your paid invoices.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    range_ = {"api_id": api_id, "first": _day(first), "last": _day(last)}
    client = settings.control_plane()
    if as_csv:
        sys.stdout.write(client.calls_csv(**range_))
        return
    found = client.calls(**range_)
    settings.output.result(found, render_calls(found))


@usage.command()
@global_options
@click.pass_obj
def invoices(settings: Settings) -> None:
    """Your paid invoices, newest first, with the link to each on Stripe (consumers).

    The link opens Stripe's page of the invoice, where its PDF and receipt are.
    """
    found = {"invoices": settings.control_plane().invoices()}
    settings.output.result(found, render_invoices(found["invoices"]))


def render_calls(found: dict[str, Any]) -> str:
    lines = [f"Calls from {found['from']} to {found['to']} (UTC days)", ""]
    lines.append(f"{'date':<10}  {'api':<24} {'key':<24} {'calls':>10}")
    for row in found["days"]:
        key = row["key_id"] or "(before keys were counted)"
        if row.get("key_name"):
            key = f"{key} ({row['key_name']})"
        lines.append(f"{row['date']:<10}  {row['api_id']:<24} {key:<24} {row['calls']:>10,}")
    if not found["days"]:
        lines.append("(no calls in this range)")
    lines.append("")
    lines.extend(f"{api['api_id']}: {api['calls']:,} calls" for api in found["apis"])
    lines.append(f"Total: {found['calls']:,} calls")
    return "\n".join(escape(line) for line in lines)


def render_invoices(found: list[dict[str, Any]]) -> str:
    if not found:
        return "No paid invoices yet."
    lines = []
    for invoice in found:
        period = (
            f"{invoice['period_start'][:10]} to {invoice['period_end'][:10]}"
            if invoice.get("period_start") and invoice.get("period_end")
            else invoice["month"]
        )
        amount = f"{Decimal(int(invoice['amount'])) / 100:,.2f} {str(invoice['currency']).upper()}"
        lines.append(f"{invoice['invoice_id']}  {invoice['api_id']}  {period}  {amount}  {invoice['status']}")
        lines.append(f"  {invoice.get('hosted_invoice_url') or '(no Stripe link recorded)'}")
    return "\n".join(escape(line) for line in lines)


def _day(moment: Any) -> str | None:
    return date.isoformat(moment.date()) if moment is not None else None
