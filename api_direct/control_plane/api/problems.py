"""Errors as RFC 9457 problem+json, each with one clear sentence in ``detail``.

The document's shape is :func:`api_direct.contracts.problem_document`: API Gateway's
own rejections (set by the construct) and the client's parsing share it.
"""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_direct.contracts import PROBLEM_JSON, problem_document

_log = logging.getLogger("api_direct.control_plane")


class Problem(Exception):
    """Raise to answer with a problem document: ``Problem(404, "no listing 'x'")``."""

    def __init__(self, status: int, detail: str, *, type_: str = "about:blank", **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.extra = extra


def problem_response(status: int, detail: str, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    body = problem_document(status, detail, type_, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: Renders an error as a web page: ``(request, status, detail)``.
ErrorPage = Callable[[Request, int, str], Response]


def install_problem_handlers(app: FastAPI, *, pages: tuple[str, ErrorPage] | None = None) -> None:
    """Every error as problem+json; under the ``pages`` prefix, as that page instead (same status, same sentence)."""

    def answer(request: Request, status: int, detail: str, type_: str = "about:blank", **extra: Any) -> Response:
        if pages is not None and request.url.path.startswith(pages[0]):
            return pages[1](request, status, detail)
        return problem_response(status, detail, type_, **extra)

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> Response:
        return answer(request, error.status, error.detail, error.type, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        return answer(request, 422, describe_validation(error.errors()), errors=_plain(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        return answer(request, error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        # Logged for the operator; never echoed (it may hold table names or ARNs).
        _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return answer(request, 500, "the control plane hit an unexpected error; it has been logged")


def describe_validation(errors: Any) -> str:
    """``body.plans[0].burst: Input should be greater than 0`` for the first error, plus a count."""
    first = errors[0]
    if first["type"] == "json_invalid":  # its location is a character offset, its message pydantic's
        return f"the request body is not valid JSON (at character {first['loc'][-1]}); send a JSON document"
    location = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{location}: {first['msg']}{more}"


def _plain(errors: Any) -> list[dict[str, Any]]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]
