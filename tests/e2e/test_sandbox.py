"""`apid sandbox`, as a newcomer runs it: the whole loop on this machine, checked, nothing left behind.

Two runs of the real command (fewer calls than its default; tests/e2e/test_sandbox_projects.py runs it on
other projects):

* the weather example, with ``--keep`` and a private temp folder. While it is kept,
  the test explores as a user would (the marketplace lists the API, the creator's
  earnings show the payout through the real CLI, the served API answers the
  consumer's key and refuses a wrong one, and the calls it let through reach the
  control plane's usage counters), then presses Ctrl-C; afterwards the work folder
  is gone and the emulator's port no longer answers;
"""

import json
from decimal import Decimal
import socket
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.client import sign_in
from api_direct.control_plane.billing.metering import HOUR_PREFIX
from api_direct.local.sandbox import Endpoints
from api_direct.local.agent_calls import call_tools
from tests.e2e.kept_sandbox import fetch, run_kept_sandbox, summary
from tests.secret_scan import find_secrets

CALLS = 20
#: Calls the test makes through the kept sandbox's served API with the consumer's key.
KEPT_CALLS = 3
WRONG_KEY = "apid_" + "x" * 43
ANOTHER_CONSUMER = "another@sandbox.example"


@pytest.fixture(scope="module")
def kept() -> dict[str, Any]:
    """What the test saw while the sandbox was kept running."""
    return {}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kept: dict[str, Any]) -> tuple[Result, Path]:
    temp = tmp_path_factory.mktemp("sandbox-tmp")

    def explore(endpoints: Endpoints) -> None:
        kept["endpoints"] = endpoints
        kept["workdir_existed"] = endpoints.workdir.is_dir()
        with urllib.request.urlopen(f"{endpoints.control_plane}/listings", timeout=10) as response:  # noqa: S310
            kept["listed"] = [item["api_id"] for item in json.load(response)["items"]]
        kept["earnings"] = (
            CliRunner()
            .invoke(
                cli,
                [
                    "--endpoint-url",
                    endpoints.aws,
                    "--json",
                    "login",
                    "--control-plane",
                    endpoints.control_plane,
                    "--username",
                    endpoints.users[0],
                ],
                env={"APID_PASSWORD": endpoints.password},
            )
            .exit_code,
            CliRunner().invoke(cli, ["--endpoint-url", endpoints.aws, "--json", "earnings"]),
        )
        kept["costs"] = CliRunner().invoke(cli, ["--endpoint-url", endpoints.aws, "--json", "costs"])
        before = metered_calls(endpoints)
        answers = [
            fetch(f"{endpoints.gateway}/cities", key) for key in [endpoints.consumer_key] * KEPT_CALLS + [WRONG_KEY]
        ]
        kept["statuses"] = [answer.status for answer in answers]
        kept["limit headers"] = [
            (answer.header_values("RateLimit-Policy"), answer.header_values("RateLimit")) for answer in answers
        ]
        endpoints.deliver()
        kept["metered"], kept["delivered again"] = metered_calls(endpoints) - before, endpoints.deliver()
        assert endpoints.mcp is not None
        before = metered_calls(endpoints)
        kept["agent"] = call_tools(endpoints.mcp, endpoints.consumer_key, [("list_cities_cities_get", {})])
        endpoints.deliver()
        kept["metered for the agent"] = metered_calls(endpoints) - before
        kept["texts"], kept["secrets"] = written_down(endpoints)
        # One more consumer, as a load of many signs them up: in the consumers' group, so a consumer's route answers.
        assert endpoints.sign_up is not None
        endpoints.sign_up(ANOTHER_CONSUMER, "consumers")
        another = sign_in.login(
            endpoints.control_plane,
            ANOTHER_CONSUMER,
            endpoints.password,
            endpoint_url=endpoints.aws,
            mfa_code=lambda: "",
        )
        kept["another consumer's subscriptions"] = sign_in.client_for(
            another, endpoint_url=endpoints.aws
        ).subscriptions()

    return run_kept_sandbox(explore, calls=CALLS, temp=temp), temp


def metered_calls(endpoints: Endpoints) -> int:
    """The weather API's calls as the control plane's usage counters hold them, every consumer and hour.

    Every hour, not this month's: the kept sandbox's calls count in the first hour
    the story left open, which is next month's in the last hour of a month.
    """
    dynamodb = boto3.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoints.aws)
    return sum(
        int(item["calls"]["N"])
        for table in dynamodb.list_tables()["TableNames"]
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=table,
            # The hourly counters billing reads (the same calls are also counted per key and day).
            FilterExpression="begins_with(pk, :meter) AND begins_with(sk, :hour)",
            ExpressionAttributeValues={":meter": {"S": "METER#weather-api#"}, ":hour": {"S": HOUR_PREFIX}},
        )
        for item in page["Items"]
    )


def written_down(endpoints: Endpoints) -> tuple[dict[str, str], dict[str, str]]:
    """Every template, log and record the run wrote (but the 0600 token cache), and the run's secrets."""
    texts = {
        str(path): path.read_text(errors="replace")
        for path in sorted(endpoints.workdir.rglob("*"))
        if path.is_file()
        and path.suffix in (".json", ".log", ".txt")
        and not path.is_relative_to(endpoints.config_home)
    }
    aws = boto3.Session(region_name="us-east-1")
    logs = aws.client("logs", endpoint_url=endpoints.aws)
    for group in logs.describe_log_groups()["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
        texts[f"log group {group['logGroupName']}"] = "\n".join(event["message"] for event in events)
    manager = aws.client("secretsmanager", endpoint_url=endpoints.aws)
    [stripe] = [
        json.loads(manager.get_secret_value(SecretId=secret["ARN"])["SecretString"])
        for secret in manager.list_secrets()["SecretList"]
    ]
    return texts, {
        "Stripe secret key": stripe["api_key"],
        "Stripe webhook secret": stripe["webhook_secret"],
        "API key": endpoints.consumer_key,
    }


def test_every_number_matches(run: tuple[Result, Path]) -> None:
    found = summary(run[0])
    assert found["ok"] and all(check["expected"] == check["actual"] for check in found["checks"])
    # Every tenth call misses its key, every tenth has a wrong one, every tenth asks for an unknown route; then an
    # agent calls each of the example's three operations once as an MCP tool: three more calls, each billable.
    assert found["mcp_tool_calls"] == 3
    # Billable in units: every third good call, and one of the agent's, is GET /forecast/{city_id}, 5 units each.
    good = CALLS - 3 * (CALLS // 10)
    forecasts = len(range(2, good, 3)) + 1
    assert found["calls"] == CALLS + 3 and found["billable"] == good + 3 + (5 - 1) * forecasts
    checked = {check["name"] for check in found["checks"]}
    assert {"MCP tools listed, one per operation", "MCP tool calls reached their routes"} <= checked
    # pro: 19.00 a month, 10000 units included; Stripe keeps 2.9 % + 30 cents and 0.7 %, the platform 20 %.
    assert (found["billed"], found["stripe_fees"], found["fee"], found["payout"]) == (1900, 98, 380, 1422)
    # Every call the gateway answered, keyless and MCP's own requests included, is priced at AWS's prices. The
    # example's stack has nothing AWS bills by the month (no alarm without a canary, no key of its own), so the
    # margin is the payout less AWS's cost of the calls: a fraction of a cent at API Gateway's $3.50 a million.
    assert {"calls priced at AWS's prices", "response bytes priced as data transfer"} <= checked
    variable, fixed = Decimal(found["aws_variable_cost"]), Decimal(found["aws_fixed_monthly"])
    assert Decimal(0) < variable < Decimal("0.01") and fixed == 0
    # Each figure is rounded to a millionth of a dollar apart (the plans' costs, the month's margin).
    assert abs(Decimal(found["margin"]) - (Decimal("14.22") - variable)) <= Decimal("0.000005")


def test_progress_names_each_step(run: tuple[Result, Path]) -> None:
    result, _ = run
    for step in (
        "Deploy the control plane template",
        "Sign up a creator",
        "Link the creator's AWS account",
        "through the assumed deploy role",
        "Publish weather-api",
        "gets a key",
        f"Make {CALLS} calls",
        "aggregate them",
        "meter event",
        "invoices",
        "paid out",
    ):
        assert step in result.stderr, step


def test_nothing_is_left_behind(run: tuple[Result, Path]) -> None:
    result, temp = run
    assert list(temp.iterdir()) == []
    aws = result.stderr.split("AWS: ", 1)[1].split()[0]
    host, port = aws.removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0


def test_kept_running_it_can_be_explored(run: tuple[Result, Path], kept: dict[str, Any]) -> None:
    summary(run[0])
    result, _ = run
    endpoints: Endpoints = kept["endpoints"]
    assert kept["workdir_existed"] and kept["listed"] == ["weather-api"]
    for shown in (
        endpoints.aws,
        endpoints.control_plane,
        endpoints.stripe,
        endpoints.consumer_key,
        endpoints.marketplace,
        endpoints.portal,
        f"{endpoints.gateway}/cities",
    ):
        assert shown in result.stderr
    assert kept["statuses"] == [200] * KEPT_CALLS + [403]
    # The deployed authorizer's limits, added by the app's adapter; no RateLimit: the emulator has no GetUsage.
    [(policy, remaining)] = set(
        (tuple(policy), tuple(remaining)) for policy, remaining in kept["limit headers"][:KEPT_CALLS]
    )
    assert len(policy) == 1 and policy[0].startswith('"rate";q=') and remaining == ()
    assert kept["limit headers"][KEPT_CALLS] == ([], [])
    assert (kept["metered"], kept["delivered again"]) == (KEPT_CALLS, 0)
    # An agent through the served stage's /mcp: the tool call is one metered call, its listing none.
    [cities] = kept["agent"].results
    assert not cities.is_error and "list_cities_cities_get" in kept["agent"].listed
    assert kept["metered for the agent"] == 1 and f"MCP (agents):    {endpoints.mcp}" in result.stderr
    assert kept["another consumer's subscriptions"] == []
    login_exit, earnings = kept["earnings"]
    assert login_exit == 0 and earnings.exit_code == 0, earnings.stderr
    [month] = json.loads(earnings.stdout)["months"]
    assert (month["state"], month["payout"]) == ("paid", 1422)
    # `apid costs` prints the month the summary priced: every call, the same margin.
    costs = kept["costs"]
    assert costs.exit_code == 0, costs.stderr
    [api] = json.loads(costs.stdout)["apis"]
    checks = {check["name"]: check["actual"] for check in summary(result)["checks"]}
    assert (api["api"], api["totals"]["calls"]) == ("weather-api", checks["calls priced at AWS's prices"])
    assert api["totals"]["margin"] == summary(result)["margin"]


def test_no_secret_in_a_template_a_log_or_the_output(run: tuple[Result, Path], kept: dict[str, Any]) -> None:
    """Templates, Lambda's log, CloudWatch, the records: none holds a secret; the output shows the key once (--keep)."""
    result, _ = run
    texts, known = kept["texts"], kept["secrets"]
    assert any(where.endswith(".template.json") for where in texts) and any(where.endswith(".log") for where in texts)
    findings = [finding for where, text in texts.items() for finding in find_secrets(where, text, known)]
    assert findings == []
    printed = result.stdout + result.stderr
    assert printed.count(known.pop("API key")) <= 1
    assert [f for f in find_secrets("output", printed, known) if not f.startswith("API-Direct API key")] == []
