"""Lifespan: state yielded to every request (request.state), a module global set at startup, startup run once."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

#: Set by the lifespan's startup; a request that sees None ran without it.
CONFIG: dict | None = None
startups = 0


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


@asynccontextmanager
async def lifespan(app: FastAPI):
    global CONFIG, startups
    startups += 1
    CONFIG = {"units": "metric", "stations": ["zrh", "osl"]}
    yield {"counter": Counter(), "model": "persistence-v2", "started": True}
    CONFIG = None


app = FastAPI(lifespan=lifespan)


@app.get("/state")
def state(request: Request) -> dict:
    return {"model": request.state.model, "started": request.state.started, "startups": startups}


@app.get("/config")
def config() -> dict | None:
    return CONFIG


@app.post("/count")
def count(request: Request) -> dict:
    """The same Counter object serves every request: the state is shared, copied shallowly as uvicorn does."""
    return {"value": request.state.counter.next()}


@app.get("/per-request")
def per_request(request: Request) -> dict:
    request.state.model = "changed for this request only"
    return {"model": request.state.model}


@app.get("/after")
def after(request: Request) -> dict:
    return {"model": request.state.model}
