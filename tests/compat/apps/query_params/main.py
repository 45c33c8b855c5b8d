"""Query parameters: optional, defaulted, typed, bounded, aliased, required, and keys repeated."""

from typing import Annotated

from fastapi import FastAPI, Query, Request

app = FastAPI()


@app.get("/search")
def search(
    q: str | None = None, page: int = 1, size: Annotated[int, Query(ge=1, le=50)] = 10, exact: bool = False
) -> dict:
    return {"q": q, "page": page, "size": size, "exact": exact}


@app.get("/tags")
def tags(tag: Annotated[list[str], Query()] = []) -> dict:  # noqa: B006  (FastAPI copies the default)
    return {"tags": tag, "count": len(tag)}


@app.get("/ids")
def ids(id: Annotated[list[int], Query()]) -> dict:
    return {"sum": sum(id), "ids": id}


@app.get("/alias")
def alias(item_query: Annotated[str, Query(alias="item-query", min_length=2)]) -> dict:
    return {"item_query": item_query}


@app.get("/raw")
def raw(request: Request) -> dict:
    return {"pairs": request.query_params.multi_items(), "query": request.url.query}
