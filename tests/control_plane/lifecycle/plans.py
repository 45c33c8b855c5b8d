"""What the lifecycle tests share: weather-api's plans with a deprecated and a private one, subscribing."""

from typing import Any

from fastapi.testclient import TestClient

from tests.control_plane.marketplace import Headers, listing_body, published


def plans(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """weather-api's free and pro plans plus ``old`` (deprecated) and ``vip`` (private), each changed as given."""
    free, pro = listing_body()["plans"]
    every = {
        "free": free,
        "pro": pro,
        "old": {**free, "name": "old", "deprecated": True},
        "vip": {**pro, "name": "vip", "private": True},
    }
    return [{**plan, **changes.get(name, {})} for name, plan in every.items()]


def publish_plans(api: TestClient, creator: Headers, **changes: Any) -> dict[str, Any]:
    return published(api, creator, **{"plans": plans(), **changes})


def subscribe(api: TestClient, who: Headers, plan: str, invite: str | None = None) -> Any:
    body = {"api_id": "weather-api", "plan": plan, **({"invite": invite} if invite else {})}
    return api.post("/subscriptions", json=body, headers=who)
