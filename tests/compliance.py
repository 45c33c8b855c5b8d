"""cdk-nag and cfn-lint, as the suite runs them on every synthesized template."""

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def nag_findings(build: Callable[[cdk.App], cdk.Stack], outdir: Path) -> list[str]:
    """Unacknowledged AwsSolutions errors of the stack ``build`` adds to a fresh app.

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
