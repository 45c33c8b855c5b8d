"""Redirects: each status, relative and absolute targets, url_for targets, and FastAPI's own trailing-slash redirect."""

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

app = FastAPI()


@app.get("/old")
def old() -> RedirectResponse:
    return RedirectResponse("/v1/new")


@app.get("/moved")
def moved() -> RedirectResponse:
    return RedirectResponse("https://example.com/elsewhere", status_code=301)


@app.get("/found")
def found(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("new"), status_code=302)


@app.post("/submit")
def submit(request: Request) -> RedirectResponse:
    return RedirectResponse(str(request.url_for("new")) + "?from=submit", status_code=303)


@app.get("/permanent")
def permanent() -> RedirectResponse:
    return RedirectResponse("new", status_code=308)


@app.get("/new", name="new")
def new() -> dict:
    return {"here": True}


@app.get("/slash/")
def slash() -> dict:
    return {"slash": True}


@app.get("/response-class", response_class=RedirectResponse, status_code=302)
def response_class() -> str:
    return "/v1/new"
