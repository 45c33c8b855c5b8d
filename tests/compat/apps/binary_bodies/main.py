"""Raw bodies both ways: non-UTF-8 bytes in and out, images, octet streams, text with a charset."""

import hashlib
import struct
import zlib

from fastapi import FastAPI, Request, Response

app = FastAPI()


def png(width: int, height: int) -> bytes:
    """A tiny valid PNG, made here so the suite ships no binary file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 40 % 256, y * 60 % 256, 200)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@app.post("/digest")
async def digest(request: Request) -> dict:
    body = await request.body()
    return {
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_type": request.headers.get("content-type"),
    }


@app.post("/reverse")
async def reverse(request: Request) -> Response:
    return Response((await request.body())[::-1], media_type="application/octet-stream")


@app.get("/image.png")
def image() -> Response:
    return Response(png(6, 4), media_type="image/png")


@app.get("/all-bytes")
def all_bytes() -> Response:
    return Response(
        bytes(range(256)) * 4,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="bytes.bin"'},
    )


@app.get("/latin-1")
def latin_1() -> Response:
    return Response("Café, crème brûlée".encode("latin-1"), media_type="text/plain; charset=latin-1")


@app.get("/utf-8-text")
def utf_8_text() -> Response:
    return Response("Zürich ☀ 東京".encode(), media_type="text/plain; charset=utf-8")


@app.post("/text-echo")
async def text_echo(request: Request) -> Response:
    return Response(await request.body(), media_type=request.headers.get("content-type", "text/plain"))
