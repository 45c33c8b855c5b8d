"""Dependencies: with yield (cleanup after the response), nested, cached per request, raising, class-based."""

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

app = FastAPI()
#: What the yield dependencies did, in order; cleanups run once a response is sent.
journal: list[str] = []


class Session:
    def __init__(self, name: str) -> None:
        self.name, self.queries = name, 0


def session(request: Request) -> Iterator[Session]:
    db = Session(request.url.path)
    journal.append(f"open {db.name}")
    try:
        yield db
    finally:
        journal.append(f"close {db.name} after {db.queries} queries")


def user_header(request: Request) -> str | None:
    return request.headers.get("x-user")


def current_user(db: Annotated[Session, Depends(session)], x_user: Annotated[str | None, Depends(user_header)]) -> str:
    db.queries += 1
    if x_user is None:
        raise HTTPException(status_code=401, detail="who are you?", headers={"X-Reason": "no x-user"})
    return x_user


class Paging:
    def __init__(self, offset: int = 0, limit: int = 10) -> None:
        self.offset, self.limit = offset, limit


@app.get("/me")
def me(user: Annotated[str, Depends(current_user)], db: Annotated[Session, Depends(session)]) -> dict:
    db.queries += 1
    return {"user": user, "queries": db.queries}


@app.get("/page")
def page(paging: Annotated[Paging, Depends()]) -> dict:
    return {"offset": paging.offset, "limit": paging.limit}


def forbidden() -> Iterator[None]:
    journal.append("forbidden entered")
    yield
    journal.append("forbidden exited")


@app.get("/guarded", dependencies=[Depends(forbidden)])
def guarded() -> dict:
    raise HTTPException(status_code=403, detail="not for you")


@app.get("/journal")
async def read_journal() -> dict:
    """What earlier requests left, then forgotten: each test reads what its own requests did.

    A cleanup may still be running just after its response was sent, so this waits
    (a bounded while) until every session opened has been closed.
    """
    for _ in range(500):
        if sum(e.startswith("open") for e in journal) == sum(e.startswith("close") for e in journal):
            break
        await asyncio.sleep(0.01)
    entries = list(journal)
    journal.clear()
    return {"journal": entries}
