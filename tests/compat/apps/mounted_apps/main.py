"""Mounted sub-applications: a FastAPI sub-app with its own docs, a Starlette app, and a raw ASGI callable."""

from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

app = FastAPI(title="Main")
v2 = FastAPI(title="Version 2")


@app.get("/")
def root(request: Request) -> dict:
    return {"app": "main", "root_path": request.scope.get("root_path")}


@v2.get("/hello")
def v2_hello(request: Request) -> dict:
    return {
        "app": "v2",
        "root_path": request.scope.get("root_path"),
        "path": request.url.path,
        "url_for": str(request.url_for("v2_hello")),
    }


async def starlette_ping(request: Request) -> JSONResponse:
    return JSONResponse({"app": "starlette", "root_path": request.scope["root_path"], "path": request.url.path})


async def raw_asgi(scope, receive, send) -> None:
    body = f"{scope['root_path']} {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


app.mount("/v2", v2)
app.mount("/legacy", Starlette(routes=[Route("/ping", starlette_ping)]))
app.mount("/raw", raw_asgi)


@app.get("/plain")
def plain() -> PlainTextResponse:
    return PlainTextResponse("main plain")
