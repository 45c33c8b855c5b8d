"""An "AWS" on loopback that answers badly, the ways a network, a proxy or a broken emulator do.

The first segment of the request's path picks the fault, so one server serves
them all: ``endpoint("garbage")`` is an endpoint URL whose every answer is that
fault. The bytes go over a real socket, so botocore meets each fault where it
would meet AWS's: in its HTTP layer and its response parsers.
"""

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest

HOST = "127.0.0.1"
#: How long a ``hang`` answer waits before giving up (far beyond any client timeout a test sets).
HANG_SECONDS = 10.0
#: The first byte of a TLS client's first message: an ``https://`` endpoint URL meets a server without TLS.
TLS_HANDSHAKE = b"\x16"

#: Fault -> the raw answer to send (``None``: close without answering; ``b""``: never answer).
ANSWERS: dict[str, bytes | None] = {
    "garbage": b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 13\r\n\r\n<<not xml at ",
    "html500": (
        b"HTTP/1.1 500 INTERNAL SERVER ERROR\r\nContent-Type: text/html\r\nContent-Length: 60\r\n\r\n"
        b"<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>"
    ),
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4000\r\n\r\n<DescribeStacksResponse>",
    "close": None,
    "hang": b"",
}


class _Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            if not request and chunk.startswith(TLS_HANDSHAKE):  # a TLS client: answer as a plain HTTP server does
                self.request.sendall(ANSWERS["garbage"] or b"")
                return
            request += chunk
        fault = request.split(b" ", 2)[1].lstrip(b"/").split(b"/", 1)[0].split(b"?", 1)[0].decode()
        answer = ANSWERS[fault]
        if answer == b"":
            self.server.stopping.wait(HANG_SECONDS)  # type: ignore[attr-defined]
        elif answer is not None:
            self.request.sendall(answer)
        self.request.shutdown(socket.SHUT_RDWR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _Answer)
        self.stopping = threading.Event()


@pytest.fixture
def bad_aws() -> Iterator[Callable[[str], str]]:
    """``endpoint(fault)``: the URL of an AWS endpoint that answers every request with ``fault`` (:data:`ANSWERS`)."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield lambda fault: f"http://{HOST}:{server.server_address[1]}/{fault}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
