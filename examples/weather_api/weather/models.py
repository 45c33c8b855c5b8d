"""The API's public data shapes: they appear in its OpenAPI document and on the marketplace."""

from datetime import date, datetime
from enum import Enum

from pydantic import BaseModel, Field


class Sky(str, Enum):
    CLEAR = "clear"
    CLOUDY = "cloudy"
    RAIN = "rain"
    SNOW = "snow"
    STORM = "storm"


class City(BaseModel):
    id: str = Field(description="Stable identifier used in URLs", examples=["london"])
    name: str
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class Conditions(BaseModel):
    city: City
    observed_at: datetime
    temperature_c: float
    humidity_pct: int = Field(ge=0, le=100)
    wind_kph: float = Field(ge=0)
    sky: Sky


class DailyForecast(BaseModel):
    date: date
    high_c: float
    low_c: float
    sky: Sky
    precipitation_mm: float = Field(ge=0)


class Forecast(BaseModel):
    city: City
    days: list[DailyForecast]


class CityPage(BaseModel):
    items: list[City]
    total: int
