"""``apid login | logout | publish | unpublish | keys``: the control plane's marketplace from the terminal."""

from datetime import datetime
from typing import Any

import click
from rich.markup import escape

from api_direct.cli.invites import listed_api
from api_direct.cli.margins import plan_margins
from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.money import receipts_text
from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.client import sign_in
from api_direct.client.control_plane import ControlPlane, IssuedKey
from api_direct.client.http import CardRequired
from api_direct.client.publishing import publish as publish_listing
from api_direct.deploy import operations
from api_direct.deploy.stacks import deployed_template, resource_counts
from api_direct.contracts import MAX_GRACE_SECONDS
from api_direct.durations import duration_seconds
from api_direct.errors import InputError, StateError


@click.command()
@click.option(
    "--control-plane",
    "control_plane_url",
    envvar="APID_CONTROL_PLANE_URL",
    default=None,
    help="Base URL of the control plane API (default: the one you last signed in to).",
)
@click.option("--username", prompt="Email", help="Your account's email address.")
@click.option(
    "--password",
    envvar="APID_PASSWORD",
    prompt=True,
    hide_input=True,
    help="Prompted for (hidden) unless APID_PASSWORD is set.",
)
@global_options
@click.pass_obj
def login(settings: Settings, control_plane_url: str | None, username: str, password: str) -> None:
    """Sign in to an API-Direct control plane (Cognito; MFA codes are asked for when enabled).

    Tokens are kept in ~/.config/api-direct/session.json, readable only by you, and
    refreshed automatically; `apid logout` revokes and forgets them.
    """
    previous = sign_in.load_session()
    url = control_plane_url or (previous.control_plane_url if previous else None)
    if not url:
        raise StateError("which control plane? pass --control-plane URL (or set APID_CONTROL_PLANE_URL)")
    session = sign_in.login(
        url, username, password, endpoint_url=settings.endpoint_url, mfa_code=lambda: click.prompt("MFA code", err=True)
    )
    settings.output.result(
        {"control_plane": session.control_plane_url, "username": session.username, "region": session.region},
        f"Signed in to {escape(session.control_plane_url)} as [bold]{escape(session.username)}[/bold].",
    )


@click.command()
@click.option(
    "--control-plane",
    "control_plane_url",
    envvar="APID_CONTROL_PLANE_URL",
    required=True,
    help="Base URL of the control plane API.",
)
@click.option("--email", prompt="Email", help="Your email address (you sign in with it).")
@click.option(
    "--role",
    type=click.Choice(["creator", "consumer"]),
    required=True,
    help="creator: deploy and sell APIs; consumer: subscribe and call them.",
)
@click.option(
    "--password",
    envvar="APID_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 12 characters with upper, lower, digit and symbol.",
)
@global_options
@click.pass_obj
def signup(settings: Settings, control_plane_url: str, email: str, role: str, password: str) -> None:
    """Create your account on a control plane; a code is emailed to confirm it."""
    sign_in.sign_up(
        control_plane_url,
        email,
        password,
        f"{role}s",
        endpoint_url=settings.endpoint_url,
        confirmation_code=lambda: click.prompt("Confirmation code from the email", err=True),
    )
    settings.output.result(
        {"email": email, "role": role}, f"Account created for {escape(email)} as a {role}. Next: `apid login`."
    )


@click.command()
@global_options
@click.pass_obj
def logout(settings: Settings) -> None:
    """Revoke your control plane session and delete the cached tokens."""
    forgot = sign_in.logout(endpoint_url=settings.endpoint_url)
    settings.output.result({"signed_out": forgot}, "Signed out." if forgot else "You were not signed in.")


@click.command()
@click.option("--note", help="Your words on this version, shown in the listing's changelog (up to 1000 characters).")
@stage_option
@global_options
@click.pass_obj
def publish(settings: Settings, note: str | None) -> None:
    """List the deployed API on the marketplace with the plans in apid.toml (creators).

    With --stage, that stage is what consumers call (its URL) and where their keys go;
    a stage that is not deployed is refused.

    Sends the name, description, category, tags and plans from apid.toml, the
    deployed base URL, and the app's OpenAPI document (read by importing the app,
    so its requirements must be installed locally). Publishing again updates it, lists
    it again if it was unpublished, and prints what changed: a price change of a plan
    with subscribers applies to them from their first billing period after the
    control plane's notice (they are told), to new subscribers at once.

    Then what each plan pays you per 1,000 units against what AWS bills for 1,000
    calls (as `apid plan` prices them: measured traffic once there is some), with a
    `warning:` for each plan that loses money at its included volume or beyond; a free
    plan always does.
    """
    signed_in = sign_in.require_session()
    with ProgressDisplay(settings.output, "publishing") as progress:
        session = operations.open_session(settings.project_dir, settings.aws_target(), progress, stage=settings.stage)
        aws, stack = operations.deployed_stack(session, "reading status", needed_for="deploy before publishing")
        client = sign_in.client_for(signed_in, endpoint_url=settings.endpoint_url)
        before = _newest_version(client, session.project.config.api.name)
        published = publish_listing(
            client,
            session.project,
            account_id=session.link.account_id,
            region=session.link.region,
            outputs=stack.outputs,
            note=note,
            resources=resource_counts(aws.client("cloudformation"), stack.name),
        )
        version = _newest_version(client, session.project.config.api.name)
        receipts = client.plan_receipts(session.project.config.api.name)
        costs, warnings = operations.costs_of(session, deployed_template(aws.client("cloudformation"), stack.name))
    margins = plan_margins(session.project.config.plans, receipts, costs.per_1000_calls) if costs else []
    warnings += tuple(margin.warning for margin in margins if margin.warning)
    for warning in warnings:
        settings.output.warning(warning)
    changed = version if version and version["number"] != (before or {}).get("number") else None
    settings.output.result(
        {
            **published.answer,
            "version": changed,
            "receipts": receipts,
            "costs": costs.as_json() if costs else None,
            "margins": [
                {"plan": margin.plan, "loses_money": margin.loses_money, "warning": margin.warning}
                for margin in margins
            ],
            "warnings": list(warnings),
        },
        f"Published [bold]{escape(session.project.config.api.name)}[/bold] with"
        f" {len(published.listing['plans'])} plan(s) on {escape(signed_in.control_plane_url)}."
        + (_version_text(changed) if changed else " Nothing changed.")
        + "\n"
        + receipts_text(receipts)
        + (f"\n{escape(costs.describe())}" if costs else ""),
    )


@click.command()
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="DATE",
    help="The day subscriptions end (00:00 UTC), at least 7 days ahead (default: 30 days ahead).",
)
@click.option("--now", "at_once", is_flag=True, help="End subscriptions at once (within 15 minutes), without notice.")
@click.option("--api", "api_id", metavar="ID", help="The API (default: the name in the project's apid.toml).")
@global_options
@click.pass_obj
def unpublish(settings: Settings, until: datetime | None, at_once: bool, api_id: str | None) -> None:
    """Take your API off the marketplace (creators): off search at once, no new subscribers.

    Subscribers keep working until the date and are told by email and webhook; then their
    subscriptions end (keys revoked, billing stops with the period) and the control plane
    stops sending key events to your account. `apid publish` before then lists it again.
    """
    if until is not None and at_once:
        raise click.UsageError("give --until or --now, not both")
    api = listed_api(settings, api_id)
    day = until.date().isoformat() if until else None
    when = "at once" if at_once else f"on {day}" if day else "in 30 days"
    if not settings.confirm(f"Unpublish {api}? It leaves the marketplace now and its subscriptions end {when}."):
        raise click.Abort()
    done = settings.control_plane().unpublish(api, until=day, now=at_once)
    settings.output.result(
        done,
        f"Unpublished [bold]{escape(api)}[/bold]: {done['subscribers']} subscription(s) end on"
        f" {done['retiring_at'][:10]} ({done['retiring_at'][11:16]} UTC); publish again before then to list it again.",
    )


def _newest_version(client: ControlPlane, api_id: str) -> dict[str, Any] | None:
    """The listing's newest version; ``None`` before its first publish."""
    try:
        versions = client.changelog(api_id)
    except StateError:  # not listed yet (404)
        return None
    return versions[0] if versions else None


def _version_text(version: dict[str, Any]) -> str:
    """What the publish changed, and for a price change with subscribers, when it reaches them."""
    lines = [f"\nVersion {version['number']}:"]
    for change in version["changes"]:
        scheduled = " [yellow](scheduled)[/yellow]" if change.get("effective_from") else ""
        lines.append(f"  - {escape(change['text'])}{scheduled}")
    return "\n".join(lines)


@click.group()
def keys() -> None:
    """Your API keys as a consumer: create (subscribe), add, list, rotate, revoke."""


@keys.command("create")
@click.option("--api", "api_id", required=True, help="The API to subscribe to (its id on the marketplace).")
@click.option("--plan", required=True, help="The plan's name.")
@click.option("--invite", metavar="TOKEN", help="For a private plan: the token of its invite link (after ?invite=).")
@click.option(
    "--checkout-session",
    metavar="ID",
    help="For a plan with a free trial: the Stripe Checkout Session where you saved a card (a first run prints it).",
)
@global_options
@click.pass_obj
def create_key(settings: Settings, api_id: str, plan: str, invite: str | None, checkout_session: str | None) -> None:
    """Subscribe to an API's plan and get an API key. The key is shown ONCE: store it now.

    A plan with a free trial needs a card first: without --checkout-session this prints
    the Stripe Checkout page to save one on, and the command to run once you have.
    """
    client = settings.control_plane()
    try:
        created = client.subscribe(api_id, plan, checkout_session, invite=invite)
    except CardRequired:
        page = client.card_checkout(api_id, plan)
        settings.output.result(
            {"status": "card required", **page},
            f"{escape(plan)} of {escape(api_id)} has a free trial and needs a card first. Save one on Stripe's"
            f" page (nothing is charged until the trial ends):\n\n  {page['url']}\n\nthen run: apid keys create"
            f" --api {escape(api_id)} --plan {escape(plan)}{f' --invite {escape(invite)}' if invite else ''}"
            f" --checkout-session {page['session_id']}",
        )
        return
    settings.output.result(
        created,
        f"Subscribed to {escape(api_id)} ({escape(plan)}). Your API key, shown only this once:\n\n"
        f"  [bold]{created['api_key']}[/bold]\n\nSend it in the x-api-key header. Key id: {created['key_id']}",
    )


@keys.command("add")
@click.option("--api", "api_id", required=True, help="The API you subscribe to (its id on the marketplace).")
@click.option("--name", required=True, help="The key's name, unique in the subscription: 1-40 of a-z 0-9 - _ space.")
@global_options
@click.pass_obj
def add_key(settings: Settings, api_id: str, name: str) -> None:
    """Add a named key (one per app or environment) to a subscription. Shown ONCE: store it now."""
    client = settings.control_plane()
    added = client.add_key(api_id, name)
    settings.output.result(added, _shown_once(added, f"Key {escape(name)!r} added to {escape(api_id)}."))


@keys.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old key keeps working: a number with s, m, h or d, up to 7d; 0 revokes it at once.",
)
@global_options
@click.pass_obj
def rotate_key(settings: Settings, key_id: str, grace: str) -> None:
    """Replace a key with a new one of the same name (shown ONCE); the old one works for the grace period.

    The old key stops when its grace period ends, give or take the API's key cache
    time (its authorizer's decisions are cached that long).
    """
    seconds = _grace_seconds(grace)
    client = settings.control_plane()
    new = client.rotate_named_key(key_id, seconds)
    ending = "was revoked" if seconds == 0 else f"keeps working for {grace}, then stops"
    settings.output.result(
        {**new, "replaced": key_id, "grace_seconds": seconds},
        _shown_once(new, f"Rotated {escape(key_id)}: the old key {ending}."),
    )


@keys.command("list")
@global_options
@click.pass_obj
def list_keys(settings: Settings) -> None:
    """Your keys: id, name, API, plan, status and last use (never the key itself).

    Last use is the UTC hour of the latest usage record for the key: records are
    hourly, and arrive some minutes after the hour.
    """
    client = settings.control_plane()
    items = client.keys()
    lines = [
        f"{k['key_id']}  {k['name']:<16} {k['api_id']:<24} {k['plan']:<12} {k['status']:<9}"
        f" last used {k['last_used'] or 'never'}"
        + (f" (until {k['expires_at']})" if k["expires_at"] and k["status"] == "expiring" else "")
        for k in items
    ]
    settings.output.result(
        {"items": items}, "\n".join(lines) or "No keys yet: `apid keys create --api ID --plan NAME`."
    )


@keys.command("revoke")
@click.argument("key_id")
@global_options
@click.pass_obj
def revoke_key(settings: Settings, key_id: str) -> None:
    """Revoke a key; it stops working within the API's key cache time.

    The subscription's other keys keep working. Revoking its last working key
    cancels the subscription (and its billing) too.
    """
    if not settings.confirm(f"Revoke key {key_id}?"):
        raise click.Abort()
    client = settings.control_plane()
    client.revoke_key(key_id)
    settings.output.result({"revoked": key_id}, f"Revoked {escape(key_id)}.")


def _shown_once(issued: IssuedKey, said: str) -> str:
    return (
        f"{said} The new key, shown only this once:\n\n  [bold]{issued['api_key']}[/bold]\n\n"
        f"Send it in the x-api-key header. Key id: {issued['key_id']}"
    )


def _grace_seconds(grace: str) -> int:
    """``--grace`` in seconds; a one-line error for anything but a number and a unit within 7 days."""
    seconds = 0 if grace.strip() == "0" else duration_seconds(grace, bare=None)
    if seconds is None:
        raise InputError(f"--grace {grace!r}: give a number and a unit (s, m, h or d), such as 24h, or 0")
    if seconds > MAX_GRACE_SECONDS:
        raise InputError(f"--grace {grace!r} is longer than the longest grace period, 7d")
    return seconds
