"""URLs the app builds: url_for, url_path_for, request.url, base_url, with the stage as root_path."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/items/{item_id}", name="item")
def item(item_id: int, request: Request) -> dict:
    return {
        "url_for": str(request.url_for("item", item_id=item_id + 1)),
        "url_path_for": request.app.url_path_for("item", item_id=item_id),
        "url": str(request.url),
        "base_url": str(request.base_url),
        "path": request.url.path,
        "root_path": request.scope.get("root_path"),
        "route_path": request.scope["route"].path,
    }


@app.get("/links")
def links(request: Request) -> dict:
    return {
        "self": str(request.url_for("links")),
        "item": str(request.url_for("item", item_id=3)),
        "docs": str(request.base_url) + "docs",
    }


@app.get("/query")
def query(request: Request) -> dict:
    return {"url": str(request.url), "query": request.url.query, "params": request.query_params.multi_items()}


@app.get("/encoded/{name}", name="encoded")
def encoded(name: str, request: Request) -> dict:
    """A path parameter that was percent-encoded: the path as sent (raw_path), as decoded, and as URLs rebuild it."""
    return {
        "name": name,
        "raw_path": request.scope["raw_path"].decode(),
        "path": request.scope["path"],
        "root_path": request.scope["root_path"],
        "url": str(request.url),
        "url_for": str(request.url_for("encoded", name=name)),
    }
