"""HTML and plain-text responses: response_class, charsets, custom media types, headers set on the response."""

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

app = FastAPI()


@app.get("/page", response_class=HTMLResponse)
def page() -> str:
    return "<!doctype html><html><head><title>Météo</title></head><body><h1>Grüß Gott ☀</h1></body></html>"


@app.get("/plain", response_class=PlainTextResponse)
def plain() -> str:
    return "line one\nline two — with a dash\n"


@app.get("/csv")
def csv() -> Response:
    return Response(
        "city,temp\nZürich,21\nOslo,9\n",
        media_type="text/csv",
        headers={"Content-Disposition": 'inline; filename="temps.csv"', "Cache-Control": "max-age=60"},
    )


@app.get("/xml")
def xml() -> Response:
    return Response('<?xml version="1.0"?><weather city="Oslo"/>', media_type="application/xml")


@app.get("/problem")
def problem() -> Response:
    return Response('{"type":"about:blank","title":"Teapot"}', status_code=418, media_type="application/problem+json")


@app.get("/headers")
def headers(response: Response) -> dict:
    response.headers["ETag"] = '"v1-abc"'
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Powered-By"] = "compat"
    response.headers["Content-Language"] = "de-CH"
    return {"ok": True}


@app.get("/latin-1-header")
def latin_1_header(response: Response) -> dict:
    """Starlette encodes header values as latin-1, as HTTP/1.1 allows: an é is one byte on the wire."""
    response.headers["X-City"] = "Zürich"
    return {"ok": True}
