"""GZipMiddleware: large bodies compressed when the client accepts gzip, small ones and others left alone."""

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)

ROWS = [{"station": f"ST{i:04d}", "temperature": round(12.5 + (i % 17) * 0.7, 1), "ok": i % 3 != 0} for i in range(200)]


@app.get("/large")
def large() -> list[dict]:
    return ROWS


@app.get("/small")
def small() -> dict:
    return {"ok": True}


@app.get("/text")
def text() -> PlainTextResponse:
    return PlainTextResponse("weather report line\n" * 100)


@app.get("/stream")
def stream() -> StreamingResponse:
    def lines():
        for row in ROWS[:50]:
            yield f"{row['station']},{row['temperature']}\n"

    return StreamingResponse(lines(), media_type="text/csv")
