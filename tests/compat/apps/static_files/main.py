"""StaticFiles mounted under /static (and an html=True site): types, HEAD, conditional requests, 404, index.html."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

app = FastAPI()
STATIC = Path(__file__).parent / "static"
app.mount("/static", StaticFiles(directory=STATIC), name="static")
app.mount("/site", StaticFiles(directory=STATIC / "docs", html=True), name="site")


@app.get("/")
def root() -> dict:
    return {"static": "/static"}
