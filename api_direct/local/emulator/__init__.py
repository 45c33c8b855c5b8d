"""moto's real server on loopback, with the fixes our CloudFormation templates need.

``apid sandbox`` and the end-to-end tests deploy the stacks the way ``apid`` deploys them against AWS:
change sets created, described and executed over HTTP. moto's CloudFormation
emulation has defects that stop correct templates from deploying, or deploy them
into something other than what AWS would build (an API URL ending in ``/None/``,
x86 functions, methods without their authorizer). Each defect is worked around by
one small, named patch, applied before the server starts, and each patch's
docstring says what moto does and what real CloudFormation does instead. A patch
only makes moto do what CloudFormation documents: none of them makes moto accept a
template AWS would reject. What moto still cannot show is listed in the README
("What the emulator cannot show") and pinned by tests.

The patches live one module per service (:mod:`.apigateway`, :mod:`.cloudformation`,
:mod:`.cognito`, :mod:`.dynamodb`, :mod:`.events`, :mod:`.iam`, :mod:`.lambda_`,
:mod:`.secretsmanager`) and are listed, in the order they apply, in one place:
:data:`.patches.PATCHES`. Importing this package does not import moto; a patch
imports what it patches when it is applied.

    python -m api_direct.local.emulator --host 127.0.0.1 --port 5000

:func:`running_moto_server` starts that module as a subprocess on a free port and
stops it afterwards.
"""

from api_direct.local.emulator.apigateway import (
    api_authorizer_resource,
    api_deployment_ref_is_its_id,
    api_method_authorizer_applied,
    api_stage_resource,
    api_usage_plan_resource,
    rest_api_deleted_with_its_stack,
    rest_api_settings_applied,
)
from api_direct.local.emulator.cloudformation import (
    change_set_adds_in_dependency_order,
    change_set_execution_publishes_outputs,
    create_change_set_reuses_a_stack_in_review,
    dependency_order,
    no_echo_parameters_masked,
    resources_without_update_handler_are_kept,
    unchanged_update_change_set_fails_softly,
)
from api_direct.local.emulator.cognito import (
    cognito_user_pool_client_resource,
    cognito_user_pool_group_resource,
    cognito_user_pool_resource,
)
from api_direct.local.emulator.dynamodb import transactions_snapshot_only_their_items
from api_direct.local.emulator.events import (
    delivered_events_name_their_account,
    event_bus_ref_is_its_name,
    lambda_targets_recorded_not_run,
)
from api_direct.local.emulator.iam import managed_policy_deleted_with_its_stack
from api_direct.local.emulator.lambda_ import lambda_architectures_applied
from api_direct.local.emulator.patches import PATCHES, apply_patches
from api_direct.local.emulator.secretsmanager import secret_resource
from api_direct.local.emulator.server import HOST, main, running_moto_server

__all__ = [
    "HOST",
    "PATCHES",
    "api_authorizer_resource",
    "api_deployment_ref_is_its_id",
    "api_method_authorizer_applied",
    "api_stage_resource",
    "api_usage_plan_resource",
    "apply_patches",
    "change_set_adds_in_dependency_order",
    "change_set_execution_publishes_outputs",
    "cognito_user_pool_client_resource",
    "cognito_user_pool_group_resource",
    "cognito_user_pool_resource",
    "create_change_set_reuses_a_stack_in_review",
    "delivered_events_name_their_account",
    "dependency_order",
    "event_bus_ref_is_its_name",
    "lambda_architectures_applied",
    "lambda_targets_recorded_not_run",
    "main",
    "managed_policy_deleted_with_its_stack",
    "no_echo_parameters_masked",
    "resources_without_update_handler_are_kept",
    "rest_api_deleted_with_its_stack",
    "rest_api_settings_applied",
    "running_moto_server",
    "secret_resource",
    "transactions_snapshot_only_their_items",
    "unchanged_update_change_set_fails_softly",
]
