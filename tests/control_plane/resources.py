"""The AWS side of a control plane, created directly (moto in process or moto_server), and the settings naming it.

The table's keys and indexes come from ``store.INDEXES``, the same definition the
stack builds the real table from.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto import mock_aws

from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import INDEXES, PK, SK

CONTROL_PLANE_ACCOUNT = "111111111111"
REGION = "us-east-1"
TABLE = "apid-control-plane"
BUS = "apid-control-plane-bus"
USER_POOL_ID = "us-east-1_TestPool1"
APP_CLIENT_ID = "apid-cli-client"


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
        # Key events leave through the stream (api/outbox.py), as the stack's table has it.
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def user_with_email(cognito: Any, email: str) -> tuple[str, str]:
    """A new user pool holding one user with ``email`` (where alerts and notices are sent): its id and their ``sub``."""
    pool_id = cognito.create_user_pool(PoolName="apid")["UserPool"]["Id"]
    user = cognito.admin_create_user(
        UserPoolId=pool_id, Username=email, UserAttributes=[{"Name": "email", "Value": email}]
    )["User"]
    return pool_id, next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


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


@contextmanager
def emulated_control_plane() -> Iterator[Callable[[str], Any]]:
    """A fresh moto account in process with the table (and the store's indexes) and the bus; yields a client maker."""
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        yield lambda service: boto3.client(service, region_name=REGION)


def control_plane_settings(jwks_url: str) -> ControlPlaneSettings:
    """The app's settings for these resources, its tokens checked against the JWKS at ``jwks_url``."""
    return ControlPlaneSettings(
        region=REGION,
        account_id=CONTROL_PLANE_ACCOUNT,
        table_name=TABLE,
        event_bus_name=BUS,
        user_pool_id=USER_POOL_ID,
        app_client_id=APP_CLIENT_ID,
        key_forwarding_role_arn="arn:aws:iam::111111111111:role/apid-key-forwarding",
        jwks_url=jwks_url,
    )
