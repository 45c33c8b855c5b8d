"""moto's real server on loopback, with the fixes our CloudFormation templates need.

``apid sandbox`` and the end-to-end tests deploy the stacks the way ``apid`` deploys them against AWS:
change sets created, described and executed over HTTP. moto's CloudFormation
emulation has defects that stop correct templates from deploying, or deploy them
into something other than what AWS would build (an API URL ending in ``/None/``,
x86 functions, methods without their authorizer). Each defect is worked around by
one small, named patch below (``PATCHES``), applied before the server starts, and
each patch's docstring says what moto does and what real CloudFormation does
instead. A patch only makes moto do what CloudFormation documents: none of them
makes moto accept a template AWS would reject. What moto still cannot show is
listed in the README ("What the emulator cannot show") and pinned by tests.

    python -m api_direct.local.emulator --host 127.0.0.1 --port 5000

:func:`running_moto_server` starts that module as a subprocess on a free port and
stops it afterwards.
"""

import argparse
import copy
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

HOST = "127.0.0.1"
#: How long the server may take to answer its first request (imports dominate).
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
#: Another process may take the port between our probe and the server's bind.
START_ATTEMPTS = 3
_MOTO_APIGATEWAY = "moto.apigateway.models"
_MOTO_COGNITO = "moto.cognitoidp.models"
_MOTO_SECRETSMANAGER = "moto.secretsmanager.models"
#: ``${Name}`` or ``${Name.Attr}`` in an ``Fn::Sub`` string; ``${!Literal}`` is not one.
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def event_bus_ref_is_its_name() -> None:
    """``Ref`` to an ``AWS::Events::EventBus`` gives the bus name.

    moto's ``EventBus`` has no ``physical_resource_id``, so moto's ``Ref``
    resolution returns the Python object itself and an ``AWS::Events::Rule`` with
    ``EventBusName: {"Ref": bus}`` fails with a 500 (``'EventBus' object has no
    attribute 'split'``). Real CloudFormation documents ``Ref`` of an event bus as
    its name, which is what our key store's rule relies on; the template is correct.
    """
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def api_deployment_ref_is_its_id() -> None:
    """``Ref`` to an ``AWS::ApiGateway::Deployment`` gives the deployment id.

    moto's ``Deployment`` has no ``physical_resource_id`` either, so ``Ref`` gives
    the Python object (and ``list_stack_resources`` an empty physical id). Real
    CloudFormation documents ``Ref`` of a deployment as its id; our stage's
    ``DeploymentId: {"Ref": deployment}`` is CDK's standard output and correct.
    """
    from moto.apigateway.models import Deployment

    Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]


def api_stage_resource() -> None:
    """Create ``AWS::ApiGateway::Stage`` resources instead of skipping them.

    moto has no CloudFormation support for stages: it warns and skips them, so
    ``Ref`` to our ``v1`` stage is ``None`` and the stack's ``ApiUrl`` output ends
    in ``/None/``, while real CloudFormation creates the stage and ``Ref`` gives
    its name. The patch creates it through moto's own API Gateway backend (as the
    ``CreateStage`` call would), with the properties our template uses: name,
    deployment, description, variables, tags, tracing and access log settings.
    An update replaces the stage under the same name; deletion of a stage whose
    API is already gone is a no-op (moto deletes a stack's resources in no order).
    """
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend, Stage, apigateway_backends
    from moto.core.common_models import CloudFormationModel

    class CfnStage(CloudFormationModel):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names

        def __init__(self, rest_api_id: str, stage: Stage) -> None:
            self.rest_api_id = rest_api_id
            self.stage = stage

        @property
        def physical_resource_id(self) -> str:
            return str(self.stage.name)

        @staticmethod
        def cloudformation_name_type() -> str:
            return "StageName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::Stage"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnStage":
            properties = cloudformation_json["Properties"]
            backend: APIGatewayBackend = apigateway_backends[account_id][region_name]
            stage = backend.create_stage(
                function_id=properties["RestApiId"],
                stage_name=properties.get("StageName", resource_name),
                deploymentId=properties["DeploymentId"],
                variables=properties.get("Variables"),
                description=properties.get("Description", ""),
                tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])} or None,
                tracing_enabled=properties.get("TracingEnabled"),
            )
            if "AccessLogSetting" in properties:
                setting = properties["AccessLogSetting"]
                stage.access_log_settings = {"destinationArn": setting["DestinationArn"], "format": setting["Format"]}
            return cls(properties["RestApiId"], stage)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: "CfnStage",
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> "CfnStage":
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_stage(self.rest_api_id, str(self.stage.name))
            except NotFoundException:
                pass

    _register_resource_type(CfnStage)


def api_authorizer_resource() -> None:
    """Create ``AWS::ApiGateway::Authorizer`` resources instead of skipping them.

    moto skips authorizers, so ``Ref`` to ours is ``None`` and our methods are
    created without ``authorizerId``: the API would look open. Real CloudFormation
    creates the authorizer and ``Ref`` gives its id. The patch creates it through
    moto's own backend (as ``CreateAuthorizer`` would) with name, type, URI,
    credentials, identity source and result TTL, updates it in place through
    moto's own patch operations (the id is kept, as in AWS), and tolerates an API
    already deleted, like :func:`api_stage_resource`.
    """
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend, Authorizer, apigateway_backends
    from moto.core.common_models import CloudFormationModel

    class CfnAuthorizer(CloudFormationModel):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names

        def __init__(self, rest_api_id: str, authorizer: Authorizer) -> None:
            self.rest_api_id = rest_api_id
            self.authorizer = authorizer

        @property
        def physical_resource_id(self) -> str:
            return str(self.authorizer.id)

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::Authorizer"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnAuthorizer":
            properties = cloudformation_json["Properties"]
            backend: APIGatewayBackend = apigateway_backends[account_id][region_name]
            authorizer = backend.create_authorizer(
                properties["RestApiId"],
                properties.get("Name", resource_name),
                properties["Type"],
                authorizer_uri=properties.get("AuthorizerUri"),
                authorizer_credentials=properties.get("AuthorizerCredentials"),
                identity_source=properties.get("IdentitySource"),
                authorizer_result_ttl=properties.get("AuthorizerResultTtlInSeconds", 300),
                provider_arns=properties.get("ProviderARNs"),
                auth_type=properties.get("AuthType"),
            )
            return cls(properties["RestApiId"], authorizer)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: "CfnAuthorizer",
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> "CfnAuthorizer":
            properties = cloudformation_json["Properties"]
            paths = {
                "/name": properties.get("Name", new_resource_name),
                "/type": properties["Type"],
                "/authorizerUri": properties.get("AuthorizerUri"),
                "/authorizerCredentials": properties.get("AuthorizerCredentials"),
                "/identitySource": properties.get("IdentitySource"),
                "/authorizerResultTtlInSeconds": properties.get("AuthorizerResultTtlInSeconds", 300),
            }
            original_resource.authorizer.apply_operations(
                [{"op": "replace", "path": path, "value": value} for path, value in paths.items()]
            )
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_authorizer(
                    self.rest_api_id, str(self.authorizer.id)
                )
            except NotFoundException:
                pass

    _register_resource_type(CfnAuthorizer)


def api_usage_plan_resource() -> None:
    """Create ``AWS::ApiGateway::UsagePlan`` resources instead of skipping them.

    moto skips usage plans, so ``Ref`` to ours is ``None``: the key-sync function's
    ``USAGE_PLANS`` variable becomes ``{"free":"None","pro":"None"}`` and no plan
    carries our per-tier throttle and quota. Real CloudFormation creates each plan
    and ``Ref`` gives its id. The patch creates it through moto's own backend (as
    ``CreateUsagePlan`` would) from name, description, API stages, throttle, quota
    and tags; an update replaces the plan's settings under the same id (so keys
    already bound to it stay bound, as in AWS).
    """
    from moto.apigateway.models import APIGatewayBackend, UsagePlan, apigateway_backends
    from moto.core.common_models import CloudFormationModel

    def settings(properties: dict[str, Any], resource_name: str) -> dict[str, Any]:
        """The plan as the REST API's ``CreateUsagePlan`` body spells it (lower camel case)."""
        body = _lower_camel_keys({key: value for key, value in properties.items() if key != "Tags"})
        body["name"] = body.pop("usagePlanName", resource_name)
        body["tags"] = {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}
        return body

    class CfnUsagePlan(CloudFormationModel):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names

        def __init__(self, plan: UsagePlan) -> None:
            self.plan = plan

        @property
        def physical_resource_id(self) -> str:
            return self.plan.id

        @staticmethod
        def cloudformation_name_type() -> str:
            return "UsagePlanName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::UsagePlan"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnUsagePlan":
            backend: APIGatewayBackend = apigateway_backends[account_id][region_name]
            return cls(backend.create_usage_plan(settings(cloudformation_json["Properties"], resource_name)))

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: "CfnUsagePlan",
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> "CfnUsagePlan":
            plan_id = original_resource.plan.id
            plan = UsagePlan(plan_id, **settings(cloudformation_json["Properties"], new_resource_name))
            apigateway_backends[account_id][region_name].usage_plans[plan_id] = plan
            return cls(plan)

        def delete(self, account_id: str, region_name: str) -> None:
            apigateway_backends[account_id][region_name].usage_plans.pop(self.plan.id, None)

    _register_resource_type(CfnUsagePlan)


def lambda_architectures_applied() -> None:
    """``AWS::Lambda::Function`` gets the ``Architectures`` of its template.

    moto's CloudFormation handler for functions passes only some properties to
    ``CreateFunction`` and drops ``Architectures``, so our arm64 functions come out
    as x86_64 (moto's default), while real CloudFormation creates them for arm64,
    the platform our bundles' compiled wheels are built for. The patch sets the
    template's architectures (through moto's own validating setter) after moto
    creates or updates the function.
    """
    from moto.awslambda.models import LambdaFunction

    def apply(function: LambdaFunction, properties: dict[str, Any]) -> None:
        function.architectures = properties.get("Architectures", ["x86_64"])

    _after_cloudformation_handlers(LambdaFunction, apply)


def api_method_authorizer_applied() -> None:
    """``AWS::ApiGateway::Method`` gets the ``AuthorizerId`` and request parameters of its template.

    moto's CloudFormation handler for methods passes only the HTTP method,
    authorization type, ``ApiKeyRequired`` and the integration, so our methods
    have no authorizer and do not require the ``x-api-key`` header. Real
    CloudFormation applies both (``PutMethod``). The patch sets them on moto's
    method after moto creates it; with :func:`api_authorizer_resource` the id is
    the authorizer's.
    """
    from moto.apigateway.models import Method

    def apply(method: Method, properties: dict[str, Any]) -> None:
        method.authorizer_id = properties.get("AuthorizerId")
        method.request_parameters = properties.get("RequestParameters")

    _after_cloudformation_handlers(Method, apply)


def no_echo_parameters_masked() -> None:
    """``describe_stacks`` and ``describe_change_set`` show ``NoEcho`` parameter values as ``****``.

    moto means to mask them in ``describe_stacks`` but compares each parameter's
    *value* with the list of ``NoEcho`` *keys*, and does not mask change sets at
    all, so our ExternalId is shown in clear to anyone who can describe the stack.
    Real CloudFormation masks both, which is why the link takes the ExternalId as
    a ``NoEcho`` parameter. The patch masks by key, in both answers.
    """
    from moto.cloudformation.models import ChangeSet, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def masked(parameters: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
        declared = template.get("Parameters") or {}
        return {
            key: "****" if str(declared.get(key, {}).get("NoEcho", "false")).lower() == "true" else value
            for key, value in parameters.items()
        }

    def parameter_list(self: Stack) -> list[dict[str, Any]]:
        shown = masked(self.resource_map.resolved_parameters, self.resource_map._template)
        return [{"ParameterKey": key, "ParameterValue": value} for key, value in shown.items()]

    def describe_change_set(self: CloudFormationResponse) -> ActionResult:
        change_set: ChangeSet = self.cloudformation_backend.describe_change_set(self._get_param("ChangeSetName"))
        shown = copy.copy(change_set)
        shown.parameters = masked(change_set.parameters, change_set.template_dict)
        return ActionResult(shown)

    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign,assignment]
    CloudFormationResponse.describe_change_set = describe_change_set  # type: ignore[method-assign]


def rest_api_settings_applied() -> None:
    """``AWS::ApiGateway::RestApi`` gets the API key source, endpoint types and tags of its template.

    moto's handler passes only name, description and ``EndpointConfiguration``
    (whose ``Types`` it then does not read, expecting the REST API's ``types``),
    so our API reports ``apiKeySource: HEADER``, no endpoint types and no tags.
    Real CloudFormation applies all three; ``AUTHORIZER`` is what lets our
    authorizer pick the usage-plan key per consumer. The patch sets them after
    moto creates the API.
    """
    from moto.apigateway.models import RestAPI

    def apply(api: RestAPI, properties: dict[str, Any]) -> None:
        api.api_key_source = properties.get("ApiKeySourceType", "HEADER")
        api.endpoint_configuration = _lower_camel_keys(properties.get("EndpointConfiguration", {"Types": ["EDGE"]}))
        api.tags = {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}

    _after_cloudformation_handlers(RestAPI, apply)


def rest_api_deleted_with_its_stack() -> None:
    """Deleting the stack deletes its ``AWS::ApiGateway::RestApi``.

    moto's ``RestAPI`` model has neither ``delete`` nor
    ``delete_from_cloudformation_json``, and moto's stack deletion silently skips
    such resources, so the REST API (with its resources, methods and stages)
    outlives ``delete_stack``; real CloudFormation deletes it. The patch deletes
    it through moto's own backend, as ``DeleteRestApi`` would.
    """
    from moto.apigateway.models import RestAPI, apigateway_backends

    def delete(self: RestAPI, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].apis.pop(self.id, None)

    RestAPI.delete = delete  # type: ignore[attr-defined]


def managed_policy_deleted_with_its_stack() -> None:
    """Deleting the stack deletes its ``AWS::IAM::ManagedPolicy``.

    moto's ``ManagedPolicy`` has no delete handler, so the link's permissions
    boundary outlives ``delete_stack`` and linking the account again fails with
    ``EntityAlreadyExists``; real CloudFormation deletes the policy. The patch
    removes it from moto's IAM backend, as ``DeletePolicy`` would.
    """
    from moto.iam.models import ManagedPolicy

    def delete(self: ManagedPolicy, account_id: str, region_name: str) -> None:
        self.backend.managed_policies.pop(self.arn, None)

    ManagedPolicy.delete = delete  # type: ignore[attr-defined]


def change_set_adds_in_dependency_order() -> None:
    """A change set creates its new resources after the resources they depend on.

    moto's ``ResourceMap.update`` (which ``execute_change_set`` runs, also for a
    ``CREATE`` change set) creates added resources in template order. References
    (``Ref``, ``Fn::GetAtt``) are still resolved by creating the target on demand,
    but ``DependsOn`` is ignored, so our ``AWS::ApiGateway::Deployment`` (which
    ``DependsOn`` the API's methods, as CDK emits it) is created before any method
    and fails with "The REST API doesn't contain any methods". ``create_stack``
    orders by ``DependsOn``; real CloudFormation orders every operation by
    ``DependsOn`` and by references. The patch sorts the diff's "Add" list in that
    order, which ``update`` then follows; the template is correct.
    """
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff

    def build_resource_diff(self: ResourceMap, other_template: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        diff = original(self, other_template, *args, **kwargs)
        order = dependency_order(other_template["Resources"])
        diff["Add"] = sorted(diff["Add"], key=order.index)
        return diff

    ResourceMap.build_resource_diff = build_resource_diff  # type: ignore[method-assign]


def resources_without_update_handler_are_kept() -> None:
    """A modified resource of a type moto cannot update stays part of its stack.

    moto has no update handler for several of our types (``AWS::Logs::LogGroup``,
    ``AWS::DynamoDB::Table``, ``AWS::ApiGateway::RestApi``, ``Method``,
    ``AWS::IAM::ManagedPolicy``, ...). When an update modifies one, its
    ``ResourceMap.update`` stores ``None`` in the resource's place: the resource
    disappears from ``list_stack_resources`` (a blank entry), a later ``Ref`` to it
    gives ``None``, and ``delete_stack`` leaves it behind. Real CloudFormation
    updates it. The patch keeps the existing resource; the new properties are
    still not applied (the README lists that).
    """
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        return updated if updated is not None else resources_map[logical_id]

    parsing.parse_and_update_resource = parse_and_update_resource


def unchanged_update_change_set_fails_softly() -> None:
    """An ``UPDATE`` change set without changes is created with status ``FAILED``.

    When parameters are passed (the link's ExternalId always is), moto's
    ``CreateChangeSet`` rejects an unchanged template with ``ValidationError: No
    updates are to be performed.``, which is ``UpdateStack``'s answer. Real
    CloudFormation creates the change set and reports it ``FAILED`` with "The
    submitted information didn't contain changes...", which moto's backend already
    does without parameters and which deploy tools (``apid``, like ``cdk``) read
    as "nothing to do". The patch skips the ``UpdateStack`` check for change sets only.
    """
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.create_change_set

    def create_change_set(self: CloudFormationResponse) -> Any:
        self._validate_different_update = lambda *args: None  # type: ignore[method-assign]
        return original(self)

    CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]


def change_set_execution_publishes_outputs() -> None:
    """After ``execute_change_set``, the stack's outputs are those of the new template.

    moto builds a stack's output map when the stack object is created; a ``CREATE``
    change set creates it with an empty template, and executing a change set only
    replaces the template *string*. So ``describe_stacks`` shows no ``Outputs`` after
    a change-set deployment (and stale ones after an update), while real
    CloudFormation shows the outputs of the template just applied, which is where
    ``apid deploy`` reads the API URL from. The patch re-parses the template and
    rebuilds the output map after moto's own execution.
    """
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]  # type: ignore[union-attr]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]


def create_change_set_reuses_a_stack_in_review() -> None:
    """A ``CREATE`` change set for a stack in ``REVIEW_IN_PROGRESS`` is made on that stack.

    A first deploy stopped after its change set was made leaves the stack in
    ``REVIEW_IN_PROGRESS``; the rerun deletes the old change set and makes a new
    ``CREATE`` one, which real CloudFormation attaches to the same stack (same
    StackId). moto makes a second stack of the same name, executes the new change
    set on that one, and keeps answering ``describe_stacks`` with the first, still
    in review. The patch hands moto's backend the existing stack instead.
    """
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.create_change_set

    def create_change_set(
        self: CloudFormationBackend,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, str],
        description: str,
        change_set_type: str,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[str, str]:
        in_review = next(
            (
                stack
                for stack in self.stacks.values()
                if stack.name == stack_name and stack.status == "REVIEW_IN_PROGRESS"
            ),
            None,
        )
        if change_set_type != "CREATE" or in_review is None:
            return original(
                self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs
            )
        del self.stacks[in_review.stack_id]  # moto adds the stack it makes; the one in review takes its place
        change_set_id, stack_id = original(
            self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs
        )
        made = self.stacks.pop(stack_id)
        self.stacks[in_review.stack_id] = in_review
        change_set = self.change_sets[change_set_id]
        change_set.stack, change_set.stack_id = in_review, in_review.stack_id
        in_review.parameters, in_review.tags, in_review.role_arn = made.parameters, made.tags, made.role_arn
        return change_set_id, in_review.stack_id

    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]


def lambda_targets_recorded_not_run() -> None:
    """Deliver an EventBridge rule's event for a Lambda target into a log group instead of running it.

    moto's rules cannot deliver to Lambda targets (``send_to_targets`` raises
    ``NotImplementedError``, so the whole ``PutEvents`` fails with a 500), and moto
    could not run the function anyway: it runs Lambda code only in Docker. Real
    EventBridge invokes the function asynchronously and ``PutEvents`` succeeds. The
    patch writes the event the function would have received, as JSON, to the log
    group ``/emulator/lambda/<function name>``, so tests can assert that it arrived.
    """
    from moto.events.models import Rule, parse_arn
    from moto.logs.models import logs_backends

    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        functions = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        for target in functions:
            arn = parse_arn(target["Arn"])
            logs = logs_backends[arn.account][arn.region]
            group = f"/emulator/lambda/{arn.resource_id}"
            if group not in logs.groups:
                logs.create_log_group(group, {})
                logs.create_log_stream(group, "events")
            logs.put_log_events(
                group,
                "events",
                [{"timestamp": int(time.time() * 1000), "message": json.dumps(original_event, default=str)}],
            )
        saved = self.targets
        self.targets = [t for t in saved if t not in functions]
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def delivered_events_name_their_account() -> None:
    """Events EventBridge delivers to a target carry ``account``, the account that sent them.

    moto's default target input template leaves ``account`` out (its paths map has
    it, the template does not), so an SQS target receives events without it. Real
    EventBridge always includes it; the control plane's aggregator relies on it to
    check that usage comes from the account the API is listed from.
    """
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
        '"version": "0",', '"version": "0", "account": "<account>",'
    )


def cognito_user_pool_resource() -> None:
    """Create ``AWS::Cognito::UserPool`` resources instead of skipping them.

    moto has no CloudFormation support for Cognito: it warns and skips the pool, so
    ``Ref`` (its id) and ``Fn::GetAtt`` (``Arn``, ``ProviderName``, ``ProviderURL``)
    give nothing and the control plane's template fails ("Fn::GetAtt references
    undefined resource"), while real CloudFormation creates the pool. The patch
    creates it through moto's own backend as ``CreateUserPool`` would: the
    template's properties are that call's parameters (username and auto-verified
    attributes, schema with its custom attributes, password policy, account
    recovery, deletion protection, ``LambdaConfig``, which moto stores but whose
    triggers it cannot run), but for the name (``UserPoolName``, else generated)
    and ``EnabledMfas``, which CloudFormation applies with ``SetUserPoolMfaConfig``.
    Deleting a pool whose ``DeletionProtection`` is ``ACTIVE`` fails, as in Cognito
    (moto's own ``DeleteUserPool`` ignores it); a ``DeletionPolicy: Retain`` pool,
    like ours, is never deleted (moto honours the policy). An update keeps the pool
    and its old properties (moto has no update handler for it; the README lists that).
    """
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpUserPool, cognitoidp_backends
    from moto.core.common_models import CloudFormationModel

    class CfnUserPool(CloudFormationModel):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names

        def __init__(self, pool: CognitoIdpUserPool) -> None:
            self.pool = pool

        @property
        def physical_resource_id(self) -> str:
            return self.pool.id

        @staticmethod
        def cloudformation_name_type() -> str:
            return "UserPoolName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Cognito::UserPool"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "ProviderName", "ProviderURL")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            provider = f"cognito-idp.{self.pool.region}.amazonaws.com/{self.pool.id}"
            attributes = {"Arn": self.pool.arn, "ProviderName": provider, "ProviderURL": f"https://{provider}"}
            if attribute_name not in attributes:
                raise UnformattedGetAttTemplateException()
            return attributes[attribute_name]

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnUserPool":
            properties = dict(cloudformation_json["Properties"])
            properties.pop("UserPoolName", None)
            enabled_mfas = properties.pop("EnabledMfas", [])
            backend = cognitoidp_backends[account_id][region_name]
            pool = backend.create_user_pool(resource_name, properties)
            if "SOFTWARE_TOKEN_MFA" in enabled_mfas:
                backend.set_user_pool_mfa_config(pool.id, None, {"Enabled": True}, pool.mfa_config)
            return cls(pool)

        def delete(self, account_id: str, region_name: str) -> None:
            if self.pool.extended_config.get("DeletionProtection") == "ACTIVE":
                raise InvalidParameterException(
                    "The user pool cannot be deleted because deletion protection is activated."
                )
            cognitoidp_backends[account_id][region_name].user_pools.pop(self.pool.id, None)

    _register_resource_type(CfnUserPool)


def cognito_user_pool_client_resource() -> None:
    """Create ``AWS::Cognito::UserPoolClient`` resources instead of skipping them.

    moto skips app clients, so ``Ref`` to ours (the client id, which real
    CloudFormation gives) is ``None``: the control plane's ``AppClientId`` output
    and the API's ``APID_CP_APP_CLIENT_ID`` are empty and nobody can sign in. The
    patch creates the client through moto's own backend as
    ``CreateUserPoolClient`` would: the template's properties are that call's
    parameters (explicit auth flows, token validity and units, read and write
    attributes, ``GenerateSecret``, ``PreventUserExistenceErrors``, ...), with the
    name ``ClientName`` or a generated one. Deletion tolerates a pool already
    deleted, which takes its clients with it. An update keeps the client and its
    old properties.
    """
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import CognitoIdpUserPoolClient, cognitoidp_backends
    from moto.core.common_models import CloudFormationModel

    class CfnUserPoolClient(CloudFormationModel):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names

        def __init__(self, client: CognitoIdpUserPoolClient) -> None:
            self.client = client

        @property
        def physical_resource_id(self) -> str:
            return str(self.client.id)

        @staticmethod
        def cloudformation_name_type() -> str:
            return "ClientName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Cognito::UserPoolClient"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnUserPoolClient":
            properties = dict(cloudformation_json["Properties"])
            pool_id = properties.pop("UserPoolId")
            generate_secret = properties.pop("GenerateSecret", False)
            client = cognitoidp_backends[account_id][region_name].create_user_pool_client(
                pool_id, generate_secret, {**properties, "ClientName": resource_name}
            )
            return cls(client)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                cognitoidp_backends[account_id][region_name].delete_user_pool_client(
                    self.client.user_pool_id, self.client.id
                )
            except ResourceNotFoundError:
                pass

    _register_resource_type(CfnUserPoolClient)


def cognito_user_pool_group_resource() -> None:
    """Create ``AWS::Cognito::UserPoolGroup`` resources instead of skipping them.

    moto skips user pool groups, so our ``creators`` and ``consumers`` groups do
    not exist and the post-confirmation step (which adds each new user to the group
    of the role they signed up for) fails. Real CloudFormation creates them, and
    ``Ref`` gives the group's name. The patch creates the group through moto's own
    backend as ``CreateGroup`` would, with name, description, precedence and role.
    Deletion tolerates a pool already deleted, which takes its groups with it. An
    update keeps the group and its old properties.
    """
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import CognitoIdpGroup, cognitoidp_backends
    from moto.core.common_models import CloudFormationModel

    class CfnUserPoolGroup(CloudFormationModel):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names

        def __init__(self, group: CognitoIdpGroup) -> None:
            self.group = group

        @property
        def physical_resource_id(self) -> str:
            return self.group.group_name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "GroupName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Cognito::UserPoolGroup"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnUserPoolGroup":
            properties = cloudformation_json["Properties"]
            group = cognitoidp_backends[account_id][region_name].create_group(
                properties["UserPoolId"],
                resource_name,
                properties.get("Description"),
                properties.get("RoleArn"),
                properties.get("Precedence"),
            )
            return cls(group)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                cognitoidp_backends[account_id][region_name].delete_group(
                    self.group.user_pool_id, self.group.group_name
                )
            except ResourceNotFoundError:
                pass

    _register_resource_type(CfnUserPoolGroup)


def secret_resource() -> None:
    """Create ``AWS::SecretsManager::Secret`` resources instead of skipping them.

    moto skips secrets, so ``Ref`` to our Stripe secret (its ARN, in real
    CloudFormation) is ``None``: the ``StripeSecretArn`` output is empty, the
    functions' ``APID_CP_STRIPE_SECRET_ARN`` says "None" and the grants to read it
    name no resource. The patch creates the secret through moto's own backend as
    CloudFormation does: ``GenerateSecretString`` through ``GetRandomPassword``
    (the password alone, or set as ``GenerateStringKey`` of
    ``SecretStringTemplate``), then ``CreateSecret`` with name (``Name``, else
    generated), description, KMS key and tags. ``SecretString`` and
    ``GenerateSecretString`` together are rejected, as CloudFormation rejects
    them. Deletion deletes without a recovery window, so a redeploy may reuse the
    name; a ``DeletionPolicy: Retain`` secret, like ours, is kept. An update keeps
    the secret and its old value.
    """
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    def secret_string(backend: Any, properties: dict[str, Any]) -> str | None:
        if "SecretString" in properties and "GenerateSecretString" in properties:
            raise ValidationError(message="SecretString and GenerateSecretString cannot both be specified")
        generate = properties.get("GenerateSecretString")
        if generate is None:
            return properties.get("SecretString")
        password: str = json.loads(
            backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=generate.get("ExcludeNumbers", False),
                exclude_punctuation=generate.get("ExcludePunctuation", False),
                exclude_uppercase=generate.get("ExcludeUppercase", False),
                exclude_lowercase=generate.get("ExcludeLowercase", False),
                include_space=generate.get("IncludeSpace", False),
                require_each_included_type=generate.get("RequireEachIncludedType", True),
            )
        )["RandomPassword"]
        if "GenerateStringKey" not in generate:
            return password
        return json.dumps({**json.loads(generate["SecretStringTemplate"]), generate["GenerateStringKey"]: password})

    class CfnSecret(CloudFormationModel):
        __module__ = _MOTO_SECRETSMANAGER  # moto files every model under the service its module names

        def __init__(self, arn: str) -> None:
            self.arn = arn

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> "CfnSecret":
            properties = cloudformation_json["Properties"]
            backend = secretsmanager_backends[account_id][region_name]
            created = json.loads(
                backend.create_secret(
                    name=resource_name,
                    secret_string=secret_string(backend, properties),
                    secret_binary=None,
                    description=properties.get("Description", ""),
                    tags=properties.get("Tags", []),
                    kms_key_id=properties.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            return cls(created["ARN"])

        def delete(self, account_id: str, region_name: str) -> None:
            secretsmanager_backends[account_id][region_name].delete_secret(
                self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
            )

    _register_resource_type(CfnSecret)


def transactions_snapshot_only_their_items() -> None:
    """A DynamoDB transaction costs the same however large its table is.

    Before it starts, moto's ``transact_write_items`` deep-copies the whole table
    once per operation, to put it back if the transaction is cancelled: a
    transaction's cost grows with the table's size times its operations. Through
    the emulator the usage aggregator slowed as the table filled (66 records/s at a
    few hundred items, 71% of the time in ``copy.deepcopy``). DynamoDB's
    transactions do not slow with table size. The patch keeps moto's transaction
    logic and its cancellation reasons; while a transaction runs, its table
    "copies" are the tables themselves, and on any failure only the items the
    transaction names (and the stream records it added) are put back.
    """
    import threading

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    running = threading.local()

    class TransactionCopy:
        """``copy`` as ``moto.dynamodb.models`` sees it: no table copies inside a transaction."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(node: Any, memo: dict[int, Any] | None = None) -> Any:
            if isinstance(node, Table) and getattr(running, "active", False):
                return node
            return copy.deepcopy(node, memo)

    def snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[Callable[[], None]]:
        """For each item the transaction names, how to put it back as it is now."""
        undo: list[Callable[[], None]] = []
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            try:
                table = backend.get_table(op["TableName"])
                keys = op["Item"] if "Item" in op else op["Key"]
                hash_key, range_key = backend.get_keys_value(table, keys)
            except Exception:  # moto refuses this operation itself; it writes nothing to put back
                continue
            undo.append(restorer(table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            if table.stream_shard is not None:
                shard, length = table.stream_shard, len(table.stream_shard.items)
                undo.append(lambda shard=shard, length=length: shard.items.__delitem__(slice(length, None)))
        return undo

    def restorer(table: Table, hash_key: Any, range_key: Any, item: Any) -> Callable[[], None]:
        def restore() -> None:
            if range_key is None:
                table.items.pop(hash_key, None)
                if item is not None:
                    table.items[hash_key] = item
                return
            table.items[hash_key].pop(range_key, None)
            if item is not None:
                table.items[hash_key][range_key] = item
            elif not table.items[hash_key]:
                del table.items[hash_key]

        return restore

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = snapshot(self, transact_items)
        running.active = True
        try:
            original(self, transact_items)
        except Exception:
            for step in reversed(undo):
                step()
            raise
        finally:
            running.active = False

    models.copy = TransactionCopy()  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


PATCHES: tuple[Callable[[], None], ...] = (
    event_bus_ref_is_its_name,
    api_deployment_ref_is_its_id,
    api_stage_resource,
    api_authorizer_resource,
    api_usage_plan_resource,
    rest_api_settings_applied,
    rest_api_deleted_with_its_stack,
    managed_policy_deleted_with_its_stack,
    lambda_architectures_applied,
    api_method_authorizer_applied,
    no_echo_parameters_masked,
    change_set_adds_in_dependency_order,
    resources_without_update_handler_are_kept,
    unchanged_update_change_set_fails_softly,
    change_set_execution_publishes_outputs,
    create_change_set_reuses_a_stack_in_review,
    lambda_targets_recorded_not_run,
    delivered_events_name_their_account,
    cognito_user_pool_resource,
    cognito_user_pool_client_resource,
    cognito_user_pool_group_resource,
    secret_resource,
    transactions_snapshot_only_their_items,
)
#: moto finds resource types through ``CloudFormationModel.__subclasses__()``,
#: which holds only weak references: the classes the patches add live here.
_ADDED_RESOURCE_TYPES: list[type] = []


def _register_resource_type(model: type) -> None:
    """Make moto's (cached) resource-type lookup see a class defined by a patch."""
    from moto.cloudformation import parsing

    _ADDED_RESOURCE_TYPES.append(model)
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids ordered so that each comes after everything it depends on.

    Dependencies are what CloudFormation uses: ``DependsOn``, ``Ref``,
    ``Fn::GetAtt`` and the ``${Name}`` / ``${Name.Attr}`` variables of ``Fn::Sub``,
    restricted to resources of the template. Ties keep template order.
    """
    ordered: list[str] = []
    placed: set[str] = set()

    def visit(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dependency in sorted(_dependencies(resources[name]) & resources.keys(), key=list(resources).index):
            visit(dependency)
        ordered.append(name)

    for name in resources:
        visit(name)
    return ordered


def _dependencies(resource: dict[str, Any]) -> set[str]:
    depends_on = resource.get("DependsOn", [])
    found = {depends_on} if isinstance(depends_on, str) else set(depends_on)
    _references(resource.get("Properties", {}), found)
    return found


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _references(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                template, variables = value if isinstance(value, list) else (value, {})
                found.update(name.split(".")[0] for name in _SUB_VARIABLE.findall(template))
                _references(variables, found)
            else:
                _references(value, found)


def _after_cloudformation_handlers(model: Any, apply: Callable[[Any, dict[str, Any]], None]) -> None:
    """Run ``apply(resource, properties)`` after moto's create (and, if it has one, update) handler."""
    original_create = model.create_from_cloudformation_json.__func__

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        resource = original_create(cls, resource_name, cloudformation_json, *args, **kwargs)
        apply(resource, cloudformation_json["Properties"])
        return resource

    model.create_from_cloudformation_json = classmethod(create)
    if getattr(model.update_from_cloudformation_json, "__isabstractmethod__", False):
        return
    original_update = model.update_from_cloudformation_json.__func__

    def update(
        cls: type,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        resource = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        apply(resource, cloudformation_json["Properties"])
        return resource

    model.update_from_cloudformation_json = classmethod(update)


def _lower_camel_keys(node: Any) -> Any:
    """CloudFormation's ``UpperCamel`` property names as API Gateway's ``lowerCamel`` ones."""
    if isinstance(node, dict):
        return {key[:1].lower() + key[1:]: _lower_camel_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_lower_camel_keys(item) for item in node]
    return node


def apply_patches() -> None:
    """Apply every patch, in order; only ever in the server's own process."""
    for patch in PATCHES:
        patch()


def main(argv: list[str] | None = None) -> None:
    """Patch moto, then run its server (``moto.server.main``) with the same arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    apply_patches()
    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


@contextmanager
def running_moto_server() -> Iterator[str]:
    """The endpoint URL of a patched moto server in a subprocess, stopped on exit.

    A subprocess (not a thread) so the server's moto backends are separate from
    any in-process ``mock_aws`` a test also uses, exactly as AWS would be.
    """
    with tempfile.TemporaryFile() as log:
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "api_direct.local.emulator", "--host", HOST, "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                endpoint = f"http://{HOST}:{port}"
                if _wait_until_answering(endpoint, process):
                    yield endpoint
                    return
            finally:
                _stop(process)
        log.seek(0)
        raise RuntimeError(f"moto server did not start; its output:\n{log.read().decode(errors='replace')[-4000:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes]) -> bool:
    """True once the server answers HTTP; False if it exited (e.g. port taken) or timed out."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with no_proxy.open(f"{endpoint}/moto-api/config", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


if __name__ == "__main__":
    main()
