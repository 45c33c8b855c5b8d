"""``apid invite create | list | revoke``: invite links to your API's private plans (creators)."""

from typing import Any

import click
from rich.markup import escape

from api_direct.cli.settings import Settings, global_options
from api_direct.project import load_project

API_OPTION = click.option(
    "--api", "api_id", metavar="ID", help="The API (default: the name in the project's apid.toml)."
)


def listed_api(settings: Settings, api_id: str | None) -> str:
    """``--api``, or the API of the project the command runs in (one line if there is none)."""
    return api_id or load_project(settings.project_dir).config.api.name


@click.group()
def invite() -> None:
    """Invite links to your API's private plans (`private = true` in apid.toml): only a link opens one."""


@invite.command("create")
@click.option("--plan", required=True, help="The private plan the link opens.")
@click.option("--uses", type=click.IntRange(1, 100_000), help="How many subscriptions it may open (default: any).")
@click.option("--days", type=click.IntRange(1, 365), help="Days it stays valid (default: until revoked).")
@API_OPTION
@global_options
@click.pass_obj
def create(settings: Settings, plan: str, uses: int | None, days: int | None, api_id: str | None) -> None:
    """Make an invite link. It is shown ONCE: share it now (only its hash is kept)."""
    made = settings.control_plane().create_invite(listed_api(settings, api_id), plan, max_uses=uses, expires_days=days)
    limits = [
        f"{uses} use(s)" if uses else "any number of uses",
        f"until {made['expires_at'][:10]}" if days else "no expiry",
    ]
    settings.output.result(
        made,
        f"Invite {made['id']} to plan [bold]{escape(plan)}[/bold] ({', '.join(limits)}). The link, shown only this"
        f" once:\n\n  {escape(made['url'])}\n\nRevoke it with `apid invite revoke {made['id']}`.",
    )


@invite.command("list")
@API_OPTION
@global_options
@click.pass_obj
def list_invites(settings: Settings, api_id: str | None) -> None:
    """Your API's invite links, newest first: plan, uses, expiry (never the links themselves)."""
    found = settings.control_plane().invites(listed_api(settings, api_id))
    settings.output.result({"items": found}, "\n".join(_line(item) for item in found) or "No invites yet.")


@invite.command("revoke")
@click.argument("invite_id")
@API_OPTION
@global_options
@click.pass_obj
def revoke(settings: Settings, invite_id: str, api_id: str | None) -> None:
    """Revoke an invite link: it opens nothing more (subscriptions it opened stay)."""
    settings.control_plane().revoke_invite(listed_api(settings, api_id), invite_id)
    settings.output.result({"revoked": invite_id}, f"Revoked {escape(invite_id)}.")


def _line(item: dict[str, Any]) -> str:
    uses = f"{item['uses']}/{item['max_uses']}" if item["max_uses"] else f"{item['uses']}/any"
    expires = (item["expires_at"] or "never")[:10]
    state = "usable" if item["usable"] else "spent"
    return f"{item['id']}  {item['plan']:<16} uses {uses:<10} expires {expires:<10} {state}"
