"""``apid costs --refresh-prices``: today's AWS prices for the linked region, and what changed."""

from typing import Any

from rich.markup import escape

from api_direct.aws_costs.refresh import Refresh, describe
from api_direct.cli.settings import Settings
from api_direct.deploy.aws import creator_aws
from api_direct.deploy.credentials import deploy_session
from api_direct.deploy.price_list import refresh_prices
from api_direct.deploy.state import load_state


def run(settings: Settings) -> None:
    """Refresh the linked region's prices (``--region``'s, if given) with the link's deploy role; unlinked, with
    your own credentials. Each line is shown as it is asked; the result is every price that changed."""
    link = load_state(settings.project_dir).link
    creator = creator_aws(settings.aws_target(default_region=link.region if link else None))
    aws = deploy_session(creator, link, "reading costs") if link else creator
    refreshed = refresh_prices(aws, [creator.region], lambda line: settings.output.note(f"[dim]{escape(line)}[/dim]"))
    settings.output.result({"prices": [as_json(result) for result in refreshed]}, render(refreshed))


def as_json(result: Refresh) -> dict[str, Any]:
    return {
        "region": result.table.region,
        "retrieved": result.table.retrieved.isoformat(),
        "path": str(result.path),
        "changes": [
            {
                "key": change.key,
                "old": change.old.model_dump(mode="json") if change.old else None,
                "new": change.new.model_dump(mode="json"),
            }
            for change in result.changes
        ],
        "kept": dict(result.kept),
    }


def render(refreshed: list[Refresh]) -> str:
    lines: list[str] = []
    for result in refreshed:
        table = result.table
        lines.append(f"Prices for {table.region} from the AWS Price List API, {table.retrieved} (in {result.path}):")
        lines += [f"  {change.key}: {describe(change.old)} -> {describe(change.new)}" for change in result.changes]
        if not result.changes:
            lines.append("  no price changed")
        if result.kept:
            lines.append(f"  kept, the API did not answer: {', '.join(result.kept)} (the file's notes say why)")
    return "\n".join(escape(line) for line in lines)
