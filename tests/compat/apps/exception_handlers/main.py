"""Exception handlers: a custom exception, HTTPException and validation errors reshaped, an unhandled error."""

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

app = FastAPI()


class QuotaExceeded(Exception):
    def __init__(self, used: int) -> None:
        self.used = used


@app.exception_handler(QuotaExceeded)
async def quota_exceeded(request: Request, error: QuotaExceeded) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={"error": "quota", "used": error.used},
        headers={"Retry-After": "3600", "X-Quota-Used": str(error.used)},
    )


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, error: StarletteHTTPException) -> PlainTextResponse:
    return PlainTextResponse(
        f"{error.status_code}: {error.detail}", status_code=error.status_code, headers=error.headers
    )


@app.exception_handler(RequestValidationError)
async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=400, content={"invalid": [".".join(map(str, e["loc"])) for e in error.errors()]})


@app.get("/quota/{used}")
def quota(used: int) -> dict:
    if used > 100:
        raise QuotaExceeded(used)
    return {"used": used}


@app.get("/missing")
def missing() -> dict:
    raise HTTPException(status_code=404, detail="no such station", headers={"X-Station": "none"})


@app.get("/crash")
def crash() -> dict:
    raise RuntimeError("the app failed")


@app.get("/divide")
def divide(a: int, b: int) -> dict:
    return {"result": a / b}
