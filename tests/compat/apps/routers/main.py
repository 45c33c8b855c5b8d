"""APIRouter: prefixes, tags, router dependencies, nested routers, responses declared per router."""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

app = FastAPI()


def require_region(x_region: Annotated[str | None, Header()] = None) -> str:
    if x_region not in ("eu", "us"):
        raise HTTPException(status_code=400, detail="X-Region must be eu or us")
    return x_region


stations = APIRouter(prefix="/stations", tags=["stations"])
readings = APIRouter(prefix="/{code}/readings", dependencies=[Depends(require_region)])
admin = APIRouter(prefix="/admin", responses={418: {"description": "teapot"}})


@stations.get("")
def list_stations() -> list[str]:
    return ["zrh", "osl"]


@stations.get("/{code}")
def get_station(code: str) -> dict:
    return {"code": code}


@readings.get("/latest")
def latest(code: str, region: Annotated[str, Depends(require_region)]) -> dict:
    return {"code": code, "region": region, "value": 21.5}


@admin.post("/reset", status_code=202)
def reset() -> dict:
    return {"reset": True}


stations.include_router(readings)
app.include_router(stations)
app.include_router(admin, prefix="/internal")
