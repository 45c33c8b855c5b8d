"""``expand[]``: an id field replaced by the object it names, along dotted paths, as Stripe expands.

Billing reads chains such as a PaymentIntent's ``latest_charge.balance_transaction``
(the fee) or a Checkout Session's ``payment_intent``, and Stripe serves a chain in one
request when asked with ``expand[]``. Any field holding an id of a kind the fake
stores expands; ``data`` steps into each element of a list, a nested hash is walked
through (``invoice_settings.default_payment_method``), and Stripe's limit of four
levels holds (``data`` steps not counted). A path that ends anywhere but on an id (or an empty one) is refused,
as Stripe refuses it. The stored objects are never changed: each step builds a copy.
"""

from collections.abc import Callable
from typing import Any

from api_direct.local.stripe_server.wire import StripeError

#: Stripe expands at most four levels deep.
MAX_DEPTH = 4

Lookup = Callable[[str], dict[str, Any] | None]


def paths(params: dict[str, Any], *roots: str) -> list[str]:
    """The ``expand[]`` parameter as a list of dotted paths, refused if it is not a list or too deep.

    A request that changes something names the fields its paths may start from
    (``roots``), so a path Stripe would refuse is refused before anything changes;
    the rest of a path is checked as it is walked.
    """
    raw = params.get("expand", [])
    if not isinstance(raw, list) or not all(isinstance(path, str) for path in raw):
        raise StripeError(400, "Invalid array", param="expand")
    for index, path in enumerate(raw):
        if roots and path.split(".")[0] not in roots:
            raise _not_expandable(path)
        if len([segment for segment in path.split(".") if segment != "data"]) > MAX_DEPTH:
            raise StripeError(
                400,
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}",
                param=f"expand[{index}]",
            )
    return raw


def expand(obj: dict[str, Any], expand_paths: list[str], lookup: Lookup) -> dict[str, Any]:
    """``obj`` with every path in ``expand_paths`` expanded through ``lookup`` (id to object)."""
    for path in expand_paths:
        obj = _step(obj, path.split("."), path, lookup)
    return obj


def _step(value: Any, segments: list[str], path: str, lookup: Lookup) -> Any:
    head, rest = segments[0], segments[1:]
    if isinstance(value, dict) and value.get("object") == "list" and head == "data":
        return {**value, "data": [_step(item, rest, path, lookup) if rest else item for item in value["data"]]}
    if not isinstance(value, dict) or head not in value:
        raise _not_expandable(path)
    field = value[head]
    if isinstance(field, str):
        found = lookup(field)
        if found is None:
            raise _not_expandable(path)
        field = found
    elif field is None:
        return value
    elif not rest and not (isinstance(field, dict) and "id" in field):
        raise _not_expandable(path)
    return {**value, head: _step(field, rest, path, lookup) if rest else field}


def _not_expandable(path: str) -> StripeError:
    return StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
