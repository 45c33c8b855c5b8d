"""``apid ci github``: deploy from CI with no stored keys."""

import click

from api_direct.cli.settings import Settings, global_options, stage_option
from api_direct.deploy.github_workflow import github_workflow, write_workflow
from api_direct.deploy.state import load_state
from api_direct.project import load_project


@click.group()
def ci() -> None:
    """Deploy from CI: write a workflow that deploys with short-lived credentials."""


@ci.command()
@click.option("--branch", help="Deploy on pushes to this branch. Default: the branch the link admits (main).")
@click.option(
    "--environment",
    help="Run the job in this GitHub environment (its protection rules apply); the link must admit it.",
)
@click.option("--force", is_flag=True, help="Replace an existing .github/workflows/apid-deploy.yml.")
@stage_option
@global_options
@click.pass_obj
def github(settings: Settings, branch: str | None, environment: str | None, force: bool) -> None:
    """Write .github/workflows/apid-deploy.yml: deploy this stage on every push.

    \b
    The job gets an OIDC token from GitHub, trades it for the link's GitHub role
    (aws-actions/configure-aws-credentials) and runs `apid deploy --yes --json`,
    which assumes the deploy role from it. No AWS keys are stored in GitHub. The
    link's account, region and control plane facts go in as APID_LINK_* variables,
    since .apid/state.json (it holds the ExternalId) is never committed.

    \b
    Needs a link made with `apid aws link --github OWNER/REPO` that admits the
    branch (or environment). The file goes in the git repository's root, with the
    project's folder as the working directory when apid.toml is not at the root.
    """
    project = load_project(settings.project_dir, settings.stage)
    link = load_state(project.root).require_link()
    workflow = github_workflow(project, link, branch=branch, environment=environment)
    write_workflow(workflow, force=force)
    settings.output.result(
        {
            "workflow": str(workflow.path),
            "stack": project.stack_name,
            "branch": workflow.branch,
            "environment": workflow.subject.environment,
            "sub": workflow.subject.sub,
            "role_arn": workflow.role_arn,
        },
        f"Wrote {workflow.path}: pushes to {workflow.branch} deploy {project.stack_name}"
        f" as {workflow.role_arn} (token sub {workflow.subject.sub}).\n"
        "Next: commit it and push to that branch.",
    )
