"""Jinja2Templates: pages whose links come from url_for (routes and the mounted static files) behind the stage."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
app = FastAPI()
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
templates = Jinja2Templates(directory=HERE / "templates")
STATIONS = {"zrh": "Zürich", "osl": "Oslo"}


@app.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"stations": STATIONS})


@app.get("/stations/{code}", response_class=HTMLResponse, name="station")
def station(request: Request, code: str) -> HTMLResponse:
    name = STATIONS.get(code)
    return templates.TemplateResponse(
        request, "station.html", {"code": code, "name": name}, status_code=200 if name else 404
    )
