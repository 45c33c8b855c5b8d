"""Small FastAPI apps whose own ``openapi()`` documents the MCP tests turn into tools, and whose routes answer
the tools' calls: each route echoes what it read, so a test sees the request a tool call became."""

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, FastAPI, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

#: The start of a PNG (its signature and header chunk): not UTF-8, as no image is.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
#: Bytes that are neither text nor an image.
ARCHIVE = b"PK\x03\x04\x00\xff\xfe"
RETRY_AFTER = "30"


class Color(str, Enum):
    red = "red"
    green = "green"


class Address(BaseModel):
    street: str
    city: str


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    color: Color = Color.red


class Order(BaseModel):
    lines: list[Line]
    ship_to: Address
    note: str | None = None


def shop_app() -> FastAPI:
    """Under a router prefix: an Enum, a nested model, optional and list queries, a header, a cookie, a form,
    an upload and a deprecated route (neither is a tool)."""
    router = APIRouter(prefix="/shop")

    @router.get("/items/{item_id}", operation_id="read_item", summary="One item", description="Its price.")
    def read_item(
        item_id: str,
        color: Color | None = None,
        verbose: bool = False,
        tag: Annotated[list[str] | None, Query()] = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        return {"item_id": item_id, "color": color, "verbose": verbose, "tag": tag, "limit": limit}

    @router.delete("/items/{item_id}", operation_id="delete_item")
    def delete_item(item_id: str) -> dict[str, str]:
        return {"deleted": item_id}

    @router.post("/orders", operation_id="place_order", summary="Place an order")
    def place_order(order: Order, dry_run: bool = False) -> dict[str, Any]:
        return {"order": order.model_dump(mode="json"), "dry_run": dry_run}

    @router.post("/login", operation_id="log_in")
    def log_in(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, str]:
        return {"username": username, "password_length": str(len(password))}

    @router.get("/prefs", operation_id="read_prefs")
    def read_prefs(
        x_locale: Annotated[str, Header()], session: Annotated[str | None, Cookie()] = None
    ) -> dict[str, str | None]:
        return {"locale": x_locale, "session": session}

    @router.post("/uploads", operation_id="upload")
    def upload(file: UploadFile) -> dict[str, str | None]:
        return {"name": file.filename}

    @router.get("/old", operation_id="old_search", deprecated=True)
    def old_search() -> list[str]:
        return []

    app = FastAPI(title="shop")
    app.include_router(router)
    return app


class City(BaseModel):
    name: str
    population: int


def answers_app() -> FastAPI:
    """Routes that answer each kind of content a tool result carries, and any status asked for."""
    app = FastAPI(title="answers")

    @app.get("/weather/{city}", operation_id="weather")
    def weather(city: str, request: Request, days: int = 3) -> dict[str, Any]:
        return {"city": city, "days": days, "key": request.headers.get("x-api-key")}

    @app.get("/cities", operation_id="cities")
    def cities() -> list[str]:
        return ["Paris", "Oslo"]

    @app.post("/cities", operation_id="add_city")
    def add_city(city: City) -> City:
        return city

    @app.delete("/cities/{name}", operation_id="remove_city")
    def remove_city(name: str) -> dict[str, str]:
        return {"removed": name}

    @app.get("/motd", operation_id="motd", response_class=PlainTextResponse)
    def motd() -> str:
        return "sunny all week"

    @app.get("/map", operation_id="map")
    def weather_map() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get("/archive", operation_id="archive")
    def archive() -> Response:
        return Response(ARCHIVE, media_type="application/octet-stream")

    @app.get("/status/{code}", operation_id="status")
    def status(code: int) -> JSONResponse:
        headers = {"Retry-After": RETRY_AFTER} if code == 429 else None
        return JSONResponse({"detail": f"answered {code}"}, status_code=code, headers=headers)

    return app
