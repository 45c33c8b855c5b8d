#!/usr/bin/env python3
"""Operator entry point for `cdk synth` / `cdk deploy`, or plain `python app.py`.

Until the control plane stack exists this synthesizes a creator project's API
stack (the example by default). Override with context, e.g.
``cdk synth -c api-direct:project=path/to/project -c api-direct:controlPlaneAccount=123456789012``.
"""

from pathlib import Path

import api_direct  # noqa: F401  (first: points jsii at the bundled Node.js)
import aws_cdk as cdk

from api_direct.project import load_project
from api_direct.user_stack import UserApiStack

app = cdk.App()
project_dir = app.node.try_get_context("api-direct:project") or "examples/weather_api"
UserApiStack(
    app,
    "UserApi",
    project=load_project(Path(__file__).parent / project_dir),
    control_plane_account_id=app.node.try_get_context("api-direct:controlPlaneAccount"),
    control_plane_bus_arn=app.node.try_get_context("api-direct:controlPlaneBusArn"),
)
app.synth()
