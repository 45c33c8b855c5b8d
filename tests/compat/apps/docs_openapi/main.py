"""The generated docs behind the stage: /docs, /redoc, /openapi.json (servers from root_path), oauth2 redirect."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="Compat Weather", version="1.2.3", description="Weather, **deployed** as under uvicorn.")


class Forecast(BaseModel):
    city: str
    high: float
    low: float


@app.get("/forecast/{city}", tags=["forecast"], summary="A city's forecast")
def forecast(city: str, days: int = 1) -> Forecast:
    return Forecast(city=city, high=21.0 + days, low=9.5)


@app.post("/forecast", status_code=201)
def submit(forecast: Forecast) -> Forecast:
    return forecast
