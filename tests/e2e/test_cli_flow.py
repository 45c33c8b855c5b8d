"""A creator's whole journey through the real `apid` CLI against moto_server on loopback.

init → aws link → plan → deploy → plan (no changes) → code change → deploy --hotswap
→ status → logs → destroy → aws unlink. Each step asserts on the CLI's output and on
what the emulator really holds. The tests run in file order and share one project
and one server (module scope), as a user's session would.
"""

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import pytest
from click.testing import CliRunner, Result

from api_direct.cli.main import cli
from api_direct.deploy.state import load_state
from tests.e2e.conftest import MOTO_ACCOUNT, REGION
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
def apid(
    moto_endpoint: str, project: Path, bundle_cache_dir: Path, assume_role_requests: list[Any], printed: list[str]
) -> Any:
    def run(*args: str, input: str | None = None) -> Result:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("APID_CACHE_DIR", str(bundle_cache_dir))
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


def test_init_scaffolds_the_project(apid: Any, project: Path) -> None:
    created = ok(apid("--json", "init", str(project)))
    assert created["name"] == "demo-api" and (project / "apid.toml").is_file()


def test_link_deploys_roles_bucket_and_records_them(apid: Any, project: Path, aws: Any) -> None:
    linked = ok(apid("--json", "aws", "link"))
    assert linked["account_id"] == MOTO_ACCOUNT and linked["asset_bucket"] == f"apid-assets-{MOTO_ACCOUNT}-{REGION}"
    assert "external_id" not in linked  # kept in .apid/state.json, not printed
    link = load_state(project).require_link()
    trust = aws("iam").get_role(RoleName=f"apid-deploy-{REGION}")["Role"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": link.external_id}}
    boundary = aws("iam").get_role(RoleName=f"apid-cfn-exec-{REGION}")["Role"]["PermissionsBoundary"]
    assert boundary["PermissionsBoundaryArn"] == link.permissions_boundary_arn
    assert ok(apid("--json", "aws", "status"))["healthy"] is True


def test_plan_shows_additions_and_changes_nothing(apid: Any, aws: Any) -> None:
    planned = ok(apid("--json", "plan"))
    assert planned["creates_stack"] is True
    actions = {c["action"] for c in planned["changes"]}
    types = {c["type"] for c in planned["changes"]}
    assert actions == {"Add"} and {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::DynamoDB::Table"} <= types
    names = [
        s["StackName"]
        for s in aws("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert STACK not in names
    assert aws("lambda").list_functions()["Functions"] == []


def test_deploy_creates_the_api_and_prints_its_url(apid: Any, aws: Any) -> None:
    deployed = ok(apid("--json", "deploy"))
    assert deployed["status"] == "CREATE_COMPLETE" and deployed["uploaded_assets"] == 2
    assert deployed["outputs"]["ApiUrl"].startswith("https://") and "execute-api" in deployed["outputs"]["ApiUrl"]
    functions = {f["Handler"]: f for f in aws("lambda").list_functions()["Functions"]}
    assert set(functions) == {
        "apid_handler.handler",
        "api_direct.runtime.authorizer.handler",
        "api_direct.runtime.key_sync.handler",
    }  # no control plane: no usage forwarder
    assert all(f["Runtime"] == "python3.12" and f["Architectures"] == ["arm64"] for f in functions.values())
    [api] = aws("apigateway").get_rest_apis()["items"]
    assert api["apiKeySource"] == "AUTHORIZER"
    assert [t for t in aws("dynamodb").list_tables()["TableNames"] if t.startswith(STACK)]
    objects = aws("s3").list_objects_v2(Bucket=f"apid-assets-{MOTO_ACCOUNT}-{REGION}")["Contents"]
    assert len(objects) == 2 and all(o["Key"].startswith("assets/") for o in objects)


def test_plan_after_deploy_has_no_changes(apid: Any) -> None:
    planned = ok(apid("--json", "plan"))
    assert planned["no_changes"] is True and planned["changes"] == []
    again = ok(apid("--json", "deploy"))
    assert again["status"] == "NO_CHANGES" and again["uploaded_assets"] == 0


def test_code_change_full_deploy_updates_the_function(apid: Any, project: Path, aws: Any) -> None:
    before = app_function(aws)["CodeSha256"]
    edit(project, "# full deploy edit\n")
    deployed = ok(apid("--json", "deploy"))
    assert deployed["status"] == "UPDATE_COMPLETE"
    assert [c["type"] for c in deployed["changes"]] == ["AWS::Lambda::Function"]
    assert app_function(aws)["CodeSha256"] != before


def test_hotswap_updates_code_directly_and_reports_drift(apid: Any, project: Path, aws: Any) -> None:
    before = app_function(aws)["CodeSha256"]
    edit(project, "# hotswap edit\n")
    swapped = ok(apid("--json", "deploy", "--hotswap"))
    assert swapped["status"] == "HOTSWAPPED" and len(swapped["hotswapped"]) == 1
    assert app_function(aws)["CodeSha256"] != before
    assert ok(apid("--json", "status"))["drifted_since"]
    human = apid("deploy", "--hotswap")
    assert human.exit_code == 0 and "no changes" in human.output
    ok(apid("--json", "deploy"))  # the full deploy reconciles the template...
    assert ok(apid("--json", "status"))["drifted_since"] is None  # ...and clears the drift


def test_hotswap_falls_back_when_more_than_code_changed(apid: Any, project: Path) -> None:
    toml = project / "apid.toml"
    toml.write_text(toml.read_text().replace("[[plans]]", "[runtime]\nmemory_mb = 1024\n\n[[plans]]", 1))
    result = ok(apid("--json", "deploy", "--hotswap"))
    assert result["fell_back_from_hotswap"] is True and result["status"] == "UPDATE_COMPLETE"


def test_status_shows_state_and_outputs(apid: Any) -> None:
    status = ok(apid("--json", "status"))
    assert status["status"] == "UPDATE_COMPLETE" and "ApiUrl" in status["outputs"]
    human = apid("status")
    assert human.exit_code == 0 and STACK in human.output and "ApiUrl" in human.output


def test_logs_prints_the_app_log(apid: Any, aws: Any) -> None:
    group = ok(apid("--json", "status"))["outputs"]["AppLogGroupName"]
    logs = aws("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/25/[$LATEST]abc")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/25/[$LATEST]abc",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "GET /hello/world 200"}],
    )
    printed = ok(apid("--json", "logs", "--since", "5m"))
    assert printed["log_group"] == group and [l["message"] for l in printed["lines"]] == ["GET /hello/world 200"]


def test_no_secret_in_a_deployed_template_a_log_or_the_output(
    aws: Any, project: Path, printed: list[str], assume_role_requests: list[dict[str, list[str]]]
) -> None:
    """The link's and the API's templates as CloudFormation holds them, every log event, all the CLI said."""
    known = {"ExternalId": assume_role_requests[0]["ExternalId"][0]}
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
    assert len(printed) > 15 and len(texts) > 8
    findings = [finding for where, text in texts.items() for finding in find_secrets(where, text, known)]
    assert findings == []


def test_destroy_removes_the_stack(apid: Any, aws: Any) -> None:
    refused = apid("destroy")  # no --yes and nobody to ask
    assert refused.exit_code == 5 and "--yes" in refused.stderr
    destroyed = ok(apid("--json", "destroy", "--yes"))
    assert destroyed["status"] == "DELETE_COMPLETE"
    assert aws("lambda").list_functions()["Functions"] == []
    again = apid("destroy", "--yes")
    assert again.exit_code == 5 and "nothing to destroy" in again.stderr
    no_logs = apid("logs")
    assert no_logs.exit_code == 5 and "not deployed: nothing to show" in no_logs.stderr


def test_unlink_removes_the_link(apid: Any, project: Path, aws: Any) -> None:
    ok(apid("--json", "aws", "unlink", "--yes"))
    assert load_state(project).link is None
    assert f"apid-assets-{MOTO_ACCOUNT}-{REGION}" not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]


def test_every_assume_role_sent_the_external_id(
    assume_role_requests: list[dict[str, list[str]]], project: Path
) -> None:
    """Checked on the wire: moto, unlike STS, would accept the call without it."""
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
