"""SQLite under /tmp, created in the lifespan (Lambda's only writable folder), used through a yield dependency."""

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app: FastAPI):
    handle, path = tempfile.mkstemp(prefix="apid-compat-", suffix=".sqlite3", dir="/tmp")
    os.close(handle)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)")
        db.execute("INSERT INTO notes (title, body) VALUES ('first', 'created at startup')")
    yield {"db_path": path}
    os.remove(path)


app = FastAPI(lifespan=lifespan)


def connection(request: Request) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(request.state.db_path)
    db.row_factory = sqlite3.Row
    try:
        yield db
        db.commit()
    finally:
        db.close()


Db = Annotated[sqlite3.Connection, Depends(connection)]


class Note(BaseModel):
    title: str
    body: str


@app.post("/notes", status_code=201)
def create(note: Note, db: Db) -> dict:
    cursor = db.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (note.title, note.body))
    return {"id": cursor.lastrowid, **note.model_dump()}


@app.get("/notes/{note_id}")
def read(note_id: int, db: Db) -> dict:
    row = db.execute("SELECT id, title, body FROM notes WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        raise HTTPException(404, "no such note")
    return dict(row)


@app.get("/notes")
def search(db: Db, title: str) -> list[dict]:
    return [dict(row) for row in db.execute("SELECT id, title, body FROM notes WHERE title = ? ORDER BY id", (title,))]


@app.get("/where")
def where(request: Request) -> dict:
    return {"in_tmp": request.state.db_path.startswith("/tmp/"), "exists": os.path.exists(request.state.db_path)}
