"""Reusable L3 constructs: embed them in any CDK app with ``pip install api-direct``.

Import ``api_direct`` (this package does) before ``aws_cdk`` so jsii runs on the
bundled Node.js.

Each construct is imported when first named (``from api_direct.constructs import
MeteredApi``), not with the package: the deploy engine imports the CDK-free
modules here (``bundling``, ``function_code``) on paths that never synthesize
(a reused assembly, ``apid logs``), and importing every construct would start
jsii and load ``aws_cdk`` there, about 2 s. The constructs no longer import the
control plane's service (its names are :mod:`api_direct.contracts`'), so naming
``ControlPlaneApi`` or ``Identity`` loads no FastAPI.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api_direct.constructs.account_link import AccountLink
    from api_direct.constructs.bundled_function import BundledFunction
    from api_direct.constructs.control_plane_api import ControlPlaneApi
    from api_direct.constructs.dead_letters import DeadLetterQueue
    from api_direct.constructs.fastapi_function import FastApiFunction
    from api_direct.constructs.function_code import FastApiCode
    from api_direct.constructs.identity import Identity
    from api_direct.constructs.key_store import ApiKeyStore
    from api_direct.constructs.metered_api import MeteredApi, PlanLimits
    from api_direct.constructs.usage_billing import UsageBilling
    from api_direct.constructs.usage_forwarder import UsageForwarder

#: Public name -> the module under ``api_direct.constructs`` that defines it.
_MODULES = {
    "AccountLink": "account_link",
    "ApiKeyStore": "key_store",
    "BundledFunction": "bundled_function",
    "ControlPlaneApi": "control_plane_api",
    "DeadLetterQueue": "dead_letters",
    "FastApiCode": "function_code",
    "FastApiFunction": "fastapi_function",
    "Identity": "identity",
    "MeteredApi": "metered_api",
    "PlanLimits": "metered_api",
    "UsageBilling": "usage_billing",
    "UsageForwarder": "usage_forwarder",
}

__all__ = [
    "AccountLink",
    "ApiKeyStore",
    "BundledFunction",
    "ControlPlaneApi",
    "DeadLetterQueue",
    "FastApiCode",
    "FastApiFunction",
    "Identity",
    "MeteredApi",
    "PlanLimits",
    "UsageBilling",
    "UsageForwarder",
]


assert sorted(_MODULES) == __all__


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return __all__
