"""ORJSONResponse, from orjson's wheel, as the default response class: datetimes, numpy arrays, non-ASCII."""

from datetime import date, datetime, UTC
from uuid import UUID

import numpy as np
import orjson
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

app = FastAPI(default_response_class=ORJSONResponse)


@app.get("/observation")
def observation() -> dict:
    return {
        "station": "Zürich-Fluntern",
        "at": datetime(2026, 7, 1, 12, 30, tzinfo=UTC),
        "day": date(2026, 7, 1),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
        "temp": 21.5,
    }


@app.get("/array")
def array() -> ORJSONResponse:
    data = {"grid": np.arange(6, dtype=np.int32).reshape(2, 3), "scale": np.float64(0.5)}
    return ORJSONResponse(data, headers={"X-Orjson": orjson.__version__})


@app.get("/list")
def listing() -> list[dict]:
    return [{"n": n, "square": n * n} for n in range(5)]


@app.get("/pretty")
def pretty() -> ORJSONResponse:
    class Pretty(ORJSONResponse):
        def render(self, content) -> bytes:
            return orjson.dumps(content, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    return Pretty({"b": 1, "a": [1, 2]})
