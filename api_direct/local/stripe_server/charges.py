"""Charges and balance transactions: what one attempt to take money made, and what Stripe kept of it.

``/v1/charges/{id}`` and ``/v1/balance_transactions/{id}``. Every successful
charge has a balance transaction whose ``fee`` is Stripe's standard fee for a US
card, 2.9 % of the amount plus 30 cents, rounded to a whole cent half up, and
whose ``net`` is what reaches the platform's balance: the numbers an honest payout
deducts. The fake applies that rule to every currency and card; Stripe's real fee
varies with both (and with the contract), which the fake cannot know.
"""

import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.cards import DECLINE_MESSAGES
from api_direct.local.stripe_server.state import State

FEE_PERCENT = Decimal("2.9")
FEE_FIXED_CENTS = 30
#: Stripe makes card funds available two days after the charge in the US (its standard payout schedule).
AVAILABLE_AFTER_SECONDS = 2 * 86_400


def stripe_fee(amount: int) -> int:
    """Stripe's standard US card fee on ``amount`` minor units: 2.9 % + 30, rounded to a unit half up."""
    return int((Decimal(amount) * FEE_PERCENT / 100 + FEE_FIXED_CENTS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Charges(State):
    """Charges made by confirming PaymentIntents, and the balance transactions of those that succeeded."""

    def charges(self) -> list[dict[str, Any]]:
        """Charges made, failed ones included, oldest first."""
        return self._all("charge")

    def _new_charge(self, intent: dict[str, Any], method: dict[str, Any], decline_code: str | None) -> dict[str, Any]:
        """The charge one confirmation of ``intent`` with ``method`` made, failed when ``decline_code`` is set."""
        charge = wire.new_object("ch", "charge")
        paid = decline_code is None
        card = method["card"]
        charge.update(
            amount=intent["amount"],
            amount_captured=intent["amount"] if paid else 0,
            amount_refunded=0,
            application=None,
            application_fee=None,
            application_fee_amount=None,
            balance_transaction=None,
            billing_details=method["billing_details"],
            calculated_statement_descriptor="API-DIRECT",
            captured=paid,
            currency=intent["currency"],
            customer=intent["customer"],
            description=intent["description"],
            disputed=False,
            failure_balance_transaction=None,
            failure_code=None if paid else "card_declined",
            failure_message=None if paid else DECLINE_MESSAGES[decline_code or "generic_decline"],
            fraud_details={},
            metadata=dict(intent["metadata"]),
            on_behalf_of=None,
            outcome=_outcome(decline_code),
            paid=paid,
            payment_intent=intent["id"],
            payment_method=method["id"],
            payment_method_details={
                "card": {
                    "amount_authorized": intent["amount"] if paid else None,
                    "brand": card["brand"],
                    "checks": card["checks"],
                    "country": card["country"],
                    "exp_month": card["exp_month"],
                    "exp_year": card["exp_year"],
                    "fingerprint": card["fingerprint"],
                    "funding": card["funding"],
                    "last4": card["last4"],
                    "network": card["brand"],
                },
                "type": "card",
            },
            receipt_email=None,
            receipt_number=None,
            receipt_url=f"{self.base_url}/receipts/payment/{secrets.token_urlsafe(24)}",
            refunded=False,
            review=None,
            source_transfer=None,
            statement_descriptor=None,
            statement_descriptor_suffix=None,
            status="succeeded" if paid else "failed",
            transfer_data=None,
            transfer_group=None,
        )
        if paid:
            charge["balance_transaction"] = self._charge_transaction(charge)["id"]
        return self._store(charge)

    def _charge_transaction(self, charge: dict[str, Any]) -> dict[str, Any]:
        fee = stripe_fee(charge["amount"])
        created = int(time.time())
        return self._store(
            {
                "id": wire.new_id("txn"),
                "object": "balance_transaction",
                "amount": charge["amount"],
                "available_on": created + AVAILABLE_AFTER_SECONDS,
                "created": created,
                "currency": charge["currency"],
                "description": charge["description"],
                "exchange_rate": None,
                "fee": fee,
                "fee_details": [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": charge["currency"],
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ],
                "net": charge["amount"] - fee,
                "reporting_category": "charge",
                "source": charge["id"],
                "status": "pending",
                "type": "charge",
            }
        )

    def _get_charge(self, params: dict[str, Any], charge_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("charge", charge_id), params)

    def _get_balance_transaction(self, params: dict[str, Any], transaction_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("balance_transaction", transaction_id), params)


def _outcome(decline_code: str | None) -> dict[str, Any]:
    if decline_code is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }
