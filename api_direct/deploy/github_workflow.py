"""``apid ci github``: a GitHub Actions workflow that deploys a stage on push, with no stored AWS keys.

The job asks GitHub for an OIDC token (``id-token: write``), trades it for the
link's GitHub role with ``aws-actions/configure-aws-credentials``, and runs
``apid deploy``, which assumes the deploy role from that role. The link's facts
travel as ``APID_LINK_*`` variables (:mod:`.ci_link`): the state file with the
ExternalId stays out of the repository. The file is written only for a branch or
environment the link admits, since a job the role's trust refuses would only fail
at its first AWS call.
"""

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from api_direct import __version__
from api_direct.constructs.github_deploy import GitHubSubject
from api_direct.deploy.ci_link import ci_environment
from api_direct.deploy.state import LinkRecord
from api_direct.errors import InputError, StateError
from api_direct.project import Project

WORKFLOW_FILE = Path(".github") / "workflows" / "apid-deploy.yml"
#: Major versions of the actions, as GitHub's and AWS's own examples pin them.
CHECKOUT = "actions/checkout@v4"
SETUP_PYTHON = "actions/setup-python@v5"
CONFIGURE_AWS = "aws-actions/configure-aws-credentials@v4"


@dataclass(frozen=True)
class Workflow:
    path: Path
    subject: GitHubSubject
    branch: str
    role_arn: str
    text: str


def git_root(start: Path) -> Path:
    """The repository the project is in: the nearest folder up holding ``.git`` (a folder, or a worktree's file)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    raise StateError(f"{start} is not in a git repository: `git init` (and push it to GitHub) first")


def github_workflow(project: Project, link: LinkRecord, *, branch: str | None, environment: str | None) -> Workflow:
    """The workflow deploying ``project``'s stage on pushes to ``branch``, in ``environment`` if named.

    With neither, the first branch or environment the link admits is used.
    """
    if not (link.github_repository and link.github_role_arn):
        raise StateError(
            "this project's link admits no GitHub repository: run `apid aws link --github OWNER/REPO` first"
        )
    try:
        if branch is None and environment is None:
            subject = GitHubSubject.from_sub(link.github_subjects[0])
        else:
            subject = GitHubSubject(
                link.github_repository,
                branch=None if environment else branch,
                environment=environment,
            )
        push_branch = GitHubSubject(link.github_repository, branch=branch or subject.branch or "main")
    except ValueError as error:
        raise InputError(str(error)) from None
    if subject.sub not in link.github_subjects:
        flag = f"--environment {environment}" if subject.environment else f"--branch {subject.branch}"
        raise StateError(
            f"the link does not admit {subject.sub} (it admits {', '.join(link.github_subjects)}): run"
            f" `apid aws link --github {link.github_repository} {flag}` first"
        )
    root = git_root(project.root)
    return Workflow(
        path=root / WORKFLOW_FILE,
        subject=subject,
        branch=str(push_branch.branch),
        role_arn=link.github_role_arn,
        text=_render(project, link, subject, str(push_branch.branch), project.root.relative_to(root).as_posix()),
    )


def write_workflow(workflow: Workflow, *, force: bool) -> None:
    if workflow.path.exists() and not force:
        raise InputError(f"{workflow.path} exists: pass --force to replace it")
    workflow.path.parent.mkdir(parents=True, exist_ok=True)
    workflow.path.write_text(workflow.text, encoding="utf-8")


def _render(project: Project, link: LinkRecord, subject: GitHubSubject, branch: str, folder: str) -> str:
    """The workflow as YAML; every scalar a JSON string, which YAML reads as the same string."""

    def q(value: str) -> str:
        return json.dumps(value)

    lines = [
        f"# Written by `apid ci github` (api-direct {__version__}): deploys {project.stack_name} on pushes to {branch}.",
        "# GitHub's OIDC token is traded for the link's GitHub role; no AWS keys are stored.",
        f"name: {q(f'apid deploy {project.stack_name}')}",
        "on:",
        "  push:",
        f"    branches: [{q(branch)}]",
        "permissions:",
        "  id-token: write",
        "  contents: read",
        "concurrency:",
        f"  group: {q(f'apid-deploy-{project.stack_name}')}",
        "  cancel-in-progress: false",
        "jobs:",
        "  deploy:",
        "    runs-on: ubuntu-latest",
    ]
    if subject.environment:
        lines.append(f"    environment: {q(subject.environment)}")
    if folder != ".":
        lines += ["    defaults:", "      run:", f"        working-directory: {q(folder)}"]
    lines.append("    env:")
    lines += [f"      {name}: {q(value)}" for name, value in ci_environment(link).items()]
    install = f"pip install -r {shlex.quote(project.runtime.requirements)} api-direct=={__version__}"
    lines += [
        "    steps:",
        f"      - uses: {CHECKOUT}",
        f"      - uses: {SETUP_PYTHON}",
        "        with:",
        f"          python-version: {q(project.runtime.python)}",
        f"      - run: {q(install)}",
        f"      - uses: {CONFIGURE_AWS}",
        "        with:",
        f"          role-to-assume: {q(link.github_role_arn or '')}",
        f"          aws-region: {q(link.region)}",
        f"      - run: {q(f'apid deploy{project.stage_option} --yes --json')}",
    ]
    return "\n".join(lines) + "\n"
