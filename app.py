#!/usr/bin/env python3
"""Operator entry point: the control plane stack, for `cdk synth` / `cdk deploy` or plain `python app.py`.

Creators never run this: `apid` synthesizes their API stacks in process.
"""

import api_direct  # noqa: F401  (first: points jsii at the bundled Node.js)
import aws_cdk as cdk

from api_direct.control_plane.stack import ControlPlaneStack

app = cdk.App()
# The SES-verified address usage alerts are emailed from: `cdk deploy -c apid:alert_sender=alerts@example.com`.
ControlPlaneStack(app, "ControlPlane", alert_sender=app.node.try_get_context("apid:alert_sender"))
app.synth()
