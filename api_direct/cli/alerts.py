"""``apid alerts show|set API``: a consumer's usage alerts for one subscription."""

from typing import Any

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options
from api_direct.client.control_plane import Alerts, AlertSettings


@click.group()
def alerts() -> None:
    """Usage alerts per subscription (consumers): email and webhook at thresholds, a spend cap.

    Each threshold is a percentage of the plan's monthly quota (and, with a spend cap,
    of the cap); each fires once per UTC month. The defaults, until you set them, are
    80 and 100 percent, by email.
    """


@alerts.command("show")
@click.argument("api_id", metavar="API")
@global_options
@click.pass_obj
def show(settings: Settings, api_id: str) -> None:
    """The alerts of your subscription to API, and how the last webhook call went."""
    found = settings.control_plane().alerts(api_id)
    settings.output.result(found, render(found))


@alerts.command("set")
@click.argument("api_id", metavar="API")
@click.option(
    "--threshold",
    "thresholds",
    type=click.IntRange(1, 100),
    multiple=True,
    metavar="PERCENT",
    help="Alert at this percentage (1-100) of the quota and of the spend cap; repeat for several (up to 5). "
    "Replaces the current thresholds.",
)
@click.option("--webhook", metavar="URL", help="Also POST each alert, signed, to this https URL.")
@click.option("--no-webhook", is_flag=True, help="Stop calling the webhook (its secret is forgotten).")
@click.option("--rotate-secret", is_flag=True, help="Issue a new signing secret for the same webhook URL.")
@click.option(
    "--spend-cap",
    metavar="AMOUNT",
    help="A monthly spend cap in the marketplace's currency (paid plans only), e.g. 50 or 49.90.",
)
@click.option("--no-spend-cap", is_flag=True, help="Remove the spend cap.")
@click.option(
    "--hard/--soft",
    default=None,
    help="--hard: at the cap your keys stop (calls answer 402) until you raise it or the month ends. "
    "--soft (the default): alert only.",
)
@global_options
@click.pass_obj
def set_(
    settings: Settings,
    api_id: str,
    thresholds: tuple[int, ...],
    webhook: str | None,
    no_webhook: bool,
    rotate_secret: bool,
    spend_cap: str | None,
    no_spend_cap: bool,
    hard: bool | None,
) -> None:
    """Change the alerts of your subscription to API; what you do not name stays as it is.

    A new webhook URL (or --rotate-secret) prints its signing secret ONCE: keep it to
    verify the APID-Signature header of each call.
    """
    if webhook is not None and no_webhook:
        raise click.UsageError("give --webhook URL or --no-webhook, not both")
    if spend_cap is not None and no_spend_cap:
        raise click.UsageError("give --spend-cap AMOUNT or --no-spend-cap, not both")
    client = settings.control_plane()
    current = client.alerts(api_id)
    cap = None if no_spend_cap else spend_cap if spend_cap is not None else current["spend_cap"]
    wanted: AlertSettings = {
        "thresholds": list(thresholds) or current["thresholds"],
        "webhook_url": None if no_webhook else webhook or current["webhook_url"],
        "spend_cap": cap,
        "cap_mode": current["cap_mode"] if hard is None else "hard" if hard else "soft",
    }
    if cap is None and hard is None:
        wanted["cap_mode"] = "soft"
    if rotate_secret:
        wanted["rotate_secret"] = True
    changed = client.set_alerts(api_id, wanted)
    human = render(changed)
    if changed["webhook_secret"]:
        human += (
            "\n\nThe webhook's signing secret, shown only this once:\n\n"
            f"  [bold]{changed['webhook_secret']}[/bold]\n\n"
            "Verify each call's APID-Signature header with it (api_direct.webhook_signature.verify)."
        )
    settings.output.result(changed, human)


def render(found: Alerts | dict[str, Any]) -> str:
    lines = [
        f"Alerts for {found['api_id']} (plan {found['plan']})",
        f"  thresholds: {', '.join(f'{t}%' for t in found['thresholds'])} of the monthly quota"
        + (" and of the spend cap" if found["spend_cap"] else ""),
        "  email:      to your account's address",
        f"  webhook:    {found['webhook_url'] or '(none)'}",
        f"  spend cap:  {found['spend_cap'] + ' (' + found['cap_mode'] + ')' if found['spend_cap'] else '(none)'}",
    ]
    if found.get("capped_until"):
        lines.append(f"  CAPPED:     your keys answer 402 until {found['capped_until']} or until you raise the cap")
    delivery = found.get("last_delivery")
    if delivery:
        detail = f" ({delivery['error']})" if delivery.get("error") else ""
        lines.append(
            f"  last call:  {delivery['type']} {delivery['event_id']}: {delivery['status']} after"
            f" {delivery['attempts']} attempt(s){detail}"
        )
    return "\n".join(escape(line) for line in lines)
