"""Follow a stack operation through its events until CloudFormation settles.

CloudFormation reports progress only as events, newest first and paged; this
turns them into an ordered stream of the events since an operation began, and
remembers the first failure, which is the one worth showing (the rest are
usually "Resource creation cancelled").
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from api_direct.deploy.aws import aws_errors
from api_direct.deploy.stacks import Phase, describe_stack, phase_of


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str | None

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED") and "cancelled" not in (self.reason or "").lower()

    @property
    def is_stack(self) -> bool:
        return self.resource_type == "AWS::CloudFormation::Stack"


@dataclass(frozen=True)
class Outcome:
    """How an operation ended: its final status and, if it failed, the first failure."""

    status: str
    first_failure: StackEvent | None


class EventStream:
    """New events of one stack, oldest first, each exactly once.

    :meth:`prime` before starting an operation marks the events already there as
    seen, so the stream shows only this operation's, without comparing our clock
    with CloudFormation's.
    """

    def __init__(self, cloudformation: Any, stack_name: str) -> None:
        self._cloudformation = cloudformation
        self._stack_name = stack_name
        self._seen: set[str] = set()

    def prime(self) -> None:
        self._seen.update(e.event_id for e in self._read(first_page_only=True))

    def poll(self) -> list[StackEvent]:
        fresh = [e for e in self._read(first_page_only=False)]
        self._seen.update(e.event_id for e in fresh)
        return sorted(fresh, key=lambda e: e.timestamp)

    def _read(self, *, first_page_only: bool) -> list[StackEvent]:
        """Unseen events, newest first, stopping at the first page that reaches seen ones."""
        fresh: list[StackEvent] = []
        with aws_errors(f"reading events of {self._stack_name}"):
            try:
                pages = self._cloudformation.get_paginator("describe_stack_events").paginate(StackName=self._stack_name)
                for page in pages:
                    events = [_event(raw) for raw in page["StackEvents"]]
                    new = [e for e in events if e.event_id not in self._seen]
                    fresh.extend(new)
                    if first_page_only or len(new) < len(events):
                        break
            except ClientError as error:
                if "does not exist" not in str(error):
                    raise
        return fresh


def wait_for_stack(
    cloudformation: Any,
    stream: EventStream,
    stack_name: str,
    on_event: Callable[[StackEvent], None],
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Report events until the stack leaves ``*_IN_PROGRESS``; return how it ended.

    The stack is identified by name, so after a delete the stack is simply gone
    (reported as ``DELETE_COMPLETE``).
    """
    failures: list[StackEvent] = []

    def report(events: list[StackEvent]) -> None:
        for event in events:
            if event.failed and not event.is_stack:
                failures.append(event)
            on_event(event)

    while True:
        report(stream.poll())
        stack = describe_stack(cloudformation, stack_name)
        status = stack.status if stack else "DELETE_COMPLETE"
        if phase_of(status) is not Phase.BUSY:
            report(stream.poll())  # the last events can land after the status flips
            return Outcome(status=status, first_failure=failures[0] if failures else None)
        sleep(poll_seconds)


def _event(raw: dict[str, Any]) -> StackEvent:
    return StackEvent(
        event_id=raw["EventId"],
        timestamp=raw["Timestamp"],
        logical_id=raw["LogicalResourceId"],
        resource_type=raw.get("ResourceType", ""),
        status=raw.get("ResourceStatus", ""),
        reason=raw.get("ResourceStatusReason"),
    )
