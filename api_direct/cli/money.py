"""``apid payouts setup | earnings | refund``: how a creator gets paid, what they have earned, and giving money back."""

from decimal import Decimal
from typing import Any

import click
from rich.markup import escape

from api_direct.amounts import amount_cents, amount_refused
from api_direct.cli.settings import Settings, global_options
from api_direct.errors import InputError


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
    """Your earnings per month: revenue, refunds, Stripe's fees, the platform fee, the payout and its transfer
    (creators).

    Revenue counts in the month the payment reached API-Direct, a refund in the month it
    was made; a month is paid out a few days after it ends. `--json` adds every paid
    invoice credited to you (with Stripe's fee on it) and every refund.
    """
    client = settings.control_plane()
    found = client.earnings()
    settings.output.result(found, render(found))


def render(found: dict[str, Any]) -> str:
    currency = str(found["currency"]).upper()
    lines = [
        f"{'month':<8} {'state':<7} {'invoices':>8} {'revenue':>12} {'refunds':>10} {'stripe':>8} {'platform':>10}"
        f" {'payout':>12}  transfer"
    ]
    carried = []
    for month in found["months"]:
        fee, payout = month.get("fee"), month.get("payout")
        lines.append(
            f"{month['month']:<8} {month['state']:<7} {month.get('invoices', 0):>8} {_money(month.get('revenue', 0)):>12}"
            f" {_money(month.get('refunds', 0)):>10} {_money(month.get('stripe_fees', 0)):>8}"
            f" {_money(fee) if fee is not None else '-':>10} {_money(payout) if payout is not None else '-':>12}"
            f"  {month.get('transfer_id') or '-'}"
        )
        if month.get("dispute_count"):
            carried.append(
                f"{month['month']} disputes: {_money(month.get('disputes', 0))} taken back and"
                f" {_money(month.get('dispute_fees', 0))} in Stripe's dispute fees."
            )
        if month.get("carried_out"):
            carried.append(
                f"{month['month']} came out {_money(month['carried_out'])} below zero: the next month pays it first."
            )
    if not found["months"]:
        lines.append("(nothing yet: revenue appears when a consumer's invoice is paid)")
    account = found.get("payout_account")
    lines += carried
    lines.append(
        f"Amounts in {currency}; stripe: Stripe's card and Billing fees; platform: the platform fee,"
        f" {Decimal(str(found['fee_percent'])).normalize():f}% of revenue net of refunds."
        + ("" if account else " No payout account yet: run `apid payouts setup`.")
    )
    return "\n".join(escape(line) for line in lines)


def receipts_text(found: dict[str, Any]) -> str:
    """What each plan pays the creator (``GET /listings/{api}/receipts``), as a table under ``apid publish``."""
    currency = str(found["currency"]).upper()
    lines = [
        f"What you receive, in {currency}, after Stripe's {Decimal(str(found['card_percent'])).normalize():f} %"
        f" + {found['card_fixed_cents']} cents a charge (and {Decimal(str(found['billing_percent'])).normalize():f} %"
        f" of subscription invoices) and the platform's {Decimal(str(found['fee_percent'])).normalize():f} %:",
        f"  {'plan':<16} {'units':>14} {'consumer pays':>13} {'stripe':>8} {'platform':>9} {'you receive':>11}"
        f" {'per 1,000':>9}",
    ]
    for plan in found["plans"]:
        if not plan["receipts"]:
            lines.append(f"  {plan['plan']:<16} {'free: nothing charged':>14}")
        for receipt in plan["receipts"]:
            units = f"{receipt['units']:,}/{'pack' if plan['shape'] == 'prepaid' else 'month'}"
            lines.append(
                f"  {plan['plan']:<16} {units:>14} {_money(receipt['charged']):>13}"
                f" {_money(receipt['card_fee'] + receipt['billing_fee']):>8} {_money(receipt['platform_fee']):>9}"
                f" {_money(receipt['received']):>11} {Decimal(str(receipt['per_1000'])):>9.4f}"
            )
    return "\n".join(escape(line) for line in lines)


@click.command()
@click.argument("payment")
@click.option(
    "--amount",
    metavar="AMOUNT",
    help="How much to give back, e.g. 5.00 (in the ledger's currency); all that is left by default.",
)
@global_options
@click.pass_obj
def refund(settings: Settings, payment: str, amount: str | None) -> None:
    """Refund a consumer's paid invoice or credit pack of your API, whole or in part (creators).

    PAYMENT is an invoice id (in_...) or a pack's payment id (pi_...), as `apid earnings
    --json` lists them. The money goes back to the card the consumer paid with; Stripe
    keeps its fee. The refund comes off this month's payout. Running the same refund
    again after an error never refunds twice.
    """
    cents = None if amount is None else amount_cents(amount)
    if amount is not None and cents is None:
        raise InputError(f"--amount: {amount_refused(amount)}")
    client = settings.control_plane()
    made = client.refund(payment, cents)
    currency = str(made["currency"]).upper()
    settings.output.result(
        made,
        escape(
            f"Refunded {_money(made['amount'])} {currency} of {made['invoice_id']} ({made['refund_id']});"
            f" {_money(made['left'])} {currency} left to refund. It comes off your {made['month']} payout."
        ),
    )


def _money(cents: int) -> str:
    return f"{Decimal(int(cents)) / 100:,.2f}"
