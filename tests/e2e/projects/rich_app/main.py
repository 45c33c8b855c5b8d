"""Station readings: what a richer creator's app does that the scaffold does not.

A lifespan loads data once and hands it to every request as state; a POST takes a
JSON body (a nested model, examples on some fields and not others); one route
answers image/png bytes and one reads any body as bytes; numpy does the arithmetic;
one route takes a required header and cookie and sets two cookies; /stations also
answers HEAD.
"""

import hashlib
import json
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Literal, TypedDict

import numpy as np
from fastapi import Cookie, FastAPI, Header, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

DATA = FilePath(__file__).parent / "data" / "stations.json"


class Station(BaseModel):
    id: str
    name: str


class State(TypedDict):
    stations: dict[str, Station]
    readings: dict[str, np.ndarray]


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[State]:
    rows = json.loads(DATA.read_text(encoding="utf-8"))
    yield {
        "stations": {row["id"]: Station(id=row["id"], name=row["name"]) for row in rows},
        "readings": {row["id"]: np.array(row["readings"], dtype=np.float64) for row in rows},
    }


app = FastAPI(title="Rich App", version="1.0.0", lifespan=lifespan)

StationId = Annotated[str, Path(pattern=r"^[a-z]{3,20}$", examples=["oslo"])]


class StationSummary(BaseModel):
    station: Station
    units: str
    mean: float
    warmest_month: int


class Rounding(BaseModel):
    digits: int = Field(ge=0, le=6)


class Readings(BaseModel):
    values: list[float] = Field(min_length=2, max_length=10_000, examples=[[1.5, 2.5, 4.0]])
    percentile: float = Field(ge=0, le=100)
    rounding: Rounding


class ReadingsSummary(BaseModel):
    count: int
    mean: float
    std: float
    percentile: float


def _station(request: Request, station_id: str) -> tuple[Station, np.ndarray]:
    station = request.state.stations.get(station_id)
    if station is None:
        raise HTTPException(status_code=404, detail=f"unknown station {station_id!r}")
    return station, request.state.readings[station_id]


@app.get("/stations", response_model=list[Station], summary="List stations")
@app.head("/stations", include_in_schema=False)
def stations(request: Request) -> list[Station]:
    return list(request.state.stations.values())


@app.get("/stations/{station_id}", response_model=StationSummary, summary="A station's yearly figures")
def station_summary(
    request: Request, station_id: StationId, units: Annotated[Literal["celsius", "fahrenheit"], Query()]
) -> StationSummary:
    station, readings = _station(request, station_id)
    values = readings * 9 / 5 + 32 if units == "fahrenheit" else readings
    return StationSummary(
        station=station, units=units, mean=round(float(np.mean(values)), 2), warmest_month=int(np.argmax(values)) + 1
    )


@app.get(
    "/stations/{station_id}/strip.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Twelve months, cold blue to warm red"}},
    summary="A heat strip of the station's months",
)
def heat_strip(request: Request, station_id: StationId) -> Response:
    _, readings = _station(request, station_id)
    return Response(content=heat_strip_png(readings), media_type="image/png")


@app.post("/summary", response_model=ReadingsSummary, summary="Statistics of readings")
def summary(body: Readings) -> ReadingsSummary:
    values = np.array(body.values, dtype=np.float64)
    digits = body.rounding.digits
    return ReadingsSummary(
        count=int(values.size),
        mean=round(float(np.mean(values)), digits),
        std=round(float(np.std(values)), digits),
        percentile=round(float(np.percentile(values, body.percentile)), digits),
    )


@app.get("/whoami", summary="The client's header and cookie, echoed; two cookies set")
def whoami(
    response: Response,
    x_client: Annotated[str, Header(min_length=1, examples=["sandbox"])],
    session: Annotated[str, Cookie(min_length=3)],
) -> dict[str, str]:
    response.set_cookie("seen", "1")
    response.set_cookie("client", x_client)
    return {"client": x_client, "session": session}


@app.post("/checksum", summary="The SHA-256 of the request body, whatever its type")
async def checksum(request: Request) -> dict[str, str | int]:
    body = await request.body()
    return {
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "content_type": request.headers.get("content-type", ""),
    }


def heat_strip_png(readings: np.ndarray, height: int = 8, width: int = 16) -> bytes:
    """An RGB PNG, one block per reading, from blue (coldest) to red (warmest); no imaging library needed."""
    span = float(np.ptp(readings)) or 1.0
    warmth = (readings - readings.min()) / span
    row = np.repeat(np.stack([warmth * 255, np.zeros_like(warmth), (1 - warmth) * 255], axis=1), width, axis=0)
    pixels = np.repeat(row[np.newaxis].astype(np.uint8), height, axis=0)
    raw = b"".join(b"\x00" + line.tobytes() for line in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
