"""Control-plane key events as EventBridge hands them to key sync, for the tests of key sync."""

from typing import Any

from api_direct.contracts import CONTROL_PLANE_SOURCE as SOURCE

T1 = "2026-11-25T13:00:00Z"


def event(detail_type: str, detail: dict[str, Any], time: str, source: str = SOURCE) -> dict[str, Any]:
    """A control-plane event as EventBridge delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "111111111111",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
