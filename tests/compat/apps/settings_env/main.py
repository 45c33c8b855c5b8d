"""Settings from the environment (a pydantic model read once, served by a cached dependency)."""

import os
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel


class Settings(BaseModel):
    app_name: str
    greeting: str
    max_items: int
    debug: bool
    missing: str = "default when unset"


@lru_cache
def get_settings() -> Settings:
    return Settings(
        app_name=os.environ["APP_NAME"],
        greeting=os.environ["APP_GREETING"],
        max_items=os.environ["APP_MAX_ITEMS"],
        debug=os.environ.get("APP_DEBUG", "false"),
        missing=os.environ.get("APP_MISSING", "default when unset"),
    )


app = FastAPI(title=get_settings().app_name)


@app.get("/info")
def info(settings: Annotated[Settings, Depends(get_settings)]) -> dict:
    return settings.model_dump()


@app.get("/greet/{name}")
def greet(name: str, settings: Annotated[Settings, Depends(get_settings)]) -> dict:
    return {"message": f"{settings.greeting}, {name}!"}


@app.get("/items")
def items(settings: Annotated[Settings, Depends(get_settings)], n: int = 10) -> list[int]:
    return list(range(min(n, settings.max_items)))
