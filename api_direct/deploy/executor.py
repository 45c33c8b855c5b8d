"""Run a plan's steps in order against the target account, reporting as they go.

The executor knows nothing about what a step does; steps read and write the
:class:`Context` (the change set one step creates is the one the next executes).
What a step is (:class:`Step`) is defined here, where steps are run, so the
planner that builds them imports the executor and never the other way round.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from api_direct.deploy.assets import PublishedAsset
from api_direct.deploy.aws import Aws
from api_direct.deploy.change_sets import ChangeSet
from api_direct.deploy.stack_events import Outcome, StackEvent


class Step(Protocol):
    """One thing a plan does: it can say what, and do it with the run's :class:`Context`."""

    def describe(self) -> str: ...

    def run(self, context: "Context") -> None: ...


class Observer(Protocol):
    """What a front end (the CLI's progress display, a test) hears while a plan runs."""

    def step_started(self, step: Step) -> None: ...

    def asset_published(self, published: PublishedAsset) -> None: ...

    def change_set_ready(self, change_set: ChangeSet) -> None: ...

    def stack_event(self, event: StackEvent) -> None: ...

    def note(self, text: str) -> None:
        """A line of progress outside any stack: a certificate requested, a wait for validation."""


class SilentObserver:
    """For library callers that only want the result."""

    def step_started(self, step: Step) -> None:
        pass

    def asset_published(self, published: PublishedAsset) -> None:
        pass

    def change_set_ready(self, change_set: ChangeSet) -> None:
        pass

    def stack_event(self, event: StackEvent) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class DeployTarget(Protocol):
    """The account a plan deploys to, as far as its steps read it.

    A creator's :class:`~api_direct.deploy.state.LinkRecord` is one: the link's
    execution role is the role CloudFormation changes the stack with. An operator
    deploying the control plane into their own account has no link and no such role
    (:class:`OwnAccount`): CloudFormation then acts with the caller's credentials.
    """

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def execution_role_arn(self) -> str | None: ...


@dataclass(frozen=True)
class OwnAccount:
    """An account deployed to with the caller's own credentials, without an execution role."""

    account_id: str
    region: str
    execution_role_arn: None = None


@dataclass
class Context:
    """Shared by the steps of one run."""

    aws: Aws
    #: Where the plan deploys: a creator's link, or an operator's own account.
    target: DeployTarget
    observer: Observer
    change_set: ChangeSet | None = None
    outcome: Outcome | None = None
    published: list[PublishedAsset] = field(default_factory=list)
    hotswapped: list[str] = field(default_factory=list)


def execute(steps: Sequence[Step], context: Context) -> Context:
    for step in steps:
        context.observer.step_started(step)
        step.run(context)
    return context
