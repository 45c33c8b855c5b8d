"""CloudFormation change sets: what a deploy would change, before (or instead of) changing it."""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from api_direct.deploy.aws import BUSY_ADVICE, IN_PROGRESS, aws_errors
from api_direct.errors import OperationFailed, StateError

#: Every change set API-Direct creates starts with this, so leftovers from an
#: interrupted run can be recognised and removed without touching anyone else's.
CHANGE_SET_PREFIX = "apid-"
#: Above this, CloudFormation wants the template in S3 instead of inline.
MAX_INLINE_TEMPLATE_BYTES = 51_200
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "submitted information didn't contain")


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove | Import | Dynamic
    replacement: str | None  # True | False | Conditional, for Modify

    @property
    def replaces(self) -> bool:
        return self.replacement == "True"


@dataclass(frozen=True)
class ChangeSet:
    """A created change set, addressed by its ARN (unambiguous, unlike its name)."""

    stack_name: str
    arn: str
    creates_stack: bool
    changes: tuple[ResourceChange, ...]

    @property
    def empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class TemplateSource:
    """The template as CloudFormation should receive it: inline, or by URL when large."""

    body: str | None = None
    url: str | None = None

    def arguments(self) -> dict[str, str]:
        return {"TemplateBody": self.body} if self.body is not None else {"TemplateURL": self.url or ""}


def compact_template(template: dict[str, Any]) -> str:
    return json.dumps(template, separators=(",", ":"), sort_keys=True)


def remove_stale_change_sets(cloudformation: Any, stack_name: str) -> int:
    """Delete change sets an interrupted plan or deploy left behind; returns how many."""
    with aws_errors(f"listing change sets of {stack_name}"):
        try:
            summaries = cloudformation.list_change_sets(StackName=stack_name).get("Summaries", [])
        except ClientError as error:
            if "does not exist" in str(error):
                return 0
            raise
        stale = [
            s
            for s in summaries
            if s.get("StackName", stack_name) == stack_name
            and s["ChangeSetName"].startswith(CHANGE_SET_PREFIX)
            and s.get("ExecutionStatus") in ("AVAILABLE", "UNAVAILABLE", "OBSOLETE", None)
            and s.get("Status") not in ("CREATE_IN_PROGRESS", "CREATE_PENDING", "DELETE_IN_PROGRESS")
        ]
        for summary in stale:
            cloudformation.delete_change_set(ChangeSetName=summary["ChangeSetId"])
    return len(stale)


def create_change_set(
    cloudformation: Any,
    *,
    stack_name: str,
    template: TemplateSource,
    creates_stack: bool,
    role_arn: str | None,
    parameters: dict[str, str] | None = None,
    capabilities: Sequence[str] = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"),
    tags: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ChangeSet:
    """Create a change set and wait until CloudFormation has worked out its changes.

    "No changes" is a normal answer (an empty :class:`ChangeSet`), not an error;
    the empty change set is deleted here.
    """
    name = f"{CHANGE_SET_PREFIX}{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    arguments: dict[str, Any] = {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": "CREATE" if creates_stack else "UPDATE",
        "Capabilities": list(capabilities),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        **template.arguments(),
    }
    if role_arn:
        arguments["RoleARN"] = role_arn
    with aws_errors(f"creating a change set for {stack_name}"):
        arn = cloudformation.create_change_set(**arguments)["Id"]
        description = _wait_until_created(cloudformation, arn, sleep)
    if description["Status"] == "FAILED":
        reason = description.get("StatusReason", "")
        if any(marker in reason for marker in _NO_CHANGES):
            delete_change_set(cloudformation, arn)
            return ChangeSet(stack_name=stack_name, arn=arn, creates_stack=creates_stack, changes=())
        if IN_PROGRESS.search(reason):  # the stack became busy after we looked: another deploy started
            raise StateError(f"CloudFormation rejected the change set for {stack_name}: {reason}; {BUSY_ADVICE}")
        raise OperationFailed(f"CloudFormation rejected the change set for {stack_name}: {reason}")
    with aws_errors(f"reading the change set for {stack_name}"):
        changes = _changes(cloudformation, arn)
    return ChangeSet(stack_name=stack_name, arn=arn, creates_stack=creates_stack, changes=changes)


def execute_change_set(cloudformation: Any, change_set: ChangeSet) -> None:
    with aws_errors(f"executing the change set for {change_set.stack_name}"):
        cloudformation.execute_change_set(ChangeSetName=change_set.arn)


def delete_change_set(cloudformation: Any, arn: str) -> None:
    with aws_errors("deleting a change set"):
        cloudformation.delete_change_set(ChangeSetName=arn)


def _wait_until_created(cloudformation: Any, arn: str, sleep: Callable[[float], None]) -> dict[str, Any]:
    delay = 0.5
    while True:
        description = cloudformation.describe_change_set(ChangeSetName=arn)
        if description["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return description
        sleep(delay)
        delay = min(delay * 2, 5.0)


def _changes(cloudformation: Any, arn: str) -> tuple[ResourceChange, ...]:
    changes: list[ResourceChange] = []
    token: str | None = None
    while True:
        page = cloudformation.describe_change_set(ChangeSetName=arn, **({"NextToken": token} if token else {}))
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            changes.append(
                ResourceChange(
                    logical_id=resource.get("LogicalResourceId", ""),
                    resource_type=resource.get("ResourceType", ""),
                    action=resource.get("Action", ""),
                    replacement=resource.get("Replacement"),
                )
            )
        token = page.get("NextToken")
        if not token:
            return tuple(changes)
