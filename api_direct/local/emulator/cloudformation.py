"""Patches to moto's CloudFormation itself: change sets, their order and outputs, ``NoEcho``.

``apid`` deploys through change sets (created, described, executed), the path moto
follows least faithfully; these patches make that path build what CloudFormation
would, in the order it would.
"""

import copy
import re
from typing import Any


#: ``${Name}`` or ``${Name.Attr}`` in an ``Fn::Sub`` string; ``${!Literal}`` is not one.
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


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
        # moto types it optional, but raises ValidationError for a change set it does not have.
        change_set: ChangeSet = self.cloudformation_backend.describe_change_set(  # type: ignore[assignment]
            self._get_param("ChangeSetName")
        )
        shown = copy.copy(change_set)
        shown.parameters = masked(change_set.parameters, change_set.template_dict)
        return ActionResult(shown)

    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign,assignment]
    CloudFormationResponse.describe_change_set = describe_change_set  # type: ignore[method-assign]


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


def change_set_updates_before_it_adds_dependents() -> None:
    """A change set updates a resource before it creates the new resources that reference it.

    moto's ``ResourceMap.update`` creates every added resource before it updates
    any modified one. A new ``AWS::Lambda::Version`` of changed code is then
    published from the function as it was (moto returns the last version, AWS
    would refuse), and the update that changes the code comes after. Real
    CloudFormation orders every operation by reference, so the function is updated
    first. The patch runs the update in two passes: first the modified resources
    that an added one references (and that reference no added one themselves),
    then the whole template.
    """
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.update

    def update(self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        diff = self.build_resource_diff(template, parameters)
        new = template["Resources"]
        added = set(diff["Add"])
        referenced = set().union(*(_dependencies(new[name]) for name in added)) if added else set()
        early = [name for name in diff["Modify"] if name in referenced and not _dependencies(new[name]) & added]
        if early:
            first = {**self._template, "Resources": {**self._template["Resources"], **{n: new[n] for n in early}}}
            original(self, first, parameters)
        original(self, template, parameters)

    ResourceMap.update = update  # type: ignore[method-assign]


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


def removed_resources_are_forgotten() -> None:
    """A resource an update removed is created again when a later update adds it back.

    moto's ``ResourceMap.update`` deletes a removed resource but keeps it among its
    parsed resources, so when a later template adds the same logical id again,
    moto finds it there and creates nothing: the stack lists a resource that does
    not exist (a link whose GitHub access was removed and then granted again has no
    GitHub role). Real CloudFormation creates it anew. The patch forgets, after each
    update, the resources the new template no longer has.
    """
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.update

    def update(self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        before = set(self._resource_json_map)
        original(self, template, parameters)
        for logical_id in before - set(template["Resources"]):
            self._parsed_resources.pop(logical_id, None)

    ResourceMap.update = update  # type: ignore[method-assign]
