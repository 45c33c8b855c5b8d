"""``publish``: the listing, from apid.toml, the deployed stack and the app itself, put on the marketplace.

One operation for ``apid publish`` and the sandbox, so both send the same
listing. It takes the deployed stack's outputs and the linked account as values:
reading them is the deploy engine's business, and this package does not import it.
"""

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api_direct.aws_costs.traffic import RuntimeProfile
from api_direct.client.control_plane import ControlPlane
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
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@dataclass(frozen=True)
class Published:
    #: What was sent: the ``PUT /listings/{api_id}`` body.
    listing: dict[str, Any]
    #: The listing as the control plane now holds it.
    answer: dict[str, Any]


def publish(
    client: ControlPlane,
    project: Project,
    *,
    account_id: str,
    region: str,
    outputs: Mapping[str, str],
    openapi: Mapping[str, Any] | None = None,
    note: str | None = None,
    resources: Mapping[str, int] | None = None,
) -> Published:
    """List (or update) the deployed API with the plans in apid.toml; the app's OpenAPI document is read if not given.

    ``account_id`` and ``region`` are the linked account the stack is deployed in;
    ``outputs`` the stack's (its ``ApiUrl`` is the listing's base URL); ``note`` the creator's
    words for the listing's changelog; ``resources`` the stack's resources per type
    (:func:`~api_direct.deploy.stacks.resource_counts`), which its fixed monthly cost is priced from.
    """
    document = dict(openapi) if openapi is not None else export_openapi(project)
    body = listing(
        project, account_id=account_id, region=region, outputs=outputs, openapi=document, resources=resources
    )
    if note:
        body["note"] = note
    return Published(body, client.put_listing(project.config.api.name, body))


def listing(
    project: Project,
    *,
    account_id: str,
    region: str,
    outputs: Mapping[str, str],
    openapi: dict[str, Any],
    resources: Mapping[str, int] | None = None,
) -> dict[str, Any]:
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
        "account_id": account_id,
        "region": region,
        "stage": project.stage,
        "mcp": {"exclude": list(project.config.mcp.exclude)} if project.config.mcp.enabled else None,
        "route_weights": [route.model_dump(mode="json") for route in project.config.routes],
        # Every field of each plan, as apid.toml has it: the control plane validates them with the same model.
        "plans": [plan.model_dump(mode="json") for plan in project.config.plans],
        "runtime": {**runtime_profile(project, region).model_dump(), "fixed_resources": dict(resources or {})},
    }


def runtime_profile(project: Project, region: str) -> RuntimeProfile:
    """The sizes AWS bills the published stage at: ``[runtime]`` with the stage's memory, in the linked region."""
    runtime = project.runtime
    return RuntimeProfile(
        region=region,
        architecture=runtime.architecture,
        memory_mb=runtime.memory_mb,
        log_retention_days=runtime.log_retention_days,
    )
