"""``apid aws link | unlink | status``: connect this project to an AWS account, once."""

import click

from api_direct.cli.progress import ProgressDisplay
from api_direct.cli.settings import Settings, global_options
from api_direct.client import sign_in
from api_direct.deploy.aws import creator_aws
from api_direct.deploy.link import (
    LINK_STACK_NAME,
    github_subjects,
    link_account,
    link_status,
    link_through_control_plane,
    unlink_account,
)
from api_direct.deploy.state import load_state, save_state
from api_direct.project import load_project


@click.group()
def aws() -> None:
    """Link this project to your AWS account (once), inspect or remove the link."""


@aws.command()
@click.option(
    "--github",
    "repository",
    metavar="OWNER/REPO",
    help="Also let this GitHub repository's Actions deploy, with no stored keys (see `apid ci github`).",
)
@click.option("--branch", help="With --github: the branch whose pushes may deploy. Default: main.")
@click.option("--environment", help="With --github: admit jobs of this GitHub environment instead of a branch's.")
@click.option("--no-github", is_flag=True, help="Remove GitHub's access: delete the GitHub role from the link.")
@click.option(
    "--cost-explorer/--no-cost-explorer",
    default=None,
    help="Let the deploy role read the account's costs from Cost Explorer (ce:GetCostAndUsage), which"
    " `apid costs` shows beside its estimate; each request costs $0.01. Kept as it was when not given.",
)
@global_options
@click.pass_obj
def link(
    settings: Settings,
    repository: str | None,
    branch: str | None,
    environment: str | None,
    no_github: bool,
    cost_explorer: bool | None,
) -> None:
    """Deploy the account link into your AWS account with your own credentials.

    \b
    Signed in to a control plane (`apid login`), the account is registered with it:
    the control plane issues the ExternalId, is the only account the deploy role
    trusts, and brokers short-lived deploy credentials to you. Otherwise your own
    account is trusted and the ExternalId is generated here.

    \b
    Creates, in the region you choose (stack apid-link):
      - a deploy role that can only be assumed with the ExternalId, for at most 1 hour;
      - a CloudFormation execution role capped by a permissions boundary that
        confines API-Direct to apid-* resources and blocks IAM escalation;
      - a private, encrypted, TLS-only asset bucket.
    Safe to rerun: it updates the link and keeps the ExternalId.

    \b
    With --github OWNER/REPO it also adds GitHub's OIDC provider (or uses the
    account's) and a role apid-github-<region> that only that repository's
    workflows can assume, for pushes to --branch (main) or jobs of --environment,
    and only to assume the deploy role. Rerun with another --branch or
    --environment to admit it too; the GitHub access is kept when you rerun
    without --github, and removed with --no-github.

    \b
    With --cost-explorer the deploy role may also call ce:GetCostAndUsage (Cost
    Explorer has no resource-level permissions, so on Resource *), and `apid costs`
    shows the month's bill of resources tagged api-direct:managed=true beside its
    estimate. Each request costs $0.01, and the tag must first be activated as a
    cost allocation tag in the payer account's Billing console. --no-cost-explorer
    takes the permission away; a rerun without either keeps it as it was.
    """
    project = load_project(settings.project_dir)
    state = load_state(project.root)
    creator = creator_aws(settings.aws_target())
    control_plane = sign_in.load_session()
    existing = state.link if state.link and state.link.region == creator.region else None
    github = github_subjects(existing, repository, branch, environment, remove=no_github)
    costs = bool(existing and existing.cost_explorer) if cost_explorer is None else cost_explorer
    with ProgressDisplay(settings.output, "linking") as progress:
        if control_plane is not None:
            record = link_through_control_plane(creator, progress, control_plane, github, cost_explorer=costs)
        else:
            record = link_account(
                creator,
                progress,
                external_id=existing.external_id if existing else None,
                github=github,
                cost_explorer=costs,
            )
    save_state(project.root, state.with_link(record))
    registered = (
        f"  registered with: {record.control_plane_url} (it keeps the ExternalId)\n" if record.control_plane_url else ""
    )
    if record.github_role_arn:
        registered += f"  GitHub role:     {record.github_role_arn}\n" + "".join(
            f"    may deploy:    {sub}\n" for sub in record.github_subjects
        )
    if record.cost_explorer:
        registered += "  Cost Explorer:   readable by the deploy role (`apid costs`; $0.01 a request)\n"
    settings.output.result(
        {
            "account_id": record.account_id,
            "region": record.region,
            "stack": record.stack_name,
            "deploy_role_arn": record.deploy_role_arn,
            "execution_role_arn": record.execution_role_arn,
            "asset_bucket": record.asset_bucket,
            "trusted_account_id": record.trusted_account_id,
            "control_plane": record.control_plane_url,
            "github_role_arn": record.github_role_arn,
            "github_subjects": list(record.github_subjects),
            "cost_explorer": record.cost_explorer,
        },
        f"Linked account [bold]{record.account_id}[/bold] in {record.region}.\n"
        f"  deploy role:     {record.deploy_role_arn}\n"
        f"  execution role:  {record.execution_role_arn}\n"
        f"  asset bucket:    {record.asset_bucket}\n"
        f"{registered}"
        "Next: `apid plan` to see what a deploy would create, then `apid deploy`.",
    )


@aws.command()
@global_options
@click.pass_obj
def status(settings: Settings) -> None:
    """Show the link and check that the deploy role still accepts this project's ExternalId."""
    project = load_project(settings.project_dir)
    state = load_state(project.root)
    link_record = state.require_link()
    creator = creator_aws(settings.aws_target(default_region=link_record.region))
    report = link_status(creator, link_record)
    healthy = report.stack_status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and report.role_assumable
    settings.output.result(
        {
            "account_id": link_record.account_id,
            "region": link_record.region,
            "stack_status": report.stack_status,
            "role_assumable": report.role_assumable,
            "problem": report.problem,
            "api_stacks": list(report.api_stacks),
            "healthy": healthy,
        },
        f"Account {link_record.account_id} in {link_record.region}: {LINK_STACK_NAME} "
        f"{report.stack_status or 'MISSING'}; deploy role "
        + ("assumable" if report.role_assumable else f"[red]NOT assumable[/red] ({report.problem})")
        + f"\nAPI stacks: {', '.join(report.api_stacks) or 'none'}",
    )
    if not healthy:
        raise click.exceptions.Exit(5)


@aws.command()
@global_options
@click.pass_obj
def unlink(settings: Settings) -> None:
    """Remove the account link: empty the asset bucket and delete apid-link.

    Refuses while API stacks deployed through the link remain (`apid destroy` them first).
    """
    project = load_project(settings.project_dir)
    state = load_state(project.root)
    link_record = state.require_link()
    creator = creator_aws(settings.aws_target(default_region=link_record.region))
    # Signed in before anything is deleted: the control plane must hear of it too, or it keeps the account admitted.
    control_plane = sign_in.require_session() if link_record.control_plane_url else None
    if not settings.confirm(
        f"Remove the API-Direct link from account {link_record.account_id} ({link_record.region})?"
    ):
        raise click.Abort()
    with ProgressDisplay(settings.output, "unlinking") as progress:
        unlink_account(creator, link_record, progress)
        if control_plane is not None:
            client = sign_in.client_for(control_plane, endpoint_url=settings.endpoint_url)
            client.unlink_account(link_record.account_id, link_record.region)
    save_state(project.root, state.with_link(None))
    settings.output.result(
        {"unlinked": link_record.account_id, "region": link_record.region},
        f"Unlinked account {link_record.account_id} ({link_record.region}).",
    )
