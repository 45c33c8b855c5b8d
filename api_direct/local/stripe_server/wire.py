"""Stripe's wire format, as the fake reads and writes it: form decoding, the error envelope, parameter checks.

Every resource module parses its parameters with these, so the fake refuses what
Stripe refuses in Stripe's words: an unknown parameter, a missing one, a value of
the wrong kind, each as ``StripeError`` carrying Stripe's error envelope.
"""

import json
import re
import secrets
import time
from typing import Any, overload
from urllib.parse import parse_qsl

MAX_FORM_FIELDS = 1000


class StripeError(Exception):
    """A request Stripe would refuse, carried to the handler as Stripe's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.should_retry = should_retry
        self.body: dict[str, Any] = {"error": {"type": error_type, "message": message}}
        for name, value in (("code", code), ("decline_code", decline_code), ("param", param)):
            if value is not None:
                self.body["error"][name] = value


def parse_form(text: str) -> dict[str, Any]:
    """Decode Stripe's form encoding: ``a[b]=1&items[0][price]=p`` to ``{"a": {"b": "1"}, "items": [{"price": "p"}]}``.

    A level whose keys are all indexes becomes a list in index order, as Stripe
    reads ``items[0]``, ``items[1]``. Values stay strings, as they arrive.
    """
    root: dict[str, Any] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as error:
        raise StripeError(400, f"Invalid request body: {error}") from error
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head] + (rest[:-1].split("][") if rest else [])
        if not all(path) or (rest and not rest.endswith("]")):
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid parameter name: {key}", param=key)
            node = child
        if isinstance(node.get(path[-1]), dict):
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def card_declined(status: int = 402, should_retry: bool | None = None) -> StripeError:
    """Stripe's answer when the card is refused without a more specific reason."""
    return StripeError(
        status,
        "Your card was declined.",
        error_type="card_error",
        code="card_declined",
        decline_code="generic_decline",
        should_retry=should_retry,
    )


def copy_json(value: Any) -> Any:
    """A deep copy through JSON: what leaves the fake is exactly what a client would decode."""
    return json.loads(json.dumps(value))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def new_object(prefix: str, kind: str) -> dict[str, Any]:
    return {"id": new_id(prefix), "object": kind, "created": int(time.time()), "livemode": False}


def allow(params: dict[str, Any], *names: str, prefix: str = "") -> None:
    """Refuse parameters the endpoint does not know, as Stripe does rather than ignoring them."""
    for name in params:
        if name not in names:
            full = f"{prefix}[{name}]" if prefix else name
            raise StripeError(400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full)


def param_name(prefix: str, name: str) -> str:
    return f"{prefix}[{name}]" if prefix else name


def required(params: dict[str, Any], name: str, prefix: str = "") -> Any:
    value = params.get(name)
    if value is None or value == "":
        full = param_name(prefix, name)
        raise StripeError(400, f"Missing required param: {full}.", code="parameter_missing", param=full)
    return value


def nested(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", param=name)
    return value


def array(params: dict[str, Any], name: str) -> list[Any]:
    """A required, non-empty array parameter (``name[0]``, ``name[1]``, ...)."""
    value = required(params, name)
    if not isinstance(value, list):
        raise StripeError(400, "Invalid array", param=name)
    return value


def expand(params: dict[str, Any], *expandable: str) -> set[str]:
    raw = params.get("expand", [])
    if not isinstance(raw, list):
        raise StripeError(400, "Invalid array", param="expand")
    for index, name in enumerate(raw):
        if name not in expandable:
            raise StripeError(400, f"This property cannot be expanded ({name}).", param=f"expand[{index}]")
    return set(raw)


@overload
def integer(params: dict[str, Any], name: str, prefix: str = "", *, default: int) -> int: ...
@overload
def integer(params: dict[str, Any], name: str, prefix: str = "", default: None = None) -> int | None: ...
def integer(params: dict[str, Any], name: str, prefix: str = "", default: int | None = None) -> int | None:
    raw = params.get(name)
    return default if raw is None else _integer(raw, name, prefix)


def required_integer(params: dict[str, Any], name: str, prefix: str = "") -> int:
    return _integer(required(params, name, prefix), name, prefix)


def _integer(raw: Any, name: str, prefix: str) -> int:
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d{1,18}", raw):
        full = param_name(prefix, name)
        raise StripeError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=full)
    return int(raw)


def boolean(params: dict[str, Any], name: str, prefix: str = "") -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {raw}", param=param_name(prefix, name))
    return raw == "true"


def one_of(
    params: dict[str, Any], name: str, allowed: tuple[str, ...], prefix: str = "", default: str | None = None
) -> str:
    if default is not None and params.get(name) is None:
        return default
    value = required(params, name, prefix)
    if value not in allowed:
        full = param_name(prefix, name)
        raise StripeError(400, f"Invalid {full}: must be one of {', '.join(allowed)}", param=full)
    return value


def metadata(params: dict[str, Any]) -> dict[str, str]:
    return dict(nested(params.get("metadata", {}), "metadata"))


def merged_metadata(current: dict[str, str], params: dict[str, Any]) -> dict[str, str]:
    """Stripe's metadata update: keys merge in, an empty value removes its key, ``metadata=""`` clears all."""
    if "metadata" not in params:
        return current
    if params["metadata"] == "":
        return {}
    merged = {**current, **metadata(params)}
    return {key: value for key, value in merged.items() if value != ""}
