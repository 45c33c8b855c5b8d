"""Refunds: ``/v1/refunds``, money given back from a successful charge, whole or in part, once or several times.

A refund names the charge or the payment intent (whose latest charge it refunds),
and an ``amount`` (default: all that is left). As on Stripe, it succeeds at once for
a card; the charge's ``amount_refunded`` and ``refunded`` follow, the refund gets a
balance transaction of its own (``type=refund``, no fee returned: Stripe keeps its
processing fee on a refunded US card payment), and ``charge.refunded`` is delivered
with the charge after the response. Asking for more than is left is Stripe's 400
(``param=amount``, no code), and any refund of a fully refunded charge is
``charge_already_refunded``. A charge's refunds are listed by
``GET /v1/refunds?charge=`` (a charge shows them only when expanded, as on Stripe
since 2022-11-15).
"""

import time
from collections.abc import Callable
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.state import State
from api_direct.local.stripe_server.webhooks import Webhooks
from api_direct.local.stripe_server.wire import StripeError

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class Refunds(Webhooks):
    """Creates, reads and lists refunds of the fake's charges.

    Only the handlers are methods: :data:`REFUND_ROUTES` calls them on the fake, which is not a ``Refunds``.
    """

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "charge", "payment_intent", "amount", "metadata", "reason", "expand")
        charge = _refunded_charge(self, params)
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise StripeError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        amount = wire.integer(params, "amount", default=left)
        if amount < 1:
            raise StripeError(400, "Invalid positive integer", code="parameter_invalid_integer", param="amount")
        if amount > left:
            raise StripeError(
                400,
                f"Refund amount ({_dollars(amount)}) is greater than unrefunded amount on charge ({_dollars(left)})",
                param="amount",
            )
        reason = wire.one_of(params, "reason", REASONS) if "reason" in params else None
        refund = wire.new_object("re", "refund")
        refund.update(
            amount=amount,
            balance_transaction=_refund_transaction(self, refund["id"], amount, charge["currency"])["id"],
            charge=charge["id"],
            currency=charge["currency"],
            destination_details={"card": {"reference_status": "pending", "type": "refund"}, "type": "card"},
            metadata=wire.metadata(params),
            payment_intent=charge["payment_intent"],
            reason=reason,
            receipt_number=None,
            source_transfer_reversal=None,
            status="succeeded",
            transfer_reversal=None,
        )
        self._store(refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self._emit("charge.refunded", charge)
        return self._expanded(refund, params)

    def _get_refund(self, params: dict[str, Any], refund_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("refund", refund_id), params)

    def _list_refunds(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "charge", "payment_intent", "limit", "starting_after", "expand")
        return self._list(
            "refund", "/v1/refunds", params, charge=params.get("charge"), payment_intent=params.get("payment_intent")
        )


def _refunded_charge(state: State, params: dict[str, Any]) -> dict[str, Any]:
    """The charge a refund's parameters name (exactly one of ``charge`` and ``payment_intent``)."""
    if ("charge" in params) == ("payment_intent" in params):
        raise StripeError(400, "You must pass either `charge` or `payment_intent` (and not both).")
    if "charge" in params:
        charge = state._find("charge", params["charge"], param="charge")
    else:
        intent = state._find("payment_intent", params["payment_intent"], param="payment_intent")
        if not intent.get("latest_charge"):
            raise StripeError(
                400,
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge = state._find("charge", intent["latest_charge"], param="payment_intent")
    if charge["status"] != "succeeded":
        raise StripeError(400, f"Charge {charge['id']} has not succeeded and cannot be refunded.")
    return charge


def _refund_transaction(state: State, refund_id: str, amount: int, currency: str) -> dict[str, Any]:
    created = int(time.time())
    return state._store(
        {
            "id": wire.new_id("txn"),
            "object": "balance_transaction",
            "amount": -amount,
            "available_on": created,
            "created": created,
            "currency": currency,
            "description": "REFUND FOR CHARGE",
            "exchange_rate": None,
            "fee": 0,
            "fee_details": [],
            "net": -amount,
            "reporting_category": "refund",
            "source": refund_id,
            "status": "available",
            "type": "refund",
        }
    )


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


#: The rows :mod:`.routes` adds to its table.
REFUND_ROUTES: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
    ("POST", "/v1/refunds", Refunds._create_refund),
    ("GET", "/v1/refunds", Refunds._list_refunds),
    ("GET", "/v1/refunds/([^/]+)", Refunds._get_refund),
]
