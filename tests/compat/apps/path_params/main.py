"""Path parameters: typed, enumerated, a whole sub-path, percent-encoded segments, validation errors."""

from enum import Enum

from fastapi import FastAPI, Path

app = FastAPI()


class Unit(str, Enum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


@app.get("/items/{item_id}")
def item(item_id: int) -> dict:
    return {"item_id": item_id, "type": type(item_id).__name__}


@app.get("/cities/{name}")
def city(name: str) -> dict:
    return {"name": name, "length": len(name)}


@app.get("/units/{unit}")
def unit(unit: Unit) -> dict:
    return {"unit": unit, "symbol": "°C" if unit is Unit.celsius else "°F"}


@app.get("/files/{file_path:path}")
def file(file_path: str) -> dict:
    return {"file_path": file_path, "parts": file_path.split("/")}


@app.get("/bounded/{n}")
def bounded(n: int = Path(ge=1, le=10)) -> dict:
    return {"n": n}


@app.get("/users/me")
def me() -> dict:
    return {"user": "the current user"}


@app.get("/users/{user_id}")
def user(user_id: str) -> dict:
    return {"user_id": user_id}


@app.get("/")
def root() -> dict:
    return {"root": True}
