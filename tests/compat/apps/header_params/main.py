"""Header parameters: underscores as hyphens, repeated headers, the standard ones, the ones API Gateway adds."""

from typing import Annotated

from fastapi import FastAPI, Header, Request

app = FastAPI()


@app.get("/agent")
def agent(user_agent: Annotated[str | None, Header()] = None, accept: Annotated[str | None, Header()] = None) -> dict:
    return {"user_agent": user_agent, "accept": accept}


@app.get("/custom")
def custom(x_request_id: Annotated[str, Header()], x_retries: Annotated[int, Header()] = 0) -> dict:
    return {"x_request_id": x_request_id, "x_retries": x_retries}


@app.get("/repeated")
def repeated(x_tag: Annotated[list[str] | None, Header()] = None) -> dict:
    return {"x_tag": x_tag}


@app.get("/raw/{name}")
def raw(name: str, request: Request) -> dict:
    return {"values": request.headers.getlist(name)}


@app.get("/client")
def client(request: Request) -> dict:
    """What uvicorn's --proxy-headers makes of X-Forwarded-*: the client's address and the scheme."""
    return {
        "client": list(request.client) if request.client else None,
        "scheme": request.url.scheme,
        "host": request.headers["host"],
        "url": str(request.url),
        "base_url": str(request.base_url),
    }


@app.get("/echo-header")
def echo_header(x_echo: Annotated[str, Header()]) -> dict:
    return {"x_echo": x_echo}
