"""A small evaluator of IAM role trust policies, as AWS evaluates them, for the statements the link writes.

moto does not evaluate trust policies (``AssumeRoleWithWebIdentity`` succeeds
whatever the conditions say), so the tests evaluate the synthesized document here,
following IAM's rules: an explicit Deny wins; otherwise some Allow must match the
action, the principal and every condition. Within a condition block, each operator
and each key must hold (AND); a key's values are alternatives (OR). ``StringEquals``
is exact and case-sensitive; ``StringLike`` takes ``*`` and ``?``. A key missing
from the request fails its condition (no ``...IfExists`` here). An operator this
evaluator does not model raises, so a policy it cannot judge never passes.
"""

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One call to STS: the action, who calls (``{"Federated": arn}`` or ``{"AWS": arn}``) and the context keys."""

    action: str
    principal: Mapping[str, Any]
    context: Mapping[str, str] = field(default_factory=dict)


def web_identity(provider: Any, sub: str, aud: str = "sts.amazonaws.com") -> Request:
    """GitHub's token presented to ``AssumeRoleWithWebIdentity``: IAM exposes its claims as ``<issuer host>:<claim>``."""
    host = "token.actions.githubusercontent.com"
    return Request("sts:AssumeRoleWithWebIdentity", {"Federated": provider}, {f"{host}:sub": sub, f"{host}:aud": aud})


def allows(document: Mapping[str, Any], request: Request) -> bool:
    statements = [s for s in _listed(document["Statement"]) if _applies(s, request)]
    if any(s["Effect"] == "Deny" for s in statements):
        return False
    return any(s["Effect"] == "Allow" for s in statements)


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    actions = _listed(statement["Action"])
    if not any(fnmatch.fnmatchcase(request.action, pattern) for pattern in actions):
        return False
    principal = statement.get("Principal", {})
    if not any(request.principal.get(kind) in _listed(value) for kind, value in principal.items()):
        return False
    return all(
        _holds(operator, key, _listed(values), request.context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, values in keys.items()
    )


def _holds(operator: str, key: str, values: list[Any], context: Mapping[str, str]) -> bool:
    if key not in context:
        return False
    actual = context[key]
    if operator == "StringEquals":
        return actual in values
    if operator == "StringLike":
        return any(re.fullmatch(_glob(pattern), actual) for pattern in values)
    raise NotImplementedError(f"condition operator {operator} is not modelled")


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
