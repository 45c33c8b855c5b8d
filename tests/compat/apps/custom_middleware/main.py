"""Middleware of the app's own: @app.middleware("http"), a pure ASGI middleware, headers added and rewritten."""

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

app = FastAPI()


class StampMiddleware:
    """Pure ASGI: adds a header to every response and counts the requests it saw."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.seen = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen += 1

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-stamp", b"compat"), (b"x-via-asgi", b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


app.add_middleware(StampMiddleware)


@app.middleware("http")
async def request_path_header(request: Request, call_next):
    request.state.tenant = request.headers.get("x-tenant", "public")
    response = await call_next(request)
    response.headers["X-Path"] = request.url.path
    response.headers["X-Root-Path"] = request.scope.get("root_path", "")
    response.headers.append("X-Multi", "one")
    response.headers.append("X-Multi", "two")
    return response


@app.get("/tenant")
def tenant(request: Request) -> dict:
    return {"tenant": request.state.tenant}


@app.post("/echo")
async def echo(request: Request) -> dict:
    return {"body": (await request.body()).decode(), "method": request.method}
