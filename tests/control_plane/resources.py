"""The AWS side of a control plane, created directly (moto in process or moto_server).

The table's keys and indexes come from ``store.INDEXES``, the same definition the
stack builds the real table from.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api_direct.control_plane.api.store import INDEXES, PK, SK

REGION = "us-east-1"
TABLE = "apid-control-plane"
BUS = "apid-control-plane-bus"


def create_table(dynamodb: Any, name: str) -> None:
    attributes = [PK, SK, *(attribute for _, p, s in INDEXES for attribute in (p, s))]
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        KeySchema=[{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": p, "KeyType": "HASH"}, {"AttributeName": s, "KeyType": "RANGE"}],
            }
            for index, p, s in INDEXES
        ],
    )


@contextmanager
def serving_json(body: bytes) -> Iterator[str]:
    """``body`` answered to every GET on a loopback port (a JWKS endpoint, in practice)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
