#!/usr/bin/env python3
"""Operator entry point for `cdk synth` / `cdk deploy` (see cdk.json).

Until the control plane stack exists this synthesizes the example creator API,
wired to the control plane named in cdk.json's context.
"""

from pathlib import Path

import api_direct  # noqa: F401  (first: points jsii at the bundled Node.js)
import aws_cdk as cdk

from api_direct.project import load_project
from api_direct.user_stack import UserApiStack

app = cdk.App()
project = load_project(Path(__file__).parent / app.node.get_context("api-direct:project"))
UserApiStack(
    app,
    "ExampleApi",
    project=project,
    control_plane_account_id=app.node.get_context("api-direct:controlPlaneAccount"),
    control_plane_bus_arn=app.node.get_context("api-direct:controlPlaneBusArn"),
)
app.synth()
