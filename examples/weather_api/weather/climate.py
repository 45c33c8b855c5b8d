"""A small climate model: plausible weather from latitude, day of year and hour.

Real creators would call a data provider here; a deterministic model keeps the
example self-contained and its responses stable across runs.
"""

import hashlib
import math
from datetime import date, datetime

from weather.models import City, Conditions, DailyForecast, Sky

CITIES: dict[str, City] = {
    city.id: city
    for city in (
        City(id="amsterdam", name="Amsterdam", country="NL", latitude=52.37, longitude=4.90),
        City(id="athens", name="Athens", country="GR", latitude=37.98, longitude=23.73),
        City(id="auckland", name="Auckland", country="NZ", latitude=-36.85, longitude=174.76),
        City(id="bangkok", name="Bangkok", country="TH", latitude=13.76, longitude=100.50),
        City(id="berlin", name="Berlin", country="DE", latitude=52.52, longitude=13.40),
        City(id="bogota", name="Bogotá", country="CO", latitude=4.71, longitude=-74.07),
        City(id="buenos-aires", name="Buenos Aires", country="AR", latitude=-34.60, longitude=-58.38),
        City(id="cairo", name="Cairo", country="EG", latitude=30.04, longitude=31.24),
        City(id="cape-town", name="Cape Town", country="ZA", latitude=-33.92, longitude=18.42),
        City(id="chicago", name="Chicago", country="US", latitude=41.88, longitude=-87.63),
        City(id="delhi", name="Delhi", country="IN", latitude=28.61, longitude=77.21),
        City(id="dubai", name="Dubai", country="AE", latitude=25.20, longitude=55.27),
        City(id="dublin", name="Dublin", country="IE", latitude=53.35, longitude=-6.26),
        City(id="helsinki", name="Helsinki", country="FI", latitude=60.17, longitude=24.94),
        City(id="hong-kong", name="Hong Kong", country="HK", latitude=22.32, longitude=114.17),
        City(id="istanbul", name="Istanbul", country="TR", latitude=41.01, longitude=28.98),
        City(id="jakarta", name="Jakarta", country="ID", latitude=-6.21, longitude=106.85),
        City(id="lagos", name="Lagos", country="NG", latitude=6.52, longitude=3.38),
        City(id="lima", name="Lima", country="PE", latitude=-12.05, longitude=-77.04),
        City(id="lisbon", name="Lisbon", country="PT", latitude=38.72, longitude=-9.14),
        City(id="london", name="London", country="GB", latitude=51.51, longitude=-0.13),
        City(id="los-angeles", name="Los Angeles", country="US", latitude=34.05, longitude=-118.24),
        City(id="madrid", name="Madrid", country="ES", latitude=40.42, longitude=-3.70),
        City(id="mexico-city", name="Mexico City", country="MX", latitude=19.43, longitude=-99.13),
        City(id="montreal", name="Montreal", country="CA", latitude=45.50, longitude=-73.57),
        City(id="moscow", name="Moscow", country="RU", latitude=55.76, longitude=37.62),
        City(id="mumbai", name="Mumbai", country="IN", latitude=19.08, longitude=72.88),
        City(id="nairobi", name="Nairobi", country="KE", latitude=-1.29, longitude=36.82),
        City(id="new-york", name="New York", country="US", latitude=40.71, longitude=-74.01),
        City(id="oslo", name="Oslo", country="NO", latitude=59.91, longitude=10.75),
        City(id="paris", name="Paris", country="FR", latitude=48.86, longitude=2.35),
        City(id="reykjavik", name="Reykjavík", country="IS", latitude=64.15, longitude=-21.94),
        City(id="rome", name="Rome", country="IT", latitude=41.90, longitude=12.50),
        City(id="santiago", name="Santiago", country="CL", latitude=-33.45, longitude=-70.67),
        City(id="sao-paulo", name="São Paulo", country="BR", latitude=-23.55, longitude=-46.63),
        City(id="seoul", name="Seoul", country="KR", latitude=37.57, longitude=126.98),
        City(id="singapore", name="Singapore", country="SG", latitude=1.35, longitude=103.82),
        City(id="sydney", name="Sydney", country="AU", latitude=-33.87, longitude=151.21),
        City(id="tokyo", name="Tokyo", country="JP", latitude=35.68, longitude=139.69),
        City(id="toronto", name="Toronto", country="CA", latitude=43.65, longitude=-79.38),
    )
}


def _noise(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for the given inputs."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _mean_temperature(city: City, day: date) -> float:
    """Seasonal mean in °C: warm at the equator, a yearly wave elsewhere."""
    base = 28.0 - 0.42 * abs(city.latitude)
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 196) / 365.25)
    amplitude = 0.25 * abs(city.latitude) * (1 if city.latitude >= 0 else -1)
    return base + amplitude * season


def _sky(city: City, day: date) -> Sky:
    roll = _noise(city.id, day.isoformat(), "sky")
    if roll < 0.35:
        return Sky.CLEAR
    if roll < 0.65:
        return Sky.CLOUDY
    if roll < 0.9:
        return Sky.RAIN
    return Sky.SNOW if _mean_temperature(city, day) < 2 else Sky.STORM


def current_conditions(city: City, at: datetime) -> Conditions:
    """Conditions for a city at a moment, varying over the day."""
    daily = 4.0 * math.sin(2 * math.pi * (at.hour - 9) / 24)
    temperature = (
        _mean_temperature(city, at.date()) + daily + 3 * (_noise(city.id, at.isoformat(timespec="hours")) - 0.5)
    )
    return Conditions(
        city=city,
        observed_at=at.replace(minute=0, second=0, microsecond=0),
        temperature_c=round(temperature, 1),
        humidity_pct=round(40 + 50 * _noise(city.id, at.date(), "humidity")),
        wind_kph=round(30 * _noise(city.id, at.isoformat(timespec="hours"), "wind"), 1),
        sky=_sky(city, at.date()),
    )


def daily_forecast(city: City, day: date) -> DailyForecast:
    """High, low and sky for one day."""
    mean = _mean_temperature(city, day)
    spread = 3 + 5 * _noise(city.id, day, "spread")
    sky = _sky(city, day)
    return DailyForecast(
        date=day,
        high_c=round(mean + spread, 1),
        low_c=round(mean - spread, 1),
        sky=sky,
        precipitation_mm=round(25 * _noise(city.id, day, "rain"), 1) if sky in (Sky.RAIN, Sky.STORM, Sky.SNOW) else 0.0,
    )
