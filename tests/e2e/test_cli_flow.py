"""A creator's whole journey through the real `apid` CLI against moto_server on loopback.

init → aws link → plan → deploy → plan (no changes) → code change → deploy --hotswap
→ status → logs → destroy → aws unlink. Each step is a module-scoped fixture that
runs it once, on one project and one server as a user's session would, after the
steps before it (the fixtures it requests), and keeps what the CLI printed and what
the emulator held right after it; each test asserts on one step. So any test passes
alone or in any order, and the journey still runs once per module.
"""

import json
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.deploy.state import load_state
from tests.e2e.moto_account import MOTO_ACCOUNT, REGION
from tests.secret_scan import find_secrets

STACK = "apid-demo-api"


@pytest.fixture(scope="module")
def assume_role_requests() -> Iterator[list[dict[str, list[str]]]]:
    """Every AssumeRole request as it is sent over HTTP (the emulator does not check ExternalId)."""
    sent: list[dict[str, list[str]]] = []
    original = botocore.endpoint.Endpoint._send

    def recording(self: botocore.endpoint.Endpoint, request: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        if "Action=AssumeRole" in body:
            sent.append(urllib.parse.parse_qs(body))
        return original(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.endpoint.Endpoint, "_send", recording)
        yield sent


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("creator") / "demo-api"


@pytest.fixture(scope="module")
def printed() -> list[str]:
    """Everything the CLI printed in this module, stdout and stderr, for the secret scan."""
    return []


@pytest.fixture(scope="module")
def apid(moto_endpoint: str, project: Path, assume_role_requests: list[Any], printed: list[str]) -> Any:
    def run(*args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(
            cli, ["--project", str(project), "--endpoint-url", moto_endpoint, *args], input=input
        )
        printed.append(f"{' '.join(args)}\n{result.stdout}{result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Any:
    return lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stderr or result.output}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def initialized(apid: Any, project: Path) -> dict[str, Any]:
    """``apid init``'s output."""
    return ok(apid("--json", "init", str(project)))


@pytest.fixture(scope="module")
def linked(apid: Any, project: Path, aws: Any, initialized: dict[str, Any]) -> SimpleNamespace:
    """``apid aws link``: its output, the link it recorded, the two roles it made, ``aws status`` after it."""
    output = ok(apid("--json", "aws", "link"))
    return SimpleNamespace(
        output=output,
        link=load_state(project).require_link(),
        trust=aws("iam").get_role(RoleName=f"apid-deploy-{REGION}")["Role"]["AssumeRolePolicyDocument"],
        boundary=aws("iam").get_role(RoleName=f"apid-cfn-exec-{REGION}")["Role"]["PermissionsBoundary"],
        status=ok(apid("--json", "aws", "status")),
    )


@pytest.fixture(scope="module")
def first_plan(apid: Any, aws: Any, linked: SimpleNamespace) -> SimpleNamespace:
    """``apid plan`` before the first deploy, and the stacks and functions there were after it."""
    output = ok(apid("--json", "plan"))
    return SimpleNamespace(
        output=output,
        stacks=[
            s["StackName"]
            for s in aws("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ],
        functions=aws("lambda").list_functions()["Functions"],
    )


@pytest.fixture(scope="module")
def deployed(apid: Any, aws: Any, first_plan: SimpleNamespace) -> SimpleNamespace:
    """The first ``apid deploy``, and the functions, API, tables and uploaded assets it left."""
    output = ok(apid("--json", "deploy"))
    return SimpleNamespace(
        output=output,
        functions={f["Handler"]: f for f in aws("lambda").list_functions()["Functions"]},
        apis=aws("apigateway").get_rest_apis()["items"],
        tables=aws("dynamodb").list_tables()["TableNames"],
        objects=aws("s3").list_objects_v2(Bucket=f"apid-assets-{MOTO_ACCOUNT}-{REGION}")["Contents"],
    )


@pytest.fixture(scope="module")
def unchanged(apid: Any, deployed: SimpleNamespace) -> SimpleNamespace:
    """``apid plan`` and ``apid deploy`` again, with nothing changed since the first deploy."""
    return SimpleNamespace(plan=ok(apid("--json", "plan")), deploy=ok(apid("--json", "deploy")))


@pytest.fixture(scope="module")
def code_deployed(apid: Any, project: Path, aws: Any, unchanged: SimpleNamespace) -> SimpleNamespace:
    """A code edit deployed in full: the app function's code hash before and after."""
    before = app_function(aws)["CodeSha256"]
    edit(project, "# full deploy edit\n")
    output = ok(apid("--json", "deploy"))
    return SimpleNamespace(before=before, output=output, after=app_function(aws)["CodeSha256"])


@pytest.fixture(scope="module")
def hotswapped(apid: Any, project: Path, aws: Any, code_deployed: SimpleNamespace) -> SimpleNamespace:
    """A code edit hotswapped, the drift ``status`` reports, a hotswap with nothing to do, a full deploy."""
    before = app_function(aws)["CodeSha256"]
    edit(project, "# hotswap edit\n")
    output = ok(apid("--json", "deploy", "--hotswap"))
    after = app_function(aws)["CodeSha256"]
    drifted = ok(apid("--json", "status"))
    human = apid("deploy", "--hotswap")
    ok(apid("--json", "deploy"))
    return SimpleNamespace(
        before=before, output=output, after=after, drifted=drifted, human=human, reconciled=ok(apid("--json", "status"))
    )


@pytest.fixture(scope="module")
def fell_back(apid: Any, project: Path, hotswapped: SimpleNamespace) -> dict[str, Any]:
    """``apid deploy --hotswap`` after a change beyond code (the function's memory)."""
    toml = project / "apid.toml"
    toml.write_text(toml.read_text().replace("[[plans]]", "[runtime]\nmemory_mb = 1024\n\n[[plans]]", 1))
    return ok(apid("--json", "deploy", "--hotswap"))


@pytest.fixture(scope="module")
def status(apid: Any, fell_back: dict[str, Any]) -> SimpleNamespace:
    """``apid status``, as JSON and for a person, after the last deploy."""
    return SimpleNamespace(output=ok(apid("--json", "status")), human=apid("status"))


@pytest.fixture(scope="module")
def logs_printed(apid: Any, aws: Any, status: SimpleNamespace) -> SimpleNamespace:
    """A line in the app's log group, and ``apid logs`` after it."""
    group = status.output["outputs"]["AppLogGroupName"]
    logs = aws("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/25/[$LATEST]abc")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/25/[$LATEST]abc",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "GET /hello/world 200"}],
    )
    return SimpleNamespace(group=group, output=ok(apid("--json", "logs", "--since", "5m")))


@pytest.fixture(scope="module")
def deployed_texts(aws: Any, project: Path, printed: list[str], logs_printed: SimpleNamespace) -> SimpleNamespace:
    """The link's and the API's templates as CloudFormation holds them, every log event, all the CLI said
    (and how many commands), while both stacks still stand."""
    cloudformation, logs = aws("cloudformation"), aws("logs")
    texts = {
        f"template of {name}": json.dumps(cloudformation.get_template(StackName=name)["TemplateBody"])
        for name in (STACK, "apid-link")
    }
    texts |= {
        f"stack {name}": json.dumps(cloudformation.describe_stacks(StackName=name)["Stacks"], default=str)
        for name in (STACK, "apid-link")
    }
    for group in logs.describe_log_groups()["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
        texts[f"log group {group['logGroupName']}"] = "\n".join(event["message"] for event in events)
    texts |= {str(path): path.read_text() for path in (project / ".apid" / "cdk.out").glob("*.json")}
    texts["the CLI's output"] = "\n".join(printed)
    return SimpleNamespace(texts=texts, commands=len(printed))


@pytest.fixture(scope="module")
def destroyed(apid: Any, aws: Any, deployed_texts: SimpleNamespace) -> SimpleNamespace:
    """``apid destroy`` without ``--yes``, with it, again; ``apid logs`` after; the functions left."""
    refused = apid("destroy")  # no --yes and nobody to ask
    output = ok(apid("--json", "destroy", "--yes"))
    functions = aws("lambda").list_functions()["Functions"]
    return SimpleNamespace(
        refused=refused, output=output, functions=functions, again=apid("destroy", "--yes"), no_logs=apid("logs")
    )


@pytest.fixture(scope="module")
def unlinked(apid: Any, project: Path, aws: Any, destroyed: SimpleNamespace) -> SimpleNamespace:
    """``apid aws unlink``, the link left in the state, the buckets left in the account."""
    ok(apid("--json", "aws", "unlink", "--yes"))
    return SimpleNamespace(
        link=load_state(project).link, buckets=[b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    )


def test_init_scaffolds_the_project(initialized: dict[str, Any], project: Path) -> None:
    assert initialized["name"] == "demo-api" and (project / "apid.toml").is_file()


def test_link_deploys_roles_bucket_and_records_them(linked: SimpleNamespace) -> None:
    assert linked.output["account_id"] == MOTO_ACCOUNT
    assert linked.output["asset_bucket"] == f"apid-assets-{MOTO_ACCOUNT}-{REGION}"
    assert "external_id" not in linked.output  # kept in .apid/state.json, not printed
    [statement] = linked.trust["Statement"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": linked.link.external_id}}
    assert linked.boundary["PermissionsBoundaryArn"] == linked.link.permissions_boundary_arn
    assert linked.status["healthy"] is True


def test_plan_shows_additions_and_changes_nothing(first_plan: SimpleNamespace) -> None:
    assert first_plan.output["creates_stack"] is True
    actions = {c["action"] for c in first_plan.output["changes"]}
    types = {c["type"] for c in first_plan.output["changes"]}
    assert actions == {"Add"} and {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::DynamoDB::Table"} <= types
    assert STACK not in first_plan.stacks
    assert first_plan.functions == []


def test_plan_shows_the_stacks_aws_cost_at_assumed_traffic_with_no_control_plane(first_plan: SimpleNamespace) -> None:
    costs = first_plan.output["costs"]
    assert (costs["region"], costs["traffic"], costs["measured"]) == (REGION, "assumed", None)
    assert costs["runtime"]["architecture"] == "arm64"
    assert costs["log_retention_days"] == {"access_log": 365, "functions": 30}
    assert costs["fixed_monthly"] == {"total": "0.000000", "items": []}  # nothing billed monthly without a canary
    per_1000 = costs["per_1000_calls"]
    assert Decimal(per_1000["total"]) > 0
    assert {"apigateway_rest_requests", "lambda_gb_seconds_arm64", "logs_stored_gb_month"} <= {
        item["key"] for item in per_1000["items"]
    }


def test_deploy_creates_the_api_and_prints_its_url(deployed: SimpleNamespace) -> None:
    output = deployed.output
    # The app's bundle, our handlers' and the MCP function's.
    assert output["status"] == "CREATE_COMPLETE" and output["uploaded_assets"] == 3
    assert output["outputs"]["ApiUrl"].startswith("https://") and "execute-api" in output["outputs"]["ApiUrl"]
    assert set(deployed.functions) == {
        "apid_handler.handler",
        "api_direct.runtime.authorizer.handler",
        "api_direct.runtime.key_sync.handler",
        "api_direct.runtime.mcp_server.handler",
    }  # no control plane: no usage forwarder
    assert all(f["Runtime"] == "python3.12" and f["Architectures"] == ["arm64"] for f in deployed.functions.values())
    [api] = deployed.apis
    assert api["apiKeySource"] == "AUTHORIZER"
    assert [t for t in deployed.tables if t.startswith(STACK)]
    assert len(deployed.objects) == 3 and all(o["Key"].startswith("assets/") for o in deployed.objects)


def test_plan_after_deploy_has_no_changes(unchanged: SimpleNamespace) -> None:
    assert unchanged.plan["no_changes"] is True and unchanged.plan["changes"] == []
    assert unchanged.deploy["status"] == "NO_CHANGES" and unchanged.deploy["uploaded_assets"] == 0


def test_code_change_full_deploy_updates_the_function(code_deployed: SimpleNamespace) -> None:
    assert code_deployed.output["status"] == "UPDATE_COMPLETE"
    # The function's new code, and the version it publishes: a new version in, the old one out (it is kept: Retain),
    # the live alias moved to the new one.
    changes = sorted((c["type"], c["action"]) for c in code_deployed.output["changes"])
    assert changes == [
        ("AWS::Lambda::Alias", "Modify"),
        ("AWS::Lambda::Function", "Modify"),
        ("AWS::Lambda::Version", "Add"),
        ("AWS::Lambda::Version", "Remove"),
    ]
    assert code_deployed.after != code_deployed.before


def test_hotswap_updates_code_directly_and_reports_drift(hotswapped: SimpleNamespace) -> None:
    assert hotswapped.output["status"] == "HOTSWAPPED" and len(hotswapped.output["hotswapped"]) == 1
    assert hotswapped.after != hotswapped.before
    assert hotswapped.drifted["drifted_since"]
    assert hotswapped.human.exit_code == 0 and "no changes" in hotswapped.human.output
    assert hotswapped.reconciled["drifted_since"] is None  # the full deploy reconciles the template and the drift


def test_hotswap_falls_back_when_more_than_code_changed(fell_back: dict[str, Any]) -> None:
    assert fell_back["fell_back_from_hotswap"] is True and fell_back["status"] == "UPDATE_COMPLETE"


def test_status_shows_state_and_outputs(status: SimpleNamespace) -> None:
    assert status.output["status"] == "UPDATE_COMPLETE" and "ApiUrl" in status.output["outputs"]
    assert status.human.exit_code == 0 and STACK in status.human.output and "ApiUrl" in status.human.output


def test_logs_prints_the_app_log(logs_printed: SimpleNamespace) -> None:
    printed = logs_printed.output
    assert printed["log_group"] == logs_printed.group
    assert [l["message"] for l in printed["lines"]] == ["GET /hello/world 200"]


def test_no_secret_in_a_deployed_template_a_log_or_the_output(
    deployed_texts: SimpleNamespace, assume_role_requests: list[dict[str, list[str]]]
) -> None:
    known = {"ExternalId": assume_role_requests[0]["ExternalId"][0]}
    texts = deployed_texts.texts
    assert deployed_texts.commands > 15 and len(texts) > 8
    findings = [finding for where, text in texts.items() for finding in find_secrets(where, text, known)]
    assert findings == []


def test_destroy_removes_the_stack(destroyed: SimpleNamespace) -> None:
    assert destroyed.refused.exit_code == 5 and "--yes" in destroyed.refused.stderr
    assert destroyed.output["status"] == "DELETE_COMPLETE"
    assert destroyed.functions == []
    assert destroyed.again.exit_code == 5 and "nothing to destroy" in destroyed.again.stderr
    assert destroyed.no_logs.exit_code == 5 and "not deployed: nothing to show" in destroyed.no_logs.stderr


def test_unlink_removes_the_link(unlinked: SimpleNamespace) -> None:
    assert unlinked.link is None
    assert f"apid-assets-{MOTO_ACCOUNT}-{REGION}" not in unlinked.buckets


def test_every_assume_role_sent_the_external_id(
    unlinked: SimpleNamespace, assume_role_requests: list[dict[str, list[str]]]
) -> None:
    """Checked on the wire, over the whole journey: moto, unlike STS, would accept the call without it."""
    assert len(assume_role_requests) >= 10
    external_ids = {request["ExternalId"][0] for request in assume_role_requests}
    assert len(external_ids) == 1 and len(next(iter(external_ids))) >= 32
    assert {request["RoleArn"][0] for request in assume_role_requests} == {
        f"arn:aws:iam::{MOTO_ACCOUNT}:role/apid-deploy-{REGION}"
    }
    assert all(request["DurationSeconds"] == ["3600"] for request in assume_role_requests)


def app_function(aws: Any) -> dict[str, Any]:
    [function] = [f for f in aws("lambda").list_functions()["Functions"] if f["Handler"] == "apid_handler.handler"]
    return function  # type: ignore[no-any-return]


def edit(project: Path, line: str) -> None:
    main = project / "main.py"
    main.write_text(main.read_text() + line)
