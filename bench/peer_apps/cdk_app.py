"""The example's UserApiStack as a plain CDK app, for the npm ``cdk`` CLI (the peer of ``apid``).

The same constructs and synthesizer ``apid`` uses (``api_direct/deploy/synthesis.py``),
under another stack name so both deploy side by side into one emulator. Environment:
``BENCH_PROJECT`` (the project folder), ``BENCH_STACK`` (the stack name),
``APID_CACHE_DIR`` (the same bundle cache ``apid`` uses, so bundling costs the same).
"""

import os
from pathlib import Path

import aws_cdk as cdk

from api_direct.project import load_project
from api_direct.user_stack import UserApiStack

app = cdk.App(analytics_reporting=False)
UserApiStack(
    app,
    "UserApi",
    project=load_project(Path(os.environ["BENCH_PROJECT"])),
    stack_name=os.environ.get("BENCH_STACK", "cdk-weather-api"),
)
app.synth()
