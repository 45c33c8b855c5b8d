"""A MeteredApi in a stack of its own, synthesized: for tests of what its template configures."""

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

from api_direct.constructs import ApiKeyStore, MeteredApi, PlanLimits
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from tests.example_project import CONTROL_PLANE_ACCOUNT

PLANS = [PlanLimits(name="free", rate_limit=2, burst=5, monthly_quota=1000)]


def metered_api_template(bundle_cache_dir: Path, **options: Any) -> tuple[MeteredApi, dict[str, Any]]:
    """The construct (with ``options``) in front of an inline function, and its stack's template as JSON."""
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)})
    stack = cdk.Stack(app, "apid-cors-test")
    handler = lambda_.Function(
        stack,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )
    keys = ApiKeyStore(stack, "Keys", control_plane_account_id=CONTROL_PLANE_ACCOUNT)
    api = MeteredApi(stack, "Api", handler=handler, key_store=keys, plans=PLANS, **options)
    return api, app.synth().get_stack_by_name(stack.stack_name).template
