"""JSON bodies: nested pydantic models, response models that filter, validation errors, Unicode, status codes."""

from decimal import Decimal

from fastapi import Body, FastAPI, status
from pydantic import BaseModel, Field

app = FastAPI()


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Station(BaseModel):
    name: str = Field(min_length=1)
    location: Location
    tags: list[str] = []
    elevation_m: int | None = None
    secret: str = "internal"


class StationOut(BaseModel):
    name: str
    location: Location
    tags: list[str]


@app.post("/stations", response_model=StationOut, status_code=status.HTTP_201_CREATED)
def create(station: Station) -> Station:
    return station


@app.put("/stations/{station_id}")
def replace(station_id: int, station: Station, notify: bool = False) -> dict:
    return {"id": station_id, "station": station.model_dump(exclude={"secret"}), "notify": notify}


@app.patch("/stations/{station_id}")
def patch(station_id: int, changes: dict = Body()) -> dict:
    return {"id": station_id, "changed": sorted(changes)}


@app.post("/reading")
def reading(value: Decimal = Body(embed=True), unit: str = Body(default="°C", embed=True)) -> dict:
    return {"value": str(value), "unit": unit}


@app.post("/echo")
def echo(payload: list | dict = Body()) -> list | dict:
    return payload
