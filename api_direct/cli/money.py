"""``apid payouts setup | earnings``: how a creator gets paid, and what they have earned."""

from decimal import Decimal
from typing import Any

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options


@click.group()
def payouts() -> None:
    """Get paid: connect a Stripe account that receives your earnings (creators)."""


@payouts.command("setup")
@global_options
@click.pass_obj
def setup(settings: Settings) -> None:
    """Create your Stripe Connect account (once) and print its onboarding link.

    Open the link in a browser: Stripe asks for your identity and bank account. Links
    expire within minutes, so run this again for a fresh one; the account stays the same.
    """
    client = settings.control_plane()
    account = client.payout_account()
    status = (
        "Transfers are enabled: earnings are paid out after each month closes."
        if account["transfers_enabled"]
        else "Finish onboarding in your browser to enable transfers."
    )
    settings.output.result(
        account,
        f"Stripe account {escape(account['account_id'])}. Onboarding link (expires soon):\n\n"
        f"  {escape(account['onboarding_url'])}\n\n{status}",
    )


@click.command()
@global_options
@click.pass_obj
def earnings(settings: Settings) -> None:
    """Your earnings per month: revenue, the platform fee, the payout and its transfer (creators).

    Revenue counts in the month the payment reached API-Direct; a month is paid out a
    few days after it ends. `--json` adds every paid invoice credited to you.
    """
    client = settings.control_plane()
    found = client.earnings()
    settings.output.result(found, render(found))


def render(found: dict[str, Any]) -> str:
    currency = str(found["currency"]).upper()
    lines = [f"{'month':<8} {'state':<7} {'invoices':>8} {'revenue':>12} {'fee':>10} {'payout':>12}  transfer"]
    for month in found["months"]:
        fee, payout = month.get("fee"), month.get("payout")
        lines.append(
            f"{month['month']:<8} {month['state']:<7} {month['invoices']:>8} {_money(month['revenue']):>12}"
            f" {_money(fee) if fee is not None else '-':>10} {_money(payout) if payout is not None else '-':>12}"
            f"  {month.get('transfer_id') or '-'}"
        )
    if not found["months"]:
        lines.append("(nothing yet: revenue appears when a consumer's invoice is paid)")
    account = found.get("payout_account")
    lines.append(
        f"Amounts in {currency}; platform fee {Decimal(str(found['fee_percent'])).normalize():f}%."
        + ("" if account else " No payout account yet: run `apid payouts setup`.")
    )
    return "\n".join(escape(line) for line in lines)


def _money(cents: int) -> str:
    return f"{Decimal(int(cents)) / 100:,.2f}"
