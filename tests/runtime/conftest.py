"""Fixtures for the runtime handlers: AWS emulated in process by moto, no network."""

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto import mock_aws

from api_direct.contracts import KEY_TTL_ATTRIBUTE
from api_direct.runtime import key_store, key_sync, usage_forwarder
from api_direct.runtime.key_store import KeyTable
from tests.runtime.emulated_aws import PLANS, REGION, Bus
from tests.runtime.key_events import SOURCE, T1, event
from tests.runtime.lambda_context import FakeLambdaContext

KEY_TABLE = "apid-keys"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, one region, moto for every AWS call, and fresh lazy clients.

    The handlers cache their boto3 clients for a container's life; clearing the caches
    keeps one test's emulated account from leaking into the next.
    """
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    caches = (
        key_store.key_table_from_env,
        key_sync.usage_plans_from_env,
        usage_forwarder.events_client,
    )
    for cache in caches:
        cache.cache_clear()
    with mock_aws():
        yield
    for cache in caches:
        cache.cache_clear()


@pytest.fixture
def key_table(monkeypatch: pytest.MonkeyPatch) -> KeyTable:
    """The key table, with the schema the construct deploys, named in KEY_TABLE_NAME."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=KEY_TABLE,
        KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.meta.client.update_time_to_live(
        TableName=KEY_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": KEY_TTL_ATTRIBUTE}
    )
    monkeypatch.setenv("KEY_TABLE_NAME", KEY_TABLE)
    return KeyTable(table)


@pytest.fixture
def apigateway() -> Any:
    return boto3.client("apigateway", region_name=REGION)


@pytest.fixture
def usage_plans(monkeypatch: pytest.MonkeyPatch, apigateway: Any) -> dict[str, str]:
    """One API Gateway usage plan per plan, named in USAGE_PLANS: plan name -> id."""
    ids = {plan: apigateway.create_usage_plan(name=f"apid-{plan}")["id"] for plan in PLANS}
    monkeypatch.setenv("USAGE_PLANS", json.dumps(ids))
    return ids


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Bus:
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bus_arn = events.create_event_bus(Name="apid-control-plane")["EventBusArn"]
    queue_url = sqs.create_queue(QueueName="usage")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="usage-to-queue",
        EventBusName="apid-control-plane",
        EventPattern=json.dumps({"source": ["api-direct.usage"]}),
    )
    events.put_targets(
        Rule="usage-to-queue",
        EventBusName="apid-control-plane",
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    monkeypatch.setenv("CONTROL_PLANE_BUS_ARN", bus_arn)
    monkeypatch.setenv("API_NAME", "weather")
    return Bus(bus_arn, queue_url)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def capture_logs() -> Iterator[Callable[[Logger], io.StringIO]]:
    """Redirect a Powertools logger's JSON output into a buffer the test can read.

    Powertools binds its handler to the stdout of import time and does not propagate
    to the root logger, so neither capsys nor caplog sees it.
    """
    restore: list[tuple[Any, Any]] = []

    def capture(logger: Logger) -> io.StringIO:
        buffer = io.StringIO()
        handler = logger.registered_handler
        restore.append((handler, handler.setStream(buffer)))
        return buffer

    yield capture
    for handler, stream in reversed(restore):
        handler.setStream(stream)


@pytest.fixture
def sync(key_table: KeyTable, usage_plans: dict[str, str], lambda_context: Any) -> Any:
    """Deliver a control-plane event to the Lambda handler, as EventBridge would."""

    def deliver(detail_type: str, detail: dict[str, Any], time: str = T1, source: str = SOURCE) -> None:
        key_sync.handler(event(detail_type, detail, time, source), lambda_context)

    return deliver
