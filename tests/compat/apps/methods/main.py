"""HTTP methods: HEAD on GET routes, OPTIONS and 405 with Allow, PUT/PATCH/DELETE, one path many methods."""

from fastapi import FastAPI, Request, Response

app = FastAPI()
store: dict[str, str] = {}


@app.get("/thing")
def read() -> dict:
    return {"thing": store.get("thing"), "padding": "x" * 40}


@app.put("/thing")
async def put(request: Request) -> dict:
    store["thing"] = (await request.body()).decode()
    return {"stored": True}


@app.patch("/thing")
def patch() -> dict:
    return {"patched": True}


@app.delete("/thing")
def delete() -> Response:
    store.pop("thing", None)
    return Response(status_code=204)


@app.api_route("/any", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
async def any_method(request: Request) -> dict:
    return {"method": request.method}


@app.options("/options")
def options() -> Response:
    return Response(headers={"Allow": "GET, OPTIONS"})


@app.head("/head-only")
def head_only() -> Response:
    return Response(headers={"X-Exists": "yes"})
