"""What `apid publish` sends: the listing, from apid.toml, the deployed stack and the app itself."""

import json
import subprocess
import sys
from typing import Any

from api_direct.deploy.state import LinkRecord
from api_direct.errors import InputError, StateError
from api_direct.project import Project

_EXPORT = """
import json, sys
sys.path.insert(0, sys.argv[1])
module, attribute = sys.argv[2].split(":")
app = getattr(__import__(module, fromlist=[attribute]), attribute)
sys.stdout.write(json.dumps(app.openapi()))
"""


def export_openapi(project: Project) -> dict[str, Any]:
    """The app's OpenAPI document, read by importing it in a separate interpreter.

    A subprocess, so the creator's modules never load into the CLI's process; the
    app's requirements must be installed locally (as for running its tests).
    """
    result = subprocess.run(
        [sys.executable, "-c", _EXPORT, str(project.root), project.config.api.app],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(
            f"cannot import {project.config.api.app} to read its OpenAPI document ({last});"
            " install the project's requirements locally (pip install -r requirements.txt)"
        )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def listing(project: Project, link: LinkRecord, outputs: dict[str, str], openapi: dict[str, Any]) -> dict[str, Any]:
    """The ``PUT /listings/{api_id}`` body for this project."""
    if "ApiUrl" not in outputs:
        raise StateError(f"{project.stack_name} has no ApiUrl output: `apid deploy` before `apid publish`")
    api = project.config.api
    return {
        "name": api.title or api.name,
        "description": api.description,
        "category": api.category,
        "tags": list(api.tags),
        "base_url": outputs["ApiUrl"],
        "openapi": openapi,
        "account_id": link.account_id,
        "region": link.region,
        "plans": [
            {
                "name": plan.name,
                "description": plan.description,
                "free_calls": plan.free_calls,
                "price_per_1000": str(plan.price_per_1000),
                "monthly_fee": str(plan.monthly_fee),
                "rate_limit": plan.rate_limit,
                "burst": plan.burst,
                "monthly_quota": plan.monthly_quota,
            }
            for plan in project.config.plans
        ],
    }
