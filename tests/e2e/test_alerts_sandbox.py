"""Usage alerts in the kept sandbox, through the real CLI: a consumer sets an 80 % alert with a webhook on this
machine, calls the served API until it fires, and finds the email in the emulator's SES and the signed webhook;
then a hard spend cap stops the key (402) until it is raised.

The project is the weather example with a small quota on its paid plan (50 calls a month), so the alert fires
after a few dozen calls.
"""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.local.emulator import sent_emails
from api_direct.local.sandbox import CONSUMER, Endpoints
from api_direct.webhook_signature import SIGNATURE_HEADER, verify
from tests.control_plane.webhook_receiver import Receiver, webhook_receiver
from tests.e2e.kept_sandbox import run_kept_sandbox, status
from tests.e2e.small_quota import QUOTA, small_quota_project

#: How long the kept sandbox may take to deliver an alert (its loop runs every half second).
DELIVERY_SECONDS = 60.0


def apid(endpoints: Endpoints, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--endpoint-url", endpoints.aws, "--json", *args])


def until(condition: Callable[[], bool], endpoints: Endpoints) -> bool:
    """Deliver until ``condition`` holds, or DELIVERY_SECONDS pass."""
    deadline = time.monotonic() + DELIVERY_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        endpoints.deliver()
        time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def explore(endpoints: Endpoints) -> None:
        calls = f"{endpoints.gateway}/cities"
        login = CliRunner().invoke(
            cli,
            [
                "--endpoint-url",
                endpoints.aws,
                "login",
                "--control-plane",
                endpoints.control_plane,
                "--username",
                CONSUMER,
            ],
            env={"APID_PASSWORD": endpoints.password},
        )
        assert login.exit_code == 0, login.output
        with webhook_receiver() as receiver:
            seen["set"] = json.loads(
                apid(endpoints, "alerts", "set", "weather-api", "--threshold", "80", "--webhook", receiver.url).stdout
            )
            seen["statuses"] = []
            while not receiver.received and len(seen["statuses"]) < QUOTA:
                seen["statuses"].append(status(calls, endpoints.consumer_key))
                endpoints.deliver()
            seen["fired"] = until(lambda: bool(receiver.received), endpoints)
            seen["emailed"] = until(lambda: any("80%" in e.subject for e in sent_emails(endpoints.aws)), endpoints)
            seen["received"], seen["emails"] = list(receiver.received), sent_emails(endpoints.aws)
            seen["shown"] = json.loads(apid(endpoints, "alerts", "show", "weather-api").stdout)
            _hard_cap(endpoints, calls, receiver, seen)
            seen["logs"] = "\n".join(path.read_text(errors="replace") for path in endpoints.workdir.rglob("*.log"))

    result = run_kept_sandbox(
        explore,
        calls=10,
        temp=tmp_path_factory.mktemp("alerts"),
        project=small_quota_project(tmp_path_factory.mktemp("p")),
    )
    return result, seen


def _hard_cap(endpoints: Endpoints, calls: str, receiver: Receiver, seen: dict[str, Any]) -> None:
    """A 10.00 hard cap is below the plan's 19.00 fee: the next counted call reaches it, and the key stops."""
    apid(endpoints, "alerts", "set", "weather-api", "--spend-cap", "10", "--hard")
    seen["before cap"] = status(calls, endpoints.consumer_key)
    seen["capped"] = until(
        lambda: apid(endpoints, "alerts", "show", "weather-api").stdout.count('"capped_until": "') == 1, endpoints
    )
    seen["while capped"] = [status(calls, endpoints.consumer_key) for _ in range(2)]
    apid(endpoints, "alerts", "set", "weather-api", "--spend-cap", "1000")
    endpoints.deliver()
    seen["after raising"] = status(calls, endpoints.consumer_key)
    seen["cap events"] = [json.loads(call.body)["type"] for call in receiver.received]


def test_the_80_percent_alert_emails_the_consumer_and_posts_the_signed_webhook(
    journey: tuple[Result, dict[str, Any]],
) -> None:
    result, seen = journey
    assert result.exit_code == 0, result.output
    assert seen["fired"] and seen["emailed"]
    secret = seen["set"]["webhook_secret"]
    first = seen["received"][0]
    assert verify(first.body, first.headers[SIGNATURE_HEADER.lower()], secret) > 0
    event = json.loads(first.body)
    assert (event["type"], event["api_id"], event["plan"], event["threshold"], event["limit"]) == (
        "quota.threshold_reached",
        "weather-api",
        "pro",
        80,
        QUOTA,
    )
    assert event["used"] >= 0.8 * QUOTA
    [email] = [e for e in seen["emails"] if "80%" in e.subject]
    assert (email.source, email.to) == ("alerts@sandbox.example", (CONSUMER,))
    assert email.subject == "weather-api: 80% of your monthly quota used" and event["id"] in email.body
    assert seen["shown"]["last_delivery"]["status"] == "delivered"
    assert "alert messages" in seen["logs"]  # the deliverer's log is there
    assert secret not in seen["logs"] and secret not in json.dumps(seen["shown"])  # shown once, logged never


def test_a_hard_cap_answers_402_until_it_is_raised(journey: tuple[Result, dict[str, Any]]) -> None:
    _, seen = journey
    assert seen["before cap"] == 200
    assert seen["capped"], "the cap never held"
    assert seen["while capped"] == [402, 402]
    assert seen["after raising"] == 200
    assert "spend_cap.reached" in seen["cap events"]
