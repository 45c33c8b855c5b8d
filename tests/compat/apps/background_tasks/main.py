"""BackgroundTasks: run after the response, from the endpoint and from a dependency; their effect read later."""

import asyncio
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI

app = FastAPI()
outbox: list[str] = []
pending = 0


def send_mail(to: str, subject: str) -> None:
    global pending
    outbox.append(f"{to}: {subject}")
    pending -= 1


async def audit(entry: str) -> None:
    global pending
    await asyncio.sleep(0)
    outbox.append(f"audit: {entry}")
    pending -= 1


def audited(background: BackgroundTasks, q: str | None = None) -> str | None:
    global pending
    if q:
        pending += 1
        background.add_task(audit, f"query {q}")
    return q


@app.post("/signup/{email}")
def signup(email: str, background: BackgroundTasks, q: Annotated[str | None, Depends(audited)]) -> dict:
    global pending
    pending += 1
    background.add_task(send_mail, email, "Welcome")
    return {"queued": True}


@app.get("/outbox")
async def read_outbox() -> dict:
    """What the background tasks sent, then forgotten; waits (a bounded while) for tasks still running."""
    for _ in range(500):
        if pending == 0:
            break
        await asyncio.sleep(0.01)
    sent = list(outbox)
    outbox.clear()
    return {"sent": sent}
