"""Cookies in and out: Cookie parameters, several Set-Cookie on one response, attributes, a deleted cookie."""

from datetime import datetime, UTC
from typing import Annotated

from fastapi import Cookie, FastAPI, Request, Response
from fastapi.responses import JSONResponse

app = FastAPI()
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@app.get("/read")
def read(session: Annotated[str | None, Cookie()] = None, theme: Annotated[str, Cookie()] = "light") -> dict:
    return {"session": session, "theme": theme}


@app.get("/all")
def all_cookies(request: Request) -> dict:
    return {"cookies": dict(sorted(request.cookies.items()))}


@app.post("/login")
def login(response: Response) -> dict:
    response.set_cookie("session", "s-123", httponly=True, secure=True, samesite="strict", path="/v1")
    response.set_cookie("theme", "dark")
    response.set_cookie("prefs", "a=1;b=2", domain="c0mpat1234.execute-api.us-east-1.amazonaws.com")
    return {"logged_in": True}


@app.post("/logout")
def logout() -> JSONResponse:
    response = JSONResponse({"logged_in": False})
    response.set_cookie("session", "", expires=LONG_AGO, path="/v1")
    response.set_cookie("theme", "", expires=LONG_AGO)
    return response
