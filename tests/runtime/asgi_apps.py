"""An ASGI app and REST proxy events for the adapter's tests."""

from typing import Any

from api_direct.local.rest_proxy import HttpRequest, RestProxy


def answering(headers: list[tuple[bytes, bytes]], body: bytes, seen: list[dict[str, Any]] | None = None):
    """An ASGI app with an empty lifespan that answers every request alike and remembers its scope."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if seen is not None:
            seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def event(path: str, stage: str = "v1") -> dict[str, Any]:
    """A REST proxy event for ``GET /<stage><path>``, the path percent-encoded as the client sent it."""
    return RestProxy(stage=stage).event(HttpRequest("GET", path))
