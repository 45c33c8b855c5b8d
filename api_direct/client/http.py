"""The transport under the control plane client: JSON over HTTPS, problem+json errors as one line.

Standard library only (urllib): the CLI needs a handful of calls, not a client
framework. Callers use :class:`api_direct.client.control_plane.ControlPlane`, which
names each operation; paths are written only there.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from api_direct.contracts import PROBLEM_JSON
from api_direct.errors import AccessError, ApidError, InputError, StateError

TIMEOUT_SECONDS = 30


class ControlPlaneError(ApidError):
    """The control plane refused; the message is its problem ``detail``."""


class CardRequired(ControlPlaneError):
    """A plan with a free trial needs a card saved through Stripe Checkout first (the problem's ``checkout``)."""


class ControlPlaneClient:
    def __init__(self, base_url: str, token: Callable[[], str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token

    def get(self, path: str, **query: Any) -> Any:
        return self._call("GET", _with_query(path, query))

    def get_text(self, path: str, media_type: str, **query: Any) -> str:
        """A document that is not JSON (a CSV export), as the control plane wrote it; errors as for JSON."""
        return self._exchange("GET", _with_query(path, query), None, media_type).decode()

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        payload = self._exchange(method, path, None if body is None else json.dumps(body).encode(), "application/json")
        return json.loads(payload) if payload else None

    def _exchange(self, method: str, path: str, data: bytes | None, media_type: str) -> bytes:
        """The body of a successful answer in ``media_type``; a problem answer raised as its one-line error."""
        headers = {"Accept": f"{media_type}, {PROBLEM_JSON}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        status, reason, payload = self.send(method, path, data, headers)
        if status >= 400:
            raise _problem(method, path, status, reason, payload)
        return payload

    def send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """One HTTP exchange: status, reason and body. The seam an in-process transport replaces
        (the control plane's tests drive its ASGI app through it, with no server)."""
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https URL from config)
                return response.status, response.reason, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.reason, error.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise AccessError(f"cannot reach the control plane at {self.base_url}: {reason}") from None


def _with_query(path: str, query: dict[str, Any]) -> str:
    params = {k: v for k, v in query.items() if v is not None}
    return path + (f"?{urllib.parse.urlencode(params)}" if params else "")


def _problem(method: str, path: str, status: int, reason: str, payload: bytes) -> ApidError:
    try:
        problem = json.loads(payload)
        detail = problem.get("detail") or reason
    except (ValueError, AttributeError):
        problem, detail = {}, reason
    message = f"control plane: {detail}"
    if status == 402 and problem.get("checkout"):
        return CardRequired(message)
    if status == 401:
        return AccessError(f"{message} (run `apid login`)")
    if status == 403:
        return AccessError(message)
    if status in (404, 409, 410):
        return StateError(message)
    if status in (400, 413, 422):
        return InputError(message)
    return ControlPlaneError(f"{message} ({method} {path} → {status})")
