"""What the ``apid`` commands do, as library functions: plan, deploy, destroy, status.

Each synthesizes while its first AWS calls, which change nothing (assuming the link's
deploy role with its ExternalId, reading the stack), run beside it (:mod:`.beside`);
a bad project fails with its own error, then a plan is built and executed.
The app's import check, started with the synthesis, is read by the plan's first
step, so a broken app fails after those first calls and before any change; what
it warns about (WebSocket routes, the check being off) leads the result's warnings.
A stage with a custom domain first has its certificate made ready (:mod:`.domains`),
since the template names it: ``deploy`` requests and validates it, ``plan`` only
looks, and the stack gets the domain once the certificate is issued.
``deploy``, ``destroy`` and ``rollback`` hold the stage's lock (:mod:`.project_lock`)
throughout: a second one on the same stage and machine is refused at once.
"""

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api_direct.client.publishing import runtime_profile
from api_direct.client.sign_in import client_for, load_session, require_session
from api_direct.deploy.aws import Aws, Service, creator_aws
from api_direct.deploy.aws_target import AwsTarget
from api_direct.deploy.beside import beside
from api_direct.deploy.ci_link import ci_link
from api_direct.deploy.costs import StackCosts, measured_traffic, stack_costs
from api_direct.deploy.credentials import deploy_session
from api_direct.deploy.change_sets import ResourceChange
from api_direct.deploy.domains import DomainState, inspect_domain, prepare_domain
from api_direct.deploy.executor import Context, Observer, execute
from api_direct.deploy.planner import (
    UpdateFunctionCode,
    ensure_not_busy,
    plan_deploy,
    plan_destroy,
    plan_hotswap,
    plan_preview,
)
from api_direct.deploy.project_lock import Holder, operation_lock
from api_direct.deploy.release import release_of
from api_direct.deploy.versions import (
    VERSION_OUTPUT,
    LiveState,
    Rollback,
    Version,
    list_versions,
    live_state,
    reconcile_live,
)
from api_direct.deploy.versions import rollback as roll_back
from api_direct.deploy.stacks import Phase, StackInfo, deployed_template, describe_stack, stack_resources
from api_direct.deploy.state import DeployNotes, LinkRecord, ProjectState, load_state, save_state
from api_direct.deploy.synthesis import AppCheckMode, ControlPlaneRef, SynthesizedStack, synthesize_project
from api_direct.contracts import CustomDomainTarget, DeployPurpose
from api_direct.canary import Canary
from api_direct.errors import ApidError, InputError, StateError
from api_direct.project import Project, load_project


@dataclass(frozen=True)
class PlanResult:
    stack_name: str
    creates_stack: bool
    changes: tuple[ResourceChange, ...]
    warnings: tuple[str, ...] = ()
    #: The stage's custom domain and its certificate, when it has one.
    domain: DomainState | None = None
    #: What the stack costs in AWS; ``None`` when the linked region has no prices (a warning says so).
    costs: StackCosts | None = None


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    status: str  # final stack status, or "NO_CHANGES" / "HOTSWAPPED"
    outputs: dict[str, str]
    changes: tuple[ResourceChange, ...] = ()
    hotswapped: tuple[str, ...] = ()
    uploaded_assets: int = 0
    fell_back_from_hotswap: bool = False
    warnings: tuple[str, ...] = ()
    #: The version the live alias was on before this deploy moved it back to the stack's (after a rollback).
    live_moved_from: str | None = None


@dataclass(frozen=True)
class StatusReport:
    stack_name: str
    link: LinkRecord
    stack: StackInfo | None
    drifted_since: str | None
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The app's live alias against the stack's version; None when it has none (not deployed, or before versions).
    live: LiveState | None = None


@dataclass(frozen=True)
class StackTarget:
    """The deploy role's session and the stack as it stands before the operation changes it."""

    aws: Aws
    deployed: StackInfo | None
    #: For a hotswap of a ready stack: its deployed template and resources (logical id -> type, physical id).
    template: dict[str, Any] | None = None
    resources: dict[str, tuple[str, str]] | None = None


@dataclass(frozen=True)
class Session:
    """Everything an operation needs: the project, its state and an identity to act with."""

    project: Project
    state: ProjectState
    creator: Aws
    observer: Observer
    outdir: Path

    @property
    def link(self) -> LinkRecord:
        return self.state.require_link()

    @property
    def notes(self) -> DeployNotes:
        """This stage's deploy notes (a hotswap's drift)."""
        return self.state.notes(self.project.stage)

    def synthesize(
        self,
        *,
        retain_data: bool = False,
        app_check: AppCheckMode = "deferred",
        custom_domain: CustomDomainTarget | None = None,
        canary: Canary | None = None,
        shipping: bool = False,
    ) -> SynthesizedStack:
        """The stage's synthesis; ``shipping`` for a deploy, whose bundles are zipped while it goes on."""
        link = self.link
        control_plane = (
            ControlPlaneRef(link.trusted_account_id, link.usage_bus_arn, link.marketplace_origin)
            if link.usage_bus_arn
            else None
        )
        return synthesize_project(
            self.project,
            self.outdir,
            control_plane=control_plane,
            retain_data=retain_data,
            app_check=app_check,
            region=link.region,
            custom_domain=custom_domain,
            release=release_of(self.project.root),
            canary=canary,
            shipping=shipping,
        )

    def deploy_role(self, purpose: DeployPurpose) -> Aws:
        return deploy_session(self.creator, self.link, purpose)

    def target_beside(
        self, purpose: DeployPurpose, aws: Aws | None, *, clients: tuple[Service, ...] = (), hotswap: bool = False
    ) -> Callable[[], StackTarget]:
        """The :class:`StackTarget`, fetched beside the synthesis about to run (see :mod:`.beside`).

        ``clients``, those the operation goes on to use, are made there too: loading their service models is part
        of the wait.
        """

        def fetch() -> StackTarget:
            role = aws or self.deploy_role(purpose)
            cloudformation = role.client("cloudformation")
            for service in clients:
                role.client(service)
            name = self.project.stack_name
            deployed = describe_stack(cloudformation, name)
            if not (hotswap and deployed is not None and deployed.phase is Phase.READY):
                return StackTarget(role, deployed)
            return StackTarget(
                role, deployed, deployed_template(cloudformation, name), stack_resources(cloudformation, name)
            )

        return beside(fetch, name=f"apid {purpose} {self.project.stack_name}")

    def context(self, aws: Aws) -> Context:
        return Context(aws=aws, target=self.link, observer=self.observer)

    def save(self, state: ProjectState) -> None:
        save_state(self.project.root, state)

    def record(self, action: str, status: str, outputs: dict[str, str], changes: int) -> tuple[str, ...]:
        """Tell the control plane (if linked through one) what just happened; a warning if it could not.

        Best effort by design: the stack has already changed, and failing the
        command now would only hide that.
        """
        link = self.link
        if link.control_plane_url is None:
            return ()
        try:
            client_for(require_session(), endpoint_url=self.creator.endpoint_url).record_deployment(
                {
                    "api_id": self.project.config.api.name,
                    "account_id": link.account_id,
                    "region": link.region,
                    "action": action,
                    "status": status,
                    "stack_name": self.project.stack_name,
                    "outputs": outputs,
                    "changes": changes,
                },
            )
        except ApidError as error:
            return (f"the control plane did not record this {action}: {error}",)
        return ()


def plan(session: Session) -> PlanResult:
    """What a deploy would change, under the stage's lock: a plan writes the same synthesis a deploy reads and
    deletes the stage's stale change sets, so a plan during a deploy would delete the deploy's own."""
    with locked(session, "apid plan"):
        return _locked_plan(session)


def _locked_plan(session: Session) -> PlanResult:
    domain = session.project.domain
    aws = session.deploy_role("planning") if domain else None
    state = inspect_domain(aws, domain, session.project.stack_name) if aws and domain else None
    target = session.target_beside("planning", aws)
    stack = session.synthesize(custom_domain=state.target if state else None)
    with app_checked(stack):
        result = _plan(session, stack, target())
    costs, warned = costs_of(session, stack.template)
    return replace(result, warnings=(*app_warnings(stack), *result.warnings, *warned), domain=state, costs=costs)


def costs_of(session: Session, template: Mapping[str, Any]) -> tuple[StackCosts | None, tuple[str, ...]]:
    """The stack's AWS costs at the stage's sizes, shaped by its measured traffic when the control plane the
    project is linked through has some, and the warnings of what could not be had.

    Best effort: the figures inform a plan or a publish, and never stop one.
    """
    project, link = session.project, session.link
    measured, warnings = None, []
    signed_in = load_session() if link.control_plane_url else None
    if signed_in is not None and signed_in.control_plane_url == link.control_plane_url:
        session.observer.note("reading the API's measured traffic from the control plane")
        client = client_for(signed_in, endpoint_url=session.creator.endpoint_url)
        try:
            measured = measured_traffic(client, project.config.api.name, datetime.now(UTC).date())
        except ApidError as error:
            warnings.append(f"no measured traffic from the control plane ({error}): costs are at assumed traffic")
    try:
        return stack_costs(template, runtime_profile(project, link.region), measured), tuple(warnings)
    except InputError as error:
        return None, (*warnings, f"no AWS cost figures: {error}")


def _plan(session: Session, stack: SynthesizedStack, target: StackTarget) -> PlanResult:
    aws, deployed = target.aws, target.deployed
    ensure_not_busy(deployed)
    if deployed is not None and deployed.phase is Phase.FAILED_CREATE:
        raise StateError(
            f"{stack.stack_name} is in {deployed.status} after a failed first deploy; `apid deploy` will offer"
            " to delete and recreate it"
        )
    context = session.context(aws)
    execute(plan_preview(stack, deployed), context)
    change_set = context.change_set
    assert change_set is not None  # CreateChangeSet always leaves one
    warnings = session.record("plan", "NO_CHANGES" if change_set.empty else "PLANNED", {}, len(change_set.changes))
    return PlanResult(stack.stack_name, change_set.creates_stack, change_set.changes, warnings)


def deploy(
    session: Session, *, hotswap: bool = False, confirm: Callable[[str], bool], canary: Canary | None = None
) -> DeployResult:
    with locked(session, "apid deploy --hotswap" if hotswap else "apid deploy"):
        return _locked_deploy(session, hotswap, confirm, canary)


def _locked_deploy(
    session: Session, hotswap: bool, confirm: Callable[[str], bool], canary: Canary | None
) -> DeployResult:
    domain = session.project.domain
    aws = session.deploy_role("deploying") if domain else None
    target = (
        prepare_domain(
            aws,
            domain,
            session.project.stack_name,
            session.observer,
            rerun=f"apid deploy{session.project.stage_option}",
        )
        if aws and domain
        else None
    )
    fetched = session.target_beside("deploying", aws, clients=("s3", "lambda"), hotswap=hotswap)
    stack = session.synthesize(custom_domain=target, canary=canary, shipping=True)
    with app_checked(stack):
        result = _deploy(session, stack, hotswap, confirm, fetched())
    return replace(result, warnings=(*app_warnings(stack), *result.warnings))


def locked(session: Session, command: str) -> AbstractContextManager[Holder]:
    """The session's stage locked for ``command`` (how a refused second run names it), beside its synthesis."""
    return operation_lock(session.project.assembly_dir.parent, command, session.project.stage)


@contextmanager
def app_checked(stack: SynthesizedStack) -> Iterator[None]:
    """The pending app check is read by the plan (its ``CheckApp`` step), or here if no step needed it."""
    try:
        yield
    except BaseException:
        if stack.app_check is not None:
            stack.app_check.cancel()
        raise
    if stack.app_check is not None:
        stack.app_check.verify()


def app_warnings(stack: SynthesizedStack) -> tuple[str, ...]:
    """What the app check found to warn about, once its verdict is read (:func:`app_checked` has returned)."""
    return stack.app_check.warnings if stack.app_check is not None else stack.app_warnings


def _deploy(
    session: Session, stack: SynthesizedStack, hotswap: bool, confirm: Callable[[str], bool], target: StackTarget
) -> DeployResult:
    aws, deployed = target.aws, target.deployed
    cloudformation = aws.client("cloudformation")
    ensure_not_busy(deployed)
    context = session.context(aws)
    fell_back = False
    if hotswap:
        if deployed is None or target.template is None or target.resources is None:
            fell_back = True
        else:
            steps = plan_hotswap(stack, target.template, target.resources, session.notes.hotswapped_code)
            if steps is not None:
                execute(steps, context)
                swapped = {s.logical_id: s.asset.object_key for s in steps if isinstance(s, UpdateFunctionCode)}
                if swapped:
                    since = datetime.now(UTC).isoformat(timespec="seconds")
                    session.save(session.state.with_hotswap(session.project.stage, since, swapped))
                status = "HOTSWAPPED" if context.hotswapped else "NO_CHANGES"
                return DeployResult(
                    stack.stack_name,
                    status,
                    deployed.outputs,
                    hotswapped=tuple(context.hotswapped),
                    uploaded_assets=sum(p.uploaded for p in context.published),
                    warnings=session.record("deploy", status, deployed.outputs, len(context.hotswapped)),
                )
            fell_back = True
    recreate = False
    if deployed is not None and deployed.phase is Phase.FAILED_CREATE:
        recreate = confirm(
            f"{stack.stack_name} is in {deployed.status} after a failed first deploy. Delete it and deploy again?"
        )
    execute(plan_deploy(stack, deployed, recreate_failed=recreate), context)
    change_set = context.change_set
    assert change_set is not None
    final = describe_stack(cloudformation, stack.stack_name)
    if not change_set.empty or session.notes.drifted_since:
        session.save(session.state.without_drift(session.project.stage))
    status = "NO_CHANGES" if change_set.empty else (context.outcome.status if context.outcome else "UNKNOWN")
    outputs = final.outputs if final else {}
    restored = reconcile_live(aws, outputs)
    return DeployResult(
        stack_name=stack.stack_name,
        status=status,
        outputs=outputs,
        changes=change_set.changes,
        uploaded_assets=sum(p.uploaded for p in context.published),
        fell_back_from_hotswap=fell_back,
        warnings=session.record("deploy", status, outputs, len(change_set.changes)),
        live_moved_from=restored,
    )


def destroy(session: Session, *, retain_data: bool) -> DeployResult:
    """Delete the API stack; with ``retain_data`` first redeploy it so its table is kept."""
    with locked(session, "apid destroy"):
        return _locked_destroy(session, retain_data)


def _locked_destroy(session: Session, retain_data: bool) -> DeployResult:
    aws = session.deploy_role("destroying")
    cloudformation = aws.client("cloudformation")
    deployed = describe_stack(cloudformation, session.project.stack_name)
    if deployed is None or deployed.phase is Phase.ABSENT:
        raise StateError(f"{session.project.stack_name} is not deployed in {session.link.region}: nothing to destroy")
    context = session.context(aws)
    if retain_data and deployed.phase is Phase.READY:
        execute(
            plan_deploy(session.synthesize(retain_data=True, app_check="skip"), deployed, recreate_failed=False),
            context,
        )
    execute(plan_destroy(deployed), context)
    session.save(session.state.without_drift(session.project.stage))
    warnings = session.record("destroy", "DELETE_COMPLETE", {}, 0)
    return DeployResult(stack_name=deployed.name, status="DELETE_COMPLETE", outputs={}, warnings=warnings)


def deployed_stack(session: Session, purpose: DeployPurpose, *, needed_for: str) -> tuple[Aws, StackInfo]:
    """The deploy role's session and the deployed API stack; a clear error when there is none."""
    aws = session.deploy_role(purpose)
    stack = describe_stack(aws.client("cloudformation"), session.project.stack_name)
    if stack is None or stack.phase is Phase.ABSENT:
        raise StateError(
            f"{session.project.stack_name} is not deployed: {needed_for}"
            f" (`apid deploy{session.project.stage_option}` first)"
        )
    return aws, stack


def log_source(session: Session, *, access: bool) -> tuple[Any, str]:
    """A CloudWatch Logs client and the deployed API's app (or access) log group, with one assume-role."""
    aws, stack = deployed_stack(session, "reading logs", needed_for="nothing to show")
    group = stack.outputs.get("AccessLogGroupName" if access else "AppLogGroupName")
    if not group:
        raise StateError(f"{session.project.stack_name} has no log group output; redeploy with `apid deploy`")
    return aws.client("logs"), group


def status(session: Session) -> StatusReport:
    aws = session.deploy_role("reading status")
    cloudformation = aws.client("cloudformation")
    stack = describe_stack(cloudformation, session.project.stack_name)
    resources = stack_resources(cloudformation, stack.name) if stack and stack.phase is not Phase.ABSENT else {}
    live = live_state(aws, stack) if stack and VERSION_OUTPUT in stack.outputs else None
    return StatusReport(session.project.stack_name, session.link, stack, session.notes.drifted_since, resources, live)


def versions(session: Session) -> tuple[LiveState, list[Version]]:
    """The app's published versions, newest first, and where its alias is."""
    aws, stack = deployed_stack(session, "listing versions", needed_for="no versions yet")
    state = live_state(aws, stack)
    return state, list_versions(aws, state.function_name)


def rollback(session: Session, *, to: int | None) -> Rollback:
    """Move the live alias back (to version ``to``, else the one before), without CloudFormation."""
    with locked(session, "apid rollback"):
        aws, stack = deployed_stack(session, "rolling back", needed_for="nothing to roll back")
        ensure_not_busy(stack)
        return roll_back(aws, stack, to)


def open_session(project_dir: Path, target: AwsTarget, observer: Observer, *, stage: str | None = None) -> Session:
    """Load the project in ``stage`` (None: its default) and its link, and the creator's credentials in the
    linked region."""
    project = load_project(project_dir, stage)
    state = load_state(project.root)
    if state.link is None:  # a CI checkout: no state file, the link in APID_LINK_*
        state = state.with_link(ci_link(os.environ))
    link = state.require_link()
    creator = creator_aws(AwsTarget(target.profile, target.region or link.region, target.endpoint_url))
    if creator.region != link.region:
        raise InputError(
            f"--region {creator.region} differs from the region this project is linked in ({link.region});"
            " drop --region or link that region with `apid aws link --region`"
        )
    return Session(project, state, creator, observer, outdir=project.assembly_dir)
