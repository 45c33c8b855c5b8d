"""Streaming responses: async and sync generators, text, server-sent events, bytes, with headers of their own."""

import asyncio

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/count")
async def count(to: int = 5) -> StreamingResponse:
    async def numbers():
        for n in range(1, to + 1):
            await asyncio.sleep(0)
            yield f"{n}\n"

    return StreamingResponse(numbers(), media_type="text/plain", headers={"X-Stream": "count"})


@app.get("/events")
async def events() -> StreamingResponse:
    async def stream():
        for n in range(3):
            yield f'id: {n}\nevent: tick\ndata: {{"n": {n}}}\n\n'

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@app.get("/bytes")
def binary() -> StreamingResponse:
    def chunks():
        for n in range(8):
            yield bytes(range(n * 32, n * 32 + 32))

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@app.get("/empty")
async def empty() -> StreamingResponse:
    async def nothing():
        return
        yield b""

    return StreamingResponse(nothing(), media_type="text/plain")
