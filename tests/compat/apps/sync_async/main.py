"""Sync endpoints (run in the threadpool), async ones, run_in_threadpool and anyio from inside a request."""

import threading

import anyio
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

app = FastAPI()
MAIN_THREAD = threading.get_ident()


def blocking_sum(n: int) -> int:
    return sum(range(n))


@app.get("/sync")
def sync_endpoint(n: int = 10) -> dict:
    return {"sum": blocking_sum(n), "in_worker_thread": threading.get_ident() != MAIN_THREAD}


@app.get("/async")
async def async_endpoint(n: int = 10) -> dict:
    return {"sum": await run_in_threadpool(blocking_sum, n)}


@app.get("/gather")
async def gather() -> dict:
    results: dict[str, int] = {}

    async def work(name: str, n: int) -> None:
        await anyio.sleep(0)
        results[name] = blocking_sum(n)

    async with anyio.create_task_group() as group:
        for name, n in (("a", 10), ("b", 100), ("c", 1000)):
            group.start_soon(work, name, n)
    return dict(sorted(results.items()))
