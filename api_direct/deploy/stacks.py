"""What state a CloudFormation stack is in, read the way the deploy engine decides on it."""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from api_direct.deploy.aws import aws_errors


class Phase(Enum):
    """The few situations the engine treats differently, from CloudFormation's ~25 statuses."""

    ABSENT = "absent"  # no stack, or only an unexecuted CREATE change set (REVIEW_IN_PROGRESS)
    READY = "ready"  # can be updated
    FAILED_CREATE = "failed-create"  # first deploy rolled back: can only be deleted
    BUSY = "busy"  # an operation is running
    BROKEN = "broken"  # needs a human (UPDATE_ROLLBACK_FAILED, DELETE_FAILED, ...)


_READY = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
_FAILED_CREATE = {"ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED"}


@dataclass(frozen=True)
class StackInfo:
    name: str
    status: str
    reason: str | None
    outputs: dict[str, str]
    last_updated: datetime | None
    stack_id: str | None

    @property
    def phase(self) -> Phase:
        return phase_of(self.status)


def phase_of(status: str) -> Phase:
    if status in ("", "DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
        return Phase.ABSENT
    if status in _READY:
        return Phase.READY
    if status in _FAILED_CREATE:
        return Phase.FAILED_CREATE
    if status.endswith("_IN_PROGRESS"):
        return Phase.BUSY
    return Phase.BROKEN


def describe_stack(cloudformation: Any, stack_name: str) -> StackInfo | None:
    """The stack, or ``None`` when it does not exist (CloudFormation says so with an error)."""
    with aws_errors(f"reading stack {stack_name}"):
        try:
            [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
    return StackInfo(
        name=stack_name,
        status=stack["StackStatus"],
        reason=stack.get("StackStatusReason"),
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        last_updated=stack.get("LastUpdatedTime") or stack.get("CreationTime"),
        stack_id=stack.get("StackId"),
    )


def stack_resources(cloudformation: Any, stack_name: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (resource type, physical id) of the deployed stack.

    Entries without a logical id are skipped: CloudFormation always has one, but
    emulators list resource types they did not create that way.
    """
    with aws_errors(f"listing resources of {stack_name}"):
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    return {
        r["LogicalResourceId"]: (r.get("ResourceType", ""), r.get("PhysicalResourceId", ""))
        for r in resources
        if r.get("LogicalResourceId")
    }


def resource_counts(cloudformation: Any, stack_name: str) -> dict[str, int]:
    """How many resources of each CloudFormation type the deployed stack has: what its fixed monthly cost is
    priced from (alarms, keys, secrets each cost by the month)."""
    return dict(Counter(kind for kind, _ in stack_resources(cloudformation, stack_name).values()))


def deployed_template(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    with aws_errors(f"reading the deployed template of {stack_name}"):
        body = cloudformation.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, str):
        return json.loads(body)
    return dict(body)
