"""Disputes: a cardholder's bank taking a payment back (a chargeback), and how it ends.

A test opens one on a charge (:meth:`Disputes.open_dispute`), as a bank does on
Stripe; the fake withdraws the amount and Stripe's 15 USD dispute fee (a balance
transaction, ``reporting_category=dispute``, the fee under ``fee_details``), marks the
charge ``disputed`` and delivers ``charge.dispute.created`` and
``charge.dispute.funds_withdrawn`` with the dispute (Stripe's ``dispute`` object:
``amount``, ``charge``, ``payment_intent``, ``reason``, ``status``,
``balance_transactions``). :meth:`Disputes.close_dispute` decides it: ``won``
reinstates the amount and the fee (a second balance transaction) and delivers
``charge.dispute.funds_reinstated``; either way ``charge.dispute.closed`` follows.
``GET /v1/disputes/{id}`` reads one.
"""

import time
from collections.abc import Callable
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.webhooks import Webhooks

#: Stripe's fee on a dispute of a US card payment, in cents.
DISPUTE_FEE_CENTS = 1500
REASONS = ("fraudulent", "product_not_received", "duplicate", "subscription_canceled", "general")


class Disputes(Webhooks):
    """Opens and closes disputes of the fake's charges (test hooks), and serves them."""

    def open_dispute(self, charge_id: str, amount: int | None = None, reason: str = "fraudulent") -> dict[str, Any]:
        """The bank disputes ``amount`` (default: the whole charge) of a succeeded charge; the dispute made."""
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}, not {reason!r}")
        with self._lock:
            charge = self._get("charge", charge_id)
            if charge["status"] != "succeeded" or charge.get("disputed"):
                raise ValueError(f"charge {charge_id} cannot be disputed (not succeeded, or disputed already)")
            disputed = charge["amount_captured"] if amount is None else amount
            dispute = wire.new_object("dp", "dispute")
            withdrawal = self._dispute_transaction(dispute["id"], -disputed, DISPUTE_FEE_CENTS, charge["currency"])
            dispute.update(
                amount=disputed,
                balance_transactions=[withdrawal],
                charge=charge["id"],
                currency=charge["currency"],
                enhanced_eligibility_types=[],
                evidence={"customer_name": None, "uncategorized_text": None},
                evidence_details={
                    "due_by": dispute["created"] + 21 * 86_400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                is_charge_refundable=False,
                metadata={},
                payment_intent=charge.get("payment_intent"),
                payment_method_details={"card": {"brand": "visa", "case_type": "chargeback"}, "type": "card"},
                reason=reason,
                status="needs_response",
            )
            self._store(dispute)
            charge["disputed"] = True
            events = [
                self._record_event("charge.dispute.created", dispute),
                self._record_event("charge.dispute.funds_withdrawn", dispute),
            ]
            endpoints, made = list(self._endpoints), wire.copy_json(dispute)
        self._deliver(events, endpoints)
        return made

    def close_dispute(self, dispute_id: str, won: bool) -> dict[str, Any]:
        """The bank decides: ``won`` gives the amount and the fee back; the dispute as closed."""
        with self._lock:
            dispute = self._get("dispute", dispute_id)
            if dispute["status"] in ("won", "lost"):
                raise ValueError(f"dispute {dispute_id} is {dispute['status']} already")
            events = []
            if won:
                back = self._dispute_transaction(dispute_id, dispute["amount"], -DISPUTE_FEE_CENTS, dispute["currency"])
                dispute["balance_transactions"].append(back)
                dispute["status"] = "won"
                events.append(self._record_event("charge.dispute.funds_reinstated", dispute))
            else:
                dispute["status"] = "lost"
            events.append(self._record_event("charge.dispute.closed", dispute))
            endpoints, closed = list(self._endpoints), wire.copy_json(dispute)
        self._deliver(events, endpoints)
        return closed

    def _dispute_transaction(self, dispute_id: str, amount: int, fee: int, currency: str) -> dict[str, Any]:
        """A balance transaction of a dispute: money withdrawn (negative, with the fee) or reinstated."""
        created = int(time.time())
        return self._store(
            {
                "id": wire.new_id("txn"),
                "object": "balance_transaction",
                "amount": amount,
                "available_on": created,
                "created": created,
                "currency": currency,
                "description": "Chargeback withdrawal" if amount < 0 else "Chargeback reversal",
                "exchange_rate": None,
                "fee": fee,
                "fee_details": [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": currency,
                        "description": "Dispute fee",
                        "type": "stripe_fee",
                    }
                ],
                "net": amount - fee,
                "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
                "source": dispute_id,
                "status": "available",
                "type": "adjustment",
            }
        )

    def _get_dispute(self, params: dict[str, Any], dispute_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("dispute", dispute_id), params)


#: The rows :mod:`.routes` adds to its table.
DISPUTE_ROUTES: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
    ("GET", "/v1/disputes/([^/]+)", Disputes._get_dispute),
]
