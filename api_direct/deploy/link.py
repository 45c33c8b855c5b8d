"""``apid aws link`` / ``unlink`` / ``status``: the account link, deployed with the creator's own credentials.

The link stack is synthesized in process (it has no assets, so it needs no
bootstrap) and deployed through the same change-set path as API stacks, with the
ExternalId passed as its NoEcho parameter.
"""

import secrets
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aws_cdk as cdk
from botocore.exceptions import ClientError

from api_direct.client.sign_in import SignedIn, client_for
from api_direct.constructs.account_link import RESOURCE_PREFIX, LinkNames
from api_direct.deploy.aws import Aws, aws_errors
from api_direct.deploy.credentials import deploy_session
from api_direct.deploy.change_sets import TemplateSource, compact_template, create_change_set, execute_change_set
from api_direct.deploy.executor import Observer
from api_direct.deploy.stack_events import EventStream, wait_for_stack
from api_direct.deploy.stacks import Phase, describe_stack
from api_direct.deploy.state import LinkRecord
from api_direct.errors import AccessError, OperationFailed, StateError
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


def link_template(trusted_account_id: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(outdir=outdir, analytics_reporting=False)
        stack = AccountLinkStack(app, "AccountLink", stack_name=LINK_STACK_NAME, trusted_account_id=trusted_account_id)
        return app.synth().get_stack_by_name(stack.stack_name).template


def link_account(
    creator: Aws,
    observer: Observer,
    *,
    trusted_account_id: str | None = None,
    external_id: str | None = None,
) -> LinkRecord:
    """Deploy (or update) the link stack in the creator's account and return the record to keep.

    With no control plane, the trusted account is the creator's own: their own
    credentials assume the deploy role, still only with the ExternalId.
    """
    account_id, partition = creator.identity()
    trusted = trusted_account_id or account_id
    external_id = external_id or new_external_id()
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
        template=TemplateSource(body=compact_template(link_template(trusted))),
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
    # The link's names are a contract (LinkNames): the API stack relies on them too.
    names = LinkNames(account=account_id, region=creator.region)
    iam = f"arn:{partition}:iam::{account_id}"
    return LinkRecord(
        account_id=account_id,
        region=creator.region,
        external_id=external_id,
        trusted_account_id=trusted,
        stack_name=LINK_STACK_NAME,
        deploy_role_arn=f"{iam}:role/{names.deploy_role}",
        execution_role_arn=f"{iam}:role/{names.execution_role}",
        asset_bucket=names.asset_bucket,
        permissions_boundary_arn=f"{iam}:policy/{names.permissions_boundary}",
        linked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def link_through_control_plane(creator: Aws, observer: Observer, control_plane: SignedIn) -> LinkRecord:
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
