"""A MeteredApi in a stack of its own, synthesized: for tests of what its template configures."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from api_direct.constructs import ApiKeyStore, MeteredApi, PlanLimits
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from tests.example_project import CONTROL_PLANE_ACCOUNT

PLANS = [PlanLimits(name="free", rate_limit=2, burst=5, monthly_quota=1000)]


def metered_api(
    bundle_cache_dir: Path,
    *,
    plans: Sequence[PlanLimits] = PLANS,
    stack_name: str = "apid-metered-test",
    **options: Any,
) -> MeteredApi:
    """The construct (with ``options``) in front of an inline function, in a stack of its own, not synthesized yet."""
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)})
    stack = cdk.Stack(app, stack_name)
    handler = lambda_.Function(
        stack,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )
    keys = ApiKeyStore(stack, "Keys", control_plane_account_id=CONTROL_PLANE_ACCOUNT)
    return MeteredApi(stack, "Api", handler=handler, key_store=keys, plans=list(plans), **options)


def metered_api_template(bundle_cache_dir: Path, **options: Any) -> tuple[MeteredApi, dict[str, Any]]:
    """:func:`metered_api`, and its stack's template as JSON."""
    api = metered_api(bundle_cache_dir, **options)
    return api, Template.from_stack(cdk.Stack.of(api)).to_json()
