"""Every patch to moto, in the order they are applied: the one list the tests hold their probes against.

Each patch lives with the others for its service and its docstring says what moto
does and what AWS does instead. ``tests/e2e/test_emulator.py`` keeps, for each
entry here, a probe proving unpatched moto still has the defect; a patch added
without a probe fails that test, and a probe that starts passing means moto fixed
the defect and the patch can go.
"""

from collections.abc import Callable

from api_direct.local.emulator.acm import certificate_issued_once_its_record_is_found
from api_direct.local.emulator.apigateway import (
    api_authorizer_resource,
    api_base_path_mapping_resource,
    api_deployment_ref_is_its_id,
    api_domain_name_resource,
    api_method_authorizer_applied,
    api_mock_integration_method,
    api_stage_resource,
    api_usage_plan_resource,
    rest_api_deleted_with_its_stack,
    rest_api_settings_applied,
)
from api_direct.local.emulator.cloudformation import (
    change_set_adds_in_dependency_order,
    change_set_execution_publishes_outputs,
    change_set_updates_before_it_adds_dependents,
    create_change_set_reuses_a_stack_in_review,
    no_echo_parameters_masked,
    removed_resources_are_forgotten,
    resources_without_update_handler_are_kept,
    unchanged_update_change_set_fails_softly,
)
from api_direct.local.emulator.cognito import (
    cognito_user_pool_client_resource,
    cognito_user_pool_group_resource,
    cognito_user_pool_resource,
)
from api_direct.local.emulator.dynamodb import (
    stream_records_kept_for_their_mapping,
    transactions_snapshot_only_their_items,
)
from api_direct.local.emulator.events import (
    delivered_events_name_their_account,
    event_bus_ref_is_its_name,
    lambda_targets_recorded_not_run,
)
from api_direct.local.emulator.iam import (
    managed_policy_deleted_with_its_stack,
    oidc_provider_resource,
    role_trust_policy_updated,
)
from api_direct.local.emulator.lambda_ import (
    lambda_alias_resource,
    lambda_architectures_applied,
    lambda_version_resource,
)
from api_direct.local.emulator.moto_api import model_data_skips_unreadable_attributes
from api_direct.local.emulator.secretsmanager import secret_resource

PATCHES: tuple[Callable[[], None], ...] = (
    event_bus_ref_is_its_name,
    api_deployment_ref_is_its_id,
    api_stage_resource,
    api_authorizer_resource,
    api_usage_plan_resource,
    rest_api_settings_applied,
    rest_api_deleted_with_its_stack,
    managed_policy_deleted_with_its_stack,
    oidc_provider_resource,
    role_trust_policy_updated,
    removed_resources_are_forgotten,
    lambda_architectures_applied,
    lambda_version_resource,
    lambda_alias_resource,
    api_method_authorizer_applied,
    api_mock_integration_method,
    no_echo_parameters_masked,
    change_set_adds_in_dependency_order,
    change_set_updates_before_it_adds_dependents,
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
    stream_records_kept_for_their_mapping,
    api_domain_name_resource,
    api_base_path_mapping_resource,
    certificate_issued_once_its_record_is_found,
    model_data_skips_unreadable_attributes,
)


def apply_patches() -> None:
    """Apply every patch, in order; only ever in the server's own process."""
    for patch in PATCHES:
        patch()
