#!/usr/bin/env python3
"""Operator entry point: the control plane stack, for `cdk synth` / `cdk deploy` or plain `python app.py`.

Creators never run this: `apid` synthesizes their API stacks in process.
"""

import api_direct  # noqa: F401  (first: points jsii at the bundled Node.js)
import aws_cdk as cdk

from api_direct.control_plane.stack import ControlPlaneStack

app = cdk.App()
ControlPlaneStack(app, "ControlPlane")
app.synth()
