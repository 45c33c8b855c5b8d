"""``apid costs``: a month's unit economics per API and plan, and AWS's own bill beside the estimate."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import click
from rich.markup import escape

from api_direct.cli import price_refresh
from api_direct.cli.settings import Settings, global_options
from api_direct.deploy.aws import creator_aws
from api_direct.deploy.cost_explorer import REQUEST_PRICE, BilledMonth, billed_month, month_period
from api_direct.deploy.credentials import deploy_session
from api_direct.deploy.state import LinkRecord, load_state
from api_direct.errors import ApidError, InputError

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@click.command()
@click.option("--month", metavar="YYYY-MM", help="The UTC month (default: the current one, so far).")
@click.option(
    "--refresh-prices",
    is_flag=True,
    help="Instead: read today's AWS prices for the linked region (or --region) from the AWS Price List API into"
    " your user cache, where apid plan and apid publish then find them, and print each price that changed.",
)
@global_options
@click.pass_obj
def costs(settings: Settings, month: str | None, refresh_prices: bool) -> None:
    """Per API and plan for a month: calls, revenue, Stripe's fees, the platform fee, AWS's estimated cost and
    the margin left (creators); a plan that loses money is marked.

    \b
    The AWS cost is estimated by the control plane from each API's measured traffic
    (calls, durations, response and log bytes, the authorizer's cache misses) at the
    published stage's memory and architecture and AWS's published prices for its
    region, plus the stack's fixed monthly charges, spread over the month's days.
    See docs/creators/costs.md for what the estimate leaves out.

    \b
    Run in a project linked with `apid aws link --cost-explorer`, it also reads the
    month's unblended cost of the resources tagged api-direct:managed=true in the
    linked account and region from Cost Explorer, and prints it beside the estimate
    with the difference. Each such request costs $0.01, and the tag must first be
    activated as a cost allocation tag in the payer account's Billing console.

    \b
    --refresh-prices asks pricing:GetProducts (free; links made before it was
    granted need `apid aws link` again) with the link's credentials.
    """
    if refresh_prices:
        price_refresh.run(settings)
        return
    today = datetime.now(UTC).date()
    if month is not None:
        if not _MONTH.fullmatch(month):
            raise InputError(f"--month {month!r}: give a month as YYYY-MM, such as {today:%Y-%m}")
        month_period(month, today)
    with settings.output.status("reading the month's figures from the control plane"):
        found = settings.control_plane().costs(month)
    link = load_state(settings.project_dir).link
    billed, warning = None, None
    if link is not None and link.cost_explorer:
        with settings.output.status(f"reading {found['month']}'s bill from Cost Explorer ($0.01 a request)"):
            try:
                billed = _billed(settings, link, found["month"])
            except ApidError as error:
                warning = f"no Cost Explorer figure: {error}"
    if warning:
        settings.output.warning(warning)
    comparison = compare(found, billed, link) if billed and link else None
    settings.output.result({**found, "cost_explorer": comparison}, render(found, comparison))


def _billed(settings: Settings, link: LinkRecord, month: str) -> BilledMonth:
    creator = creator_aws(settings.aws_target(default_region=link.region))
    return billed_month(deploy_session(creator, link, "reading costs"), month, link.region, datetime.now(UTC).date())


def compare(found: dict[str, Any], billed: BilledMonth, link: LinkRecord) -> dict[str, Any]:
    """Cost Explorer's figure against the estimates of the APIs in the same region (the account's are not told
    apart: a creator's APIs in one region share its tagged resources)."""
    estimate = sum(
        (Decimal(api["totals"]["aws_cost"]) for api in found["apis"] if api["region"] == link.region), Decimal(0)
    )
    return {
        "account_id": link.account_id,
        "region": link.region,
        "start": billed.start.isoformat(),
        "end": billed.end.isoformat(),
        "billed": str(billed.amount),
        "estimated_by_aws": billed.estimated,
        "estimate": str(estimate),
        "difference": str(billed.amount - estimate),
        "request_cost": str(REQUEST_PRICE),
    }


def render(found: dict[str, Any], comparison: dict[str, Any] | None) -> str:
    """The month per API: one row per plan, the calls nobody is billed for (no key, a wrong one, MCP's own requests,
    late records), the total; a losing plan marked."""
    lines = [f"Costs of {found['month']} in {found['currency']} (AWS costs estimated; see `apid costs --help`)"]
    header = (
        f"  {'plan':<16} {'calls':>10} {'revenue':>10} {'stripe':>8} {'platform':>9} {'aws cost':>11} {'margin':>11}"
    )
    for api in found["apis"]:
        lines += [
            "",
            f"{api['api']} ({api['region']}, prices of {api['prices_retrieved']}; fixed"
            f" {_money(api['fixed_monthly'], 2)} a month, spread over its days)",
            header,
        ]
        for plan in api["plans"]:
            flag = "  ← loses money" if plan["loses_money"] else ""
            lines.append(_row(plan["plan"], plan) + flag)
        unattributed = api["unattributed"]
        if unattributed["calls"]:
            lines.append(
                f"  {'(not billed)':<16} {unattributed['calls']:>10,} {'':>29} {_money(unattributed['aws_cost']):>11}"
            )
        lines.append(_row("total", api["totals"]))
    if not found["apis"]:
        lines.append("(no published APIs)")
    if comparison:
        lines += [
            "",
            f"Cost Explorer, {comparison['start']} to {comparison['end']} (excluded), account"
            f" {comparison['account_id']} in {comparison['region']}, tagged api-direct:managed=true:"
            f" {_money(comparison['billed'], 2)}"
            + (" (estimated by AWS until the month closes)" if comparison["estimated_by_aws"] else "")
            + f"; our estimate {_money(comparison['estimate'], 2)}; difference {_signed(comparison['difference'])}.",
        ]
    return "\n".join(escape(line) for line in lines)


def _row(name: str, figures: dict[str, Any]) -> str:
    return (
        f"  {name:<16} {figures['calls']:>10,} {_money(figures['revenue'], 2):>10} {_money(figures['stripe_fees'], 2):>8}"
        f" {_money(figures['platform_fee'], 2):>9} {_money(figures['aws_cost']):>11} {_money(figures['margin']):>11}"
    )


def _money(amount: str, places: int = 4) -> str:
    return f"{Decimal(amount):,.{places}f}"


def _signed(amount: str) -> str:
    return f"{Decimal(amount):+,.2f}"
