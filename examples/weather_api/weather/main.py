"""Weather API: the FastAPI app that `apid deploy` turns into a metered, paid API."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query

from weather.climate import CITIES, current_conditions, daily_forecast
from weather.models import City, CityPage, Conditions, Forecast

app = FastAPI(
    title="Weather API",
    version="1.0.0",
    description="Current conditions and 7-day forecasts for 40 world cities.",
)

CityId = Annotated[str, Path(pattern=r"^[a-z-]{2,40}$", description="City id from /cities", examples=["london"])]


def _city(city_id: str) -> City:
    city = CITIES.get(city_id)
    if city is None:
        raise HTTPException(status_code=404, detail=f"unknown city {city_id!r}; see /cities")
    return city


@app.get("/cities", response_model=CityPage, summary="List supported cities")
def list_cities(
    country: Annotated[str | None, Query(min_length=2, max_length=2, description="Filter by ISO country code")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CityPage:
    cities = sorted(CITIES.values(), key=lambda c: c.id)
    if country:
        cities = [c for c in cities if c.country == country.upper()]
    return CityPage(items=cities[offset : offset + limit], total=len(cities))


@app.get("/current/{city_id}", response_model=Conditions, summary="Current conditions")
def current(city_id: CityId) -> Conditions:
    return current_conditions(_city(city_id), datetime.now(UTC))


@app.get("/forecast/{city_id}", response_model=Forecast, summary="Daily forecast")
def forecast(
    city_id: CityId,
    days: Annotated[int, Query(ge=1, le=7, description="Number of days, starting today")] = 7,
) -> Forecast:
    city = _city(city_id)
    today = date.today()
    return Forecast(city=city, days=[daily_forecast(city, today + timedelta(days=n)) for n in range(days)])


@app.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}
