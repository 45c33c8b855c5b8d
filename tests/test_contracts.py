"""The contracts agree with the code on each side of them."""

from decimal import Decimal

from api_direct import contracts
from api_direct.control_plane.api.problems import problem_response
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.runtime import key_sync


def test_every_setting_is_in_the_contracts_in_the_models_order() -> None:
    assert tuple(ControlPlaneSettings.model_fields) == ("region", *contracts.CONTROL_PLANE_SETTINGS)


def test_the_environment_the_stack_writes_reads_back_as_the_settings_defaults() -> None:
    written = contracts.control_plane_environment(
        account_id="111122223333", table_name="t", event_bus_name="b", user_pool_id="p", app_client_id="c"
    )
    settings = ControlPlaneSettings.from_environment({"AWS_REGION": "eu-west-1", **written})
    assert settings.environment() == written
    assert (settings.currency, settings.platform_fee_percent) == ("usd", Decimal("20"))


def test_an_unknown_setting_is_refused() -> None:
    try:
        contracts.control_plane_environment(table_nmae="t")
    except TypeError as error:
        assert "table_nmae" in str(error)
    else:
        raise AssertionError("an unknown setting was accepted")


def test_a_problem_from_the_gateway_is_the_apps_byte_for_byte() -> None:
    for status in (401, 403, 404):
        response = problem_response(status, "no “listing” here")
        assert response.body == contracts.problem_body(status, "no “listing” here")
        assert {k: v for k, v in response.headers.items() if k != "content-length"} == contracts.problem_headers(status)


def test_the_runtime_bundles_copy_of_the_event_source_is_the_contracts() -> None:
    # The runtime bundle ships only api_direct/runtime, so key sync keeps its own copy.
    assert key_sync.CONTROL_PLANE_SOURCE == contracts.CONTROL_PLANE_SOURCE
