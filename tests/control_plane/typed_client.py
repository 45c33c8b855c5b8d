"""The CLI's typed control plane client, driving the service's ASGI app in process (no server).

Tests that need the API only to set a scene or to check its outcome (the web
pages' tests) call operations by name, as the CLI and the sandbox do; the route
tests (``test_subscriptions.py``, ``test_accounts.py``, ...) keep raw requests,
as the wire format is what they test.
"""

from fastapi.testclient import TestClient

from api_direct.client.control_plane import ControlPlane


class InProcessControlPlane(ControlPlane):
    """:class:`ControlPlane` over a ``TestClient``: the same paths, bodies, headers and errors."""

    def __init__(self, app: TestClient, token: str) -> None:
        super().__init__(str(app.base_url), lambda: token)
        self._app = app

    def send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, str, bytes]:
        response = self._app.request(method, path, content=data, headers=headers)
        return response.status_code, response.reason_phrase, response.content
