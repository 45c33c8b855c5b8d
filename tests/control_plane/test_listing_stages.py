"""A listing names the stage it publishes: consumers' key events go to that stage's key bus, and an API with
subscribers stays on its stage (their keys live in its table)."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from api_direct.contracts import creator_key_bus_arn
from tests.control_plane.marketplace import CREATOR_ACCOUNT, CREATOR_REGION, Headers, publish, published, set_counters
from tests.control_plane.resources import BUS


def key_bus_target(aws: Callable[[str], Any]) -> str:
    [target] = aws("events").list_targets_by_rule(Rule="apid-keys-weather-api", EventBusName=BUS)["Targets"]
    return str(target["Arn"])


def test_a_published_stage_gets_the_key_events(api: TestClient, alice: Headers, aws: Callable[[str], Any]) -> None:
    listing = published(api, alice, stage="prod")
    assert listing["api_id"] == "weather-api"
    assert key_bus_target(aws) == creator_key_bus_arn(CREATOR_ACCOUNT, CREATOR_REGION, "weather-api", "prod")
    assert key_bus_target(aws).endswith(":event-bus/apid-weather-api-prod-keys")


def test_without_a_stage_the_unnamed_stage_s_bus(api: TestClient, alice: Headers, aws: Callable[[str], Any]) -> None:
    published(api, alice)
    assert key_bus_target(aws).endswith(":event-bus/apid-weather-api-keys")


def test_another_stage_reroutes_unless_there_are_subscribers(
    api: TestClient, alice: Headers, aws: Callable[[str], Any]
) -> None:
    published(api, alice, stage="dev")
    published(api, alice, stage="prod")
    assert key_bus_target(aws).endswith(":event-bus/apid-weather-api-prod-keys")
    set_counters("weather-api", subscribers=1)
    response = publish(api, alice, stage="dev")
    assert response.status_code == 409
    assert "stage prod); it cannot move to another account, region or stage" in response.json()["detail"]
    assert key_bus_target(aws).endswith(":event-bus/apid-weather-api-prod-keys")


def test_a_bad_stage_name_is_a_problem_that_changes_nothing(api: TestClient, alice: Headers) -> None:
    response = publish(api, alice, stage="Prod")
    assert response.status_code == 422 and "stage" in response.json()["detail"]
    assert api.get("/listings/weather-api").status_code == 404
