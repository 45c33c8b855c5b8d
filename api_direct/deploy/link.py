"""``apid aws link`` / ``unlink`` / ``status``: the account link, deployed with the creator's own credentials.

The link stack is synthesized in process (it has no assets, so it needs no
bootstrap) and deployed through the same change-set path as API stacks, with the
ExternalId passed as its NoEcho parameter.
"""

import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
from botocore.exceptions import ClientError

from api_direct.client.sign_in import SignedIn, client_for
from api_direct.constructs.account_link import RESOURCE_PREFIX, LinkNames
from api_direct.constructs.github_deploy import GITHUB_ROLE_PATH, GitHubSubject, github_provider_arn
from api_direct.deploy.aws import Aws, aws_errors
from api_direct.deploy.credentials import deploy_session
from api_direct.deploy.change_sets import TemplateSource, compact_template, create_change_set, execute_change_set
from api_direct.deploy.executor import Observer
from api_direct.deploy.stack_events import EventStream, wait_for_stack
from api_direct.deploy.stacks import Phase, describe_stack, stack_resources
from api_direct.deploy.state import LinkRecord
from api_direct.errors import AccessError, InputError, OperationFailed, StateError
from api_direct.user_stack import AccountLinkStack

LINK_STACK_NAME = f"{RESOURCE_PREFIX}-link"


@dataclass(frozen=True)
class LinkStatus:
    link: LinkRecord
    stack_status: str | None
    role_assumable: bool
    problem: str | None
    api_stacks: tuple[str, ...]


def new_external_id() -> str:
    """32 URL-safe characters: within STS's alphabet and the link stack's minimum of 16."""
    return secrets.token_urlsafe(24)


def link_template(
    trusted_account_id: str,
    github: Sequence[GitHubSubject] = (),
    github_provider: str | None = None,
    *,
    cost_explorer: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(outdir=outdir, analytics_reporting=False)
        stack = AccountLinkStack(
            app,
            "AccountLink",
            stack_name=LINK_STACK_NAME,
            trusted_account_id=trusted_account_id,
            github=github,
            github_provider_arn=github_provider,
            cost_explorer=cost_explorer,
        )
        return app.synth().get_stack_by_name(stack.stack_name).template


def github_subjects(
    existing: LinkRecord | None,
    repository: str | None,
    branch: str | None,
    environment: str | None,
    *,
    remove: bool = False,
) -> tuple[GitHubSubject, ...]:
    """Who may deploy from GitHub after this link: the recorded subjects, plus the one asked for.

    Rerunning the link for the same repository adds a branch or environment (each
    one admitted by its exact ``sub``); naming another repository replaces them, as
    a link admits one repository. ``remove`` admits none: the link stack then
    deletes the GitHub role (and the provider, if the link created it).
    """
    if remove:
        if repository or branch or environment:
            raise InputError("--no-github removes GitHub's access: it takes no --github, --branch or --environment")
        return ()
    kept = tuple(GitHubSubject.from_sub(sub) for sub in existing.github_subjects) if existing else ()
    if repository is None:
        if branch or environment:
            raise InputError("--branch and --environment go with --github OWNER/REPO")
        return kept
    if branch and environment:
        raise InputError("pass --branch or --environment, not both (a job with an environment is known by it alone)")
    try:
        asked = GitHubSubject(repository, branch=None if environment else branch or "main", environment=environment)
    except ValueError as error:
        raise InputError(f"--github: {error}") from None
    same_repository = tuple(subject for subject in kept if subject.repository == asked.repository)
    return same_repository + (() if asked in same_repository else (asked,))


def existing_github_provider(creator: Aws, account_id: str, partition: str) -> str | None:
    """GitHub's OIDC provider in the account when something other than the link stack created it.

    An account holds one provider per URL, so the link uses one it finds rather
    than fail creating another. One the link stack created stays the stack's:
    treating it as foreign would make the next update delete it.
    """
    arn = github_provider_arn(partition, account_id)
    with aws_errors("looking up GitHub's OIDC provider"):
        providers = creator.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    if arn not in {provider["Arn"] for provider in providers}:
        return None
    cloudformation = creator.client("cloudformation")
    stack = describe_stack(cloudformation, LINK_STACK_NAME)
    if stack is None or stack.phase is Phase.ABSENT:
        return arn
    owned = {physical for _, physical in stack_resources(cloudformation, LINK_STACK_NAME).values()}
    return None if arn in owned else arn


def link_account(
    creator: Aws,
    observer: Observer,
    *,
    trusted_account_id: str | None = None,
    external_id: str | None = None,
    github: Sequence[GitHubSubject] = (),
    cost_explorer: bool = False,
) -> LinkRecord:
    """Deploy (or update) the link stack in the creator's account and return the record to keep.

    With no control plane, the trusted account is the creator's own: their own
    credentials assume the deploy role, still only with the ExternalId. With
    ``github`` subjects, that repository's workflows may deploy too; with
    ``cost_explorer``, the deploy role may read the account's costs.
    """
    account_id, partition = creator.identity()
    trusted = trusted_account_id or account_id
    external_id = external_id or new_external_id()
    provider = existing_github_provider(creator, account_id, partition) if github else None
    cloudformation = creator.client("cloudformation")
    existing = describe_stack(cloudformation, LINK_STACK_NAME)
    if existing is not None and existing.phase is Phase.BUSY:
        raise StateError(f"{LINK_STACK_NAME} is being changed ({existing.status}); wait and rerun")
    if existing is not None and existing.phase is Phase.FAILED_CREATE:
        _delete_link_stack(creator, observer)
        existing = None
    creates = existing is None or existing.phase is Phase.ABSENT
    change_set = create_change_set(
        cloudformation,
        stack_name=LINK_STACK_NAME,
        template=TemplateSource(
            body=compact_template(link_template(trusted, github, provider, cost_explorer=cost_explorer))
        ),
        creates_stack=creates,
        role_arn=None,
        parameters={"ExternalId": external_id},
        tags={"api-direct:managed": "true"},
    )
    observer.change_set_ready(change_set)
    if not change_set.empty:
        stream = EventStream(cloudformation, LINK_STACK_NAME)
        stream.prime()
        execute_change_set(cloudformation, change_set)
        outcome = wait_for_stack(cloudformation, stream, LINK_STACK_NAME, observer.stack_event)
        if outcome.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            failure = outcome.first_failure
            cause = f"{failure.logical_id}: {failure.reason}" if failure else "see the CloudFormation console"
            raise OperationFailed(f"linking failed: {LINK_STACK_NAME} ended in {outcome.status} ({cause})")
    record = replace(
        link_record(account_id, partition, creator.region, trusted_account_id=trusted, stack_name=LINK_STACK_NAME),
        cost_explorer=cost_explorer,
    )
    if not github:
        return replace(record, external_id=external_id)
    return replace(
        record,
        external_id=external_id,
        github_repository=github[0].repository,
        github_subjects=tuple(subject.sub for subject in github),
        github_role_arn=github_role_arn(partition, account_id, creator.region),
    )


def link_record(
    account_id: str, partition: str, region: str, *, trusted_account_id: str, stack_name: str
) -> LinkRecord:
    """What a link in this account and region holds, by name: its names are a contract (LinkNames)
    the API stack relies on too, so a CI run rebuilds the same record from the account and region."""
    names = LinkNames(account=account_id, region=region)
    iam = f"arn:{partition}:iam::{account_id}"
    return LinkRecord(
        account_id=account_id,
        region=region,
        external_id=None,
        trusted_account_id=trusted_account_id,
        stack_name=stack_name,
        deploy_role_arn=f"{iam}:role/{names.deploy_role}",
        execution_role_arn=f"{iam}:role/{names.execution_role}",
        asset_bucket=names.asset_bucket,
        permissions_boundary_arn=f"{iam}:policy/{names.permissions_boundary}",
        linked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def github_role_arn(partition: str, account_id: str, region: str) -> str:
    role = LinkNames(account=account_id, region=region).github_role
    return f"arn:{partition}:iam::{account_id}:role{GITHUB_ROLE_PATH}{role}"


def link_through_control_plane(
    creator: Aws,
    observer: Observer,
    control_plane: SignedIn,
    github: Sequence[GitHubSubject] = (),
    *,
    cost_explorer: bool = False,
) -> LinkRecord:
    """Register with the control plane, deploy the link it describes, then confirm it.

    The control plane generates the ExternalId (unique, never reused) and is the
    account the deploy role trusts; it keeps the ExternalId, so the record kept in
    the project does not.
    """
    account_id = creator.account_id()
    client = client_for(control_plane, endpoint_url=creator.endpoint_url)
    registration = client.register_account(account_id, creator.region)
    record = link_account(
        creator,
        observer,
        trusted_account_id=registration["trusted_account_id"],
        external_id=registration["external_id"],
        github=github,
        cost_explorer=cost_explorer,
    )
    client.confirm_account(
        account_id,
        creator.region,
        deploy_role_arn=record.deploy_role_arn,
        execution_role_arn=record.execution_role_arn,
        asset_bucket=record.asset_bucket,
    )
    return replace(
        record,
        external_id=None,
        control_plane_url=control_plane.control_plane_url,
        usage_bus_arn=control_plane.event_bus_arn,
    )


def link_status(creator: Aws, link: LinkRecord) -> LinkStatus:
    """Is the link stack there, and can its deploy role still be assumed (locally or via the control plane)?"""
    cloudformation = creator.client("cloudformation")
    stack = describe_stack(cloudformation, link.stack_name)
    problem = None
    try:
        deploy_session(creator, link, "checking the link")
        assumable = True
    except (AccessError, StateError) as error:
        assumable, problem = False, str(error)
    return LinkStatus(link, stack.status if stack else None, assumable, problem, api_stacks(creator))


def api_stacks(creator: Aws) -> tuple[str, ...]:
    """API-Direct API stacks in this account and region (the link stack excluded)."""
    live = [
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "ROLLBACK_COMPLETE",
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
        "ROLLBACK_FAILED",
    ]
    names: list[str] = []
    with aws_errors("listing stacks"):
        for page in creator.client("cloudformation").get_paginator("list_stacks").paginate(StackStatusFilter=live):
            names += [s["StackName"] for s in page["StackSummaries"]]
    return tuple(sorted(n for n in set(names) if n.startswith(f"{RESOURCE_PREFIX}-") and n != LINK_STACK_NAME))


def unlink_account(creator: Aws, link: LinkRecord, observer: Observer) -> None:
    """Empty the asset bucket and delete the link stack; refuse while API stacks remain.

    The execution role is what CloudFormation deletes API stacks with: removing it
    first would leave those stacks undeletable.
    """
    remaining = api_stacks(creator)
    if remaining:
        raise StateError(
            f"API stacks still deployed with this link: {', '.join(remaining)}; run `apid destroy` for each first"
        )
    empty_bucket(creator.client("s3"), link.asset_bucket, link.account_id)
    _delete_link_stack(creator, observer)


def empty_bucket(s3: Any, bucket: str, account_id: str) -> int:
    deleted = 0
    with aws_errors(f"emptying s3://{bucket}"):
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, ExpectedBucketOwner=account_id):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(
                        Bucket=bucket, Delete={"Objects": keys, "Quiet": True}, ExpectedBucketOwner=account_id
                    )
                    deleted += len(keys)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
    return deleted


def _delete_link_stack(creator: Aws, observer: Observer) -> None:
    """Delete apid-link; already gone (a rerun after the control plane could not be told) is done."""
    cloudformation = creator.client("cloudformation")
    if describe_stack(cloudformation, LINK_STACK_NAME) is None:
        return
    stream = EventStream(cloudformation, LINK_STACK_NAME)
    stream.prime()
    with aws_errors(f"deleting {LINK_STACK_NAME}"):
        cloudformation.delete_stack(StackName=LINK_STACK_NAME)
    outcome = wait_for_stack(cloudformation, stream, LINK_STACK_NAME, observer.stack_event)
    if outcome.status != "DELETE_COMPLETE":
        raise OperationFailed(f"unlinking failed: {LINK_STACK_NAME} ended in {outcome.status}")
