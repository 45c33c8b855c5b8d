"""Large payloads well inside API Gateway's limits: a ~1 MB JSON answer, a 3 MB upload, a 2 MB binary answer."""

import hashlib

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.get("/big-json")
def big_json(rows: int = 10000) -> list[dict]:
    return [{"i": i, "name": f"station-{i:05d}", "value": i * 0.25} for i in range(rows)]


@app.post("/upload")
async def upload(request: Request) -> dict:
    body = await request.body()
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.get("/big-binary")
def big_binary(kb: int = 2048) -> Response:
    block = hashlib.sha256(b"compat").digest() * 32  # 1 KiB
    return Response(block * kb, media_type="application/octet-stream")
