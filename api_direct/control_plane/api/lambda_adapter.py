"""Adapting the control plane app to API Gateway REST events (Mangum, plus the stage prefix)."""

from typing import Any

from mangum import Mangum
from mangum.types import ASGI
from starlette.types import ASGIApp, Receive, Scope, Send

from api_direct.control_plane.api.app import create_app
from api_direct.control_plane.api.settings import ControlPlaneSettings


def behind_stage(app: ASGIApp) -> ASGI:
    """Tell the app it is served under the REST API's stage (``/v1``).

    API Gateway strips the stage from the path it passes on, but browsers see it:
    without ``root_path`` the ``/docs`` page would fetch ``/openapi.json`` from
    outside the stage and fail.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        event: dict[str, Any] = scope.get("aws.event") or {}
        stage = (event.get("requestContext") or {}).get("stage")
        if scope["type"] == "http" and stage and stage != "$default":
            scope = {**scope, "root_path": f"/{stage}"}
        await app(scope, receive, send)

    return wrapped


def lambda_handler(settings: ControlPlaneSettings) -> Mangum:
    return Mangum(behind_stage(create_app(settings)), lifespan="off")
