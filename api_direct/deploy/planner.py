"""Turn what is synthesized and what is deployed into the steps that reconcile them.

A plan is a list of :class:`Step` s: each says in one line what it will do
(``describe``), so ``apid deploy --verbose`` prints the same data it runs. Every
step is safe to rerun after a crash: assets are content-addressed, change sets
left by an interrupted run are removed before a new one is made, and CloudFormation
itself refuses to start a second operation on a busy stack.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

from api_direct.deploy.assets import publish_asset, publish_assets, resolve
from api_direct.deploy.aws import aws_errors
from api_direct.deploy.change_sets import (
    MAX_INLINE_TEMPLATE_BYTES,
    TemplateSource,
    compact_template,
    create_change_set,
    delete_change_set,
    execute_change_set,
    remove_stale_change_sets,
)
from api_direct.deploy.executor import Context, Step
from api_direct.deploy.stack_events import EventStream, Outcome, wait_for_stack
from api_direct.deploy.stacks import Phase, StackInfo
from api_direct.deploy.synthesis import FileAsset, SynthesizedStack
from api_direct.contracts import APP_VERSION_PREFIX, LATEST
from api_direct.errors import Interrupted, OperationFailed, StateError

#: Tags every API stack carries, so a creator can find what API-Direct made.
STACK_TAGS = {"api-direct:managed": "true"}


@dataclass(frozen=True)
class PublishAssets:
    assets: tuple[FileAsset, ...]

    def describe(self) -> str:
        return f"publish {len(self.assets)} asset(s) to the asset bucket, skipping any already there"

    def run(self, context: Context) -> None:
        context.published.extend(
            publish_assets(
                context.aws.client("s3"),
                self.assets,
                account_id=context.target.account_id,
                region=context.target.region,
                on_published=context.observer.asset_published,
            )
        )


@dataclass(frozen=True)
class CheckApp:
    """Read the app check's verdict (started before synthesis) before the first change to the account."""

    stack: SynthesizedStack

    def describe(self) -> str:
        return "check that the app imports and is ASGI (started before synthesis)"

    def run(self, context: Context) -> None:
        if self.stack.app_check is not None:
            self.stack.app_check.verify()


def _checked(stack: SynthesizedStack) -> list["Step"]:
    """A ``CheckApp`` first, if the synthesis left its verdict pending."""
    return [CheckApp(stack)] if stack.app_check is not None else []


@dataclass(frozen=True)
class DeleteFailedStack:
    stack_name: str

    def describe(self) -> str:
        return f"delete {self.stack_name}, left in ROLLBACK_COMPLETE by a failed first deploy"

    def run(self, context: Context) -> None:
        _delete_and_wait(context, self.stack_name)


@dataclass(frozen=True)
class CreateChangeSet:
    stack: SynthesizedStack
    creates_stack: bool

    def describe(self) -> str:
        kind = "create" if self.creates_stack else "update"
        return f"create a change set to {kind} {self.stack.stack_name}"

    def run(self, context: Context) -> None:
        cloudformation = context.aws.client("cloudformation")
        remove_stale_change_sets(cloudformation, self.stack.stack_name)
        context.change_set = create_change_set(
            cloudformation,
            stack_name=self.stack.stack_name,
            template=self._template_source(context),
            creates_stack=self.creates_stack,
            role_arn=context.target.execution_role_arn,
            tags=STACK_TAGS,
        )
        context.observer.change_set_ready(context.change_set)

    def _template_source(self, context: Context) -> TemplateSource:
        body = compact_template(self.stack.template)
        if len(body.encode()) <= MAX_INLINE_TEMPLATE_BYTES:
            return TemplateSource(body=body)
        published = publish_asset(
            context.aws.client("s3"),
            self.stack.template_asset,
            account_id=context.target.account_id,
            region=context.target.region,
        )
        return TemplateSource(
            url=f"https://{published.bucket}.s3.{context.target.region}.amazonaws.com/{published.key}"
        )


@dataclass(frozen=True)
class DiscardChangeSet:
    """End of a plan: remove the change set, and the empty stack a CREATE change set made."""

    def describe(self) -> str:
        return "delete the change set (a plan changes nothing)"

    def run(self, context: Context) -> None:
        change_set = context.change_set
        if change_set is None or change_set.empty:
            return
        cloudformation = context.aws.client("cloudformation")
        delete_change_set(cloudformation, change_set.arn)
        if change_set.creates_stack:
            with aws_errors(f"removing the placeholder stack {change_set.stack_name}"):
                cloudformation.delete_stack(StackName=change_set.stack_name)


@dataclass(frozen=True)
class ExecuteChangeSet:
    def describe(self) -> str:
        return "execute the change set and follow the stack's events until it settles"

    def run(self, context: Context) -> None:
        change_set = context.change_set
        if change_set is None or change_set.empty:
            return
        cloudformation = context.aws.client("cloudformation")
        stream = EventStream(cloudformation, change_set.stack_name)
        stream.prime()
        execute_change_set(cloudformation, change_set)
        context.outcome = _follow(context, stream, change_set.stack_name, "deploy")
        if not context.outcome.status.endswith("_COMPLETE") or "ROLLBACK" in context.outcome.status:
            raise OperationFailed(_failure_message(change_set.stack_name, context.outcome))


@dataclass(frozen=True)
class UpdateFunctionCode:
    """Hotswap: point one function at a new code asset, bypassing CloudFormation."""

    logical_id: str
    function_name: str
    asset: FileAsset

    def describe(self) -> str:
        return f"update the code of {self.logical_id} ({self.function_name}) directly (hotswap)"

    def run(self, context: Context) -> None:
        target = context.target
        function = context.aws.client("lambda")
        with aws_errors(f"updating the code of {self.function_name}"):
            function.update_function_code(
                FunctionName=self.function_name,
                S3Bucket=resolve(self.asset.bucket_name, target.account_id, target.region),
                S3Key=resolve(self.asset.object_key, target.account_id, target.region),
            )
            _wait_for_function(function, self.function_name)
        context.hotswapped.append(self.logical_id)


@dataclass(frozen=True)
class ServeLatest:
    """Hotswap: point a function's alias at its unpublished code (``$LATEST``), which the hotswap just changed.

    Not a new version: Lambda publishes one only for code or settings that changed
    since the last, so a version published here would make the next full deploy's
    version of the same code fail. That deploy publishes it, and moves the alias.
    """

    function_name: str
    alias: str

    def describe(self) -> str:
        return f"point the {self.alias} alias of {self.function_name} at the new code"

    def run(self, context: Context) -> None:
        with aws_errors(f"moving the {self.alias} alias of {self.function_name}"):
            context.aws.client("lambda").update_alias(
                FunctionName=self.function_name,
                Name=self.alias,
                FunctionVersion=LATEST,
                RoutingConfig={"AdditionalVersionWeights": {}},
            )


@dataclass(frozen=True)
class DeleteStack:
    stack_name: str

    def describe(self) -> str:
        return f"delete {self.stack_name} and follow its events"

    def run(self, context: Context) -> None:
        _delete_and_wait(context, self.stack_name)


def plan_preview(stack: SynthesizedStack, deployed: StackInfo | None) -> list[Step]:
    """``apid plan``: describe the changes, then leave everything as it was."""
    creates = _creates(stack.stack_name, deployed)
    return [*_checked(stack), CreateChangeSet(stack, creates_stack=creates), DiscardChangeSet()]


def plan_deploy(stack: SynthesizedStack, deployed: StackInfo | None, *, recreate_failed: bool) -> list[Step]:
    """``apid deploy``: publish, then create and execute a change set."""
    steps: list[Step] = [*_checked(stack), PublishAssets(stack.assets)]
    if deployed is not None and deployed.phase is Phase.FAILED_CREATE:
        if not recreate_failed:
            raise StateError(
                f"{stack.stack_name} is in {deployed.status} after a failed first deploy and can only be"
                " deleted; rerun with --yes (or answer yes) to delete and recreate it"
            )
        steps.append(DeleteFailedStack(stack.stack_name))
        deployed = None
    steps += [CreateChangeSet(stack, creates_stack=_creates(stack.stack_name, deployed)), ExecuteChangeSet()]
    return steps


def plan_hotswap(
    stack: SynthesizedStack,
    deployed_template: dict[str, Any],
    resources: dict[str, tuple[str, str]],
    hotswapped_code: dict[str, str] | None = None,
) -> list[Step] | None:
    """Code-only fast path, or ``None`` when anything but function code changed.

    ``hotswapped_code`` (logical id -> object key) is the code earlier hotswaps put
    in place, which the deployed template does not know about.
    """
    new, old = stack.template.get("Resources", {}), deployed_template.get("Resources", {})
    if _without_code(new) != _without_code(old):
        return None
    assets = {a.object_key: a for a in stack.assets}
    live = hotswapped_code or {}
    aliased = _aliases(new)
    steps: list[Step] = []
    for logical_id, resource in new.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        key = resource["Properties"]["Code"].get("S3Key")
        deployed_key = live.get(logical_id) or old[logical_id]["Properties"].get("Code", {}).get("S3Key")
        if key == deployed_key:
            continue
        if not isinstance(key, str) or key not in assets or logical_id not in resources:
            return None
        steps.append(UpdateFunctionCode(logical_id, resources[logical_id][1], assets[key]))
        if logical_id in aliased:
            steps.append(ServeLatest(resources[logical_id][1], aliased[logical_id]))
    if not steps:
        return []
    changed = {s.asset for s in steps if isinstance(s, UpdateFunctionCode)}
    return [*_checked(stack), PublishAssets(tuple(a for a in stack.assets if a in changed)), *steps]


def plan_destroy(deployed: StackInfo) -> list[Step]:
    if deployed.phase is Phase.BUSY:
        ensure_not_busy(deployed)
    return [DeleteStack(deployed.name)]


def ensure_not_busy(deployed: StackInfo | None) -> None:
    """Refuse to start on a stack CloudFormation is changing, or one it cannot change."""
    if deployed is not None and deployed.phase is Phase.BUSY:
        raise StateError(
            f"{deployed.name} is already being changed ({deployed.status}); wait for it to finish"
            " (watch with `apid status`) and rerun"
        )
    if deployed is not None and deployed.phase is Phase.BROKEN:
        raise StateError(
            f"{deployed.name} is in {deployed.status} ({deployed.reason or 'no reason given'});"
            " fix it in the CloudFormation console, or `apid destroy` it"
        )


def _aliases(resources: dict[str, Any]) -> dict[str, str]:
    """Function logical id -> the name of the alias on it, for the template's aliases."""
    aliased = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::Alias":
            function = resource["Properties"].get("FunctionName")
            if isinstance(function, dict) and "Ref" in function:
                aliased[function["Ref"]] = resource["Properties"]["Name"]
    return aliased


def _creates(stack_name: str, deployed: StackInfo | None) -> bool:
    return deployed is None or deployed.phase is Phase.ABSENT


def _without_code(resources: dict[str, Any]) -> dict[str, Any]:
    """Resources with function code and CDK's asset metadata taken out, for comparison.

    The app version's logical id is named for its code, so new code renames it
    everywhere it is referenced; it is compared under one name.
    """
    stripped = {}
    for logical_id, resource in resources.items():
        resource = {k: v for k, v in resource.items() if k != "Metadata"}
        if resource.get("Type") == "AWS::Lambda::Function":
            resource["Properties"] = {k: v for k, v in resource["Properties"].items() if k != "Code"}
        stripped[logical_id] = resource
    versions = [
        i for i, r in resources.items() if r.get("Type") == "AWS::Lambda::Version" and i.startswith(APP_VERSION_PREFIX)
    ]
    if not versions:
        return stripped
    text = json.dumps(stripped)
    for version in versions:
        text = text.replace(f'"{version}"', f'"{APP_VERSION_PREFIX}"')
    return dict(json.loads(text))


def _delete_and_wait(context: Context, stack_name: str) -> None:
    cloudformation = context.aws.client("cloudformation")
    stream = EventStream(cloudformation, stack_name)
    stream.prime()
    role = context.target.execution_role_arn
    with aws_errors(f"deleting {stack_name}"):
        cloudformation.delete_stack(StackName=stack_name, **({"RoleARN": role} if role else {}))
    context.outcome = _follow(context, stream, stack_name, "delete")
    if context.outcome.status != "DELETE_COMPLETE":
        raise OperationFailed(_failure_message(stack_name, context.outcome))


def _follow(context: Context, stream: EventStream, stack_name: str, operation: str) -> Outcome:
    try:
        return wait_for_stack(context.aws.client("cloudformation"), stream, stack_name, context.observer.stack_event)
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped watching; CloudFormation continues the {operation} of {stack_name}."
            " Watch it with `apid status` (nothing is left half-done by stopping here)"
        ) from None


def _failure_message(stack_name: str, outcome: Outcome) -> str:
    failure = outcome.first_failure
    if failure is not None and failure.resource_type == "AWS::Lambda::Alias":
        # Only CodeDeploy fails an alias update that CloudFormation validated: a canary whose alarm fired, or
        # a shift that could not finish; CodeDeploy has already moved all traffic back.
        return (
            f"{stack_name} ended in {outcome.status}: the new version's traffic shift was rolled back, the"
            f" previous version serves all traffic ({failure.reason}); see `apid logs` and deploy a fix"
        )
    cause = (
        f"{failure.logical_id} ({failure.resource_type}): {failure.reason}"
        if failure
        else "no resource reported a reason"
    )
    return f"{stack_name} ended in {outcome.status}; first failure: {cause}"


def _wait_for_function(function: Any, name: str, attempts: int = 60, delay: float = 1.0) -> None:
    for _ in range(attempts):
        status = function.get_function_configuration(FunctionName=name).get("LastUpdateStatus", "Successful")
        if status != "InProgress":
            if status == "Failed":
                raise OperationFailed(f"the code update of {name} failed; run a full `apid deploy`")
            return
        time.sleep(delay)
    raise OperationFailed(f"the code update of {name} did not finish in {attempts * delay:.0f} s")
