"""cdk-nag, cfn-lint and checkov, as the suite runs them on every synthesized template."""

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

from tests.example_project import REPO

LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
#: ``make install`` puts checkov in a venv of its own: its pins conflict with ours.
CHECKOV = REPO / ".cache" / "checkov-venv" / "bin" / "checkov"


def nag_findings(build: Callable[[cdk.App], object], outdir: Path) -> list[str]:
    """Unacknowledged AwsSolutions errors of the stacks ``build`` adds to a fresh app.

    cdk-nag 3 runs as a CDK policy-validation plugin: synth fails on any error that
    no ``Validations.of(...).acknowledge`` covers and writes the details to
    ``validation-report.json``, which this reads back as ``rule at path`` lines.
    """
    app = cdk.App(outdir=str(outdir))
    build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except RuntimeError:
        report = json.loads((outdir / "validation-report.json").read_text())
        return [
            f"{violation['ruleName']} at {construct['constructPath']}"
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            if violation["severity"] == "error"
            for construct in violation["violatingConstructs"]
        ]
    return []


def lint_errors(template: dict) -> list[str]:  # type: ignore[type-arg]
    """cfn-lint errors (E rules) for a synthesized template, as one line each."""
    matches = lint(json.dumps(template), regions=LINT_REGIONS)
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]


@dataclass
class CheckovFindings:
    """What checkov reported for one template.

    ``failed`` holds ``CHECK_ID resource: check name`` lines; ``skipped`` maps
    ``CHECK_ID resource`` to the comment the resource's ``Metadata.checkov.skip`` gives.
    """

    failed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    passed: int = 0


def checkov_findings(templates_dir: Path) -> dict[str, CheckovFindings]:
    """checkov's CloudFormation checks on every template in ``templates_dir``, by file name.

    One run for the whole folder: starting checkov takes most of its 10 s. Not
    ``--quiet``, which leaves passed and skipped checks out of the JSON report;
    ``--skip-download`` keeps it off the network (no Prisma Cloud guidelines). A
    template checkov could not parse fails the caller rather than passing unread.
    """
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed ({CHECKOV.relative_to(REPO)} is missing): run `make install`")
    # Not the developer's Prisma Cloud or checkov settings: same checks, nothing uploaded.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("BC_", "PRISMA_", "CKV_"))}
    run = subprocess.run(
        [str(CHECKOV), "-d", ".", "--framework", "cloudformation", "-o", "json", "--skip-download"],
        cwd=templates_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode not in (0, 1):  # 1: some check failed
        raise AssertionError(f"checkov exited {run.returncode}:\n{run.stderr[-4000:]}")
    report = json.loads(run.stdout)
    findings: dict[str, CheckovFindings] = {}
    for framework in report if isinstance(report, list) else [report]:
        results = framework.get("results", {})
        if results.get("parsing_errors"):
            raise AssertionError(f"checkov could not parse {results['parsing_errors']}")
        for outcome in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in results.get(outcome, []):
                found = findings.setdefault(Path(check["file_path"]).name, CheckovFindings())
                where = f"{check['check_id']} {check['resource']}"
                if outcome == "failed_checks":
                    found.failed.append(f"{where}: {check['check_name']}")
                elif outcome == "skipped_checks":
                    found.skipped[where] = check["check_result"].get("suppress_comment", "")
                else:
                    found.passed += 1
    return findings
