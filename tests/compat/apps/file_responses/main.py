"""FileResponse: a text and a binary file shipped with the app, as attachment or inline, HEAD, ranges, ETags."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

app = FastAPI()
DATA = Path(__file__).parent / "data"


@app.get("/report")
def report() -> FileResponse:
    return FileResponse(DATA / "report.csv", media_type="text/csv", filename="report.csv")


@app.get("/inline")
def inline() -> FileResponse:
    return FileResponse(DATA / "report.csv", content_disposition_type="inline", filename="Bericht März.csv")


@app.get("/blob")
def blob() -> FileResponse:
    return FileResponse(DATA / "blob.bin")


@app.get("/guessed")
def guessed() -> FileResponse:
    return FileResponse(DATA / "notes.txt")
