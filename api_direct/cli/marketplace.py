"""``apid login | logout | publish | keys``: the control plane's marketplace from the terminal."""

import click
from rich.markup import escape

from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.client import sign_in
from api_direct.client.control_plane import IssuedKey
from api_direct.client.publishing import publish as publish_listing
from api_direct.deploy import operations
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
@stage_option
@global_options
@click.pass_obj
def publish(settings: Settings) -> None:
    """List the deployed API on the marketplace with the plans in apid.toml (creators).

    With --stage, that stage is what consumers call (its URL) and where their keys go;
    a stage that is not deployed is refused.

    Sends the name, description, category, tags and plans from apid.toml, the
    deployed base URL, and the app's OpenAPI document (read by importing the app,
    so its requirements must be installed locally). Publishing again updates it.
    """
    signed_in = sign_in.require_session()
    with ProgressDisplay(settings.output, "publishing") as progress:
        session = operations.open_session(settings.project_dir, settings.aws_target(), progress, stage=settings.stage)
        _, stack = operations.deployed_stack(session, "reading status", needed_for="deploy before publishing")
        published = publish_listing(
            sign_in.client_for(signed_in, endpoint_url=settings.endpoint_url),
            session.project,
            account_id=session.link.account_id,
            region=session.link.region,
            outputs=stack.outputs,
        )
    settings.output.result(
        published.answer,
        f"Published [bold]{escape(session.project.config.api.name)}[/bold] with"
        f" {len(published.listing['plans'])} plan(s) on {escape(signed_in.control_plane_url)}.",
    )


@click.group()
def keys() -> None:
    """Your API keys as a consumer: create (subscribe), add, list, rotate, revoke."""


@keys.command("create")
@click.option("--api", "api_id", required=True, help="The API to subscribe to (its id on the marketplace).")
@click.option("--plan", required=True, help="The plan's name.")
@global_options
@click.pass_obj
def create_key(settings: Settings, api_id: str, plan: str) -> None:
    """Subscribe to an API's plan and get an API key. The key is shown ONCE: store it now."""
    client = settings.control_plane()
    created = client.subscribe(api_id, plan)
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
