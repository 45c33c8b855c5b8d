"""Multipart uploads: UploadFile, bytes, several files in one field, files with form fields, binary content."""

import hashlib
from typing import Annotated

from fastapi import FastAPI, File, Form, UploadFile

app = FastAPI()


def describe(content: bytes) -> dict:
    return {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "head": content[:8].hex()}


@app.post("/upload")
async def upload(file: UploadFile) -> dict:
    content = await file.read()
    return {"filename": file.filename, "content_type": file.content_type, **describe(content)}


@app.post("/bytes")
def raw_bytes(file: Annotated[bytes, File()]) -> dict:
    return describe(file)


@app.post("/many")
async def many(files: list[UploadFile]) -> dict:
    return {"files": [{"filename": f.filename, **describe(await f.read())} for f in files]}


@app.post("/with-fields")
async def with_fields(title: Annotated[str, Form()], file: UploadFile, public: Annotated[bool, Form()] = False) -> dict:
    return {"title": title, "public": public, "filename": file.filename, **describe(await file.read())}


@app.post("/optional")
async def optional(file: UploadFile | None = None) -> dict:
    return {"received": file is not None}
