"""The operator's entry point synthesizes as `cdk synth` would run it (cdk.json's "app")."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_app_py_synthesizes_the_example(tmp_path: Path, bundle_cache_dir: Path) -> None:
    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert cdk_json["app"].endswith("python app.py")
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "APID_CACHE_DIR": str(bundle_cache_dir)}
    env.pop("JSII_NODE", None)  # app.py must find the bundled Node by itself
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert [s["properties"].get("stackName") for s in stacks] == ["apid-weather-api"]
    assert "end-of-life" not in result.stderr  # jsii ran on the bundled, supported Node
