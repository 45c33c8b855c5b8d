"""Invoice payments: how an invoice is paid by card, and where its charge and Stripe's fee are found.

Since API version 2025-03-31.basil an invoice names no PaymentIntent or charge of
its own; its ``payments`` (included only when expanded) list InvoicePayments
(``inpay_...``), each naming the PaymentIntent that pays it, whose ``latest_charge``
has the balance transaction with Stripe's fee: the chain a ledger follows to
charge a creator Stripe's real fee. ``/v1/invoice_payments`` reads them directly.

Collecting an invoice confirms its PaymentIntent (one per invoice, made on the
first attempt and confirmed again on each retry) with the subscription's
``default_payment_method``, else the customer's
``invoice_settings.default_payment_method``. The fake presumes every customer has
a working card, so a customer with neither pays with an unsaved Visa: invoices are
paid unless ``decline_cards`` says otherwise or the saved card declines
(``4000000000000341``). Invoice PaymentIntents emit no events here: their
outcome is delivered as ``invoice.paid`` or ``invoice.payment_failed``.
"""

import time
from typing import Any

from api_direct.local.stripe_server import expansion, wire
from api_direct.local.stripe_server.payment_intents import PaymentIntents
from api_direct.local.stripe_server.payment_methods import default_card

#: The card a customer without a saved one is presumed to pay invoices with.
PRESUMED_CARD = "4242424242424242"


class InvoicePayments(PaymentIntents):
    """Charges invoices through PaymentIntents and records each as an InvoicePayment."""

    def _charge_invoice(self, invoice: dict[str, Any]) -> bool:
        """Try the invoice's card for what it owes; whether it paid. Called with the lock held."""
        payment = self._invoice_payment_of(invoice)
        intent = self._objects["payment_intent"][payment["payment"]["payment_intent"]]
        self._confirm(intent, self._invoice_card(invoice))
        if intent["status"] != "succeeded":
            return False
        payment.update(status="paid", amount_paid=intent["amount_received"])
        payment["status_transitions"]["paid_at"] = int(time.time())
        return True

    def _invoice_payment_of(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """The invoice's open InvoicePayment and its PaymentIntent, made on the first attempt."""
        for payment in self._objects.get("invoice_payment", {}).values():
            if payment["invoice"] == invoice["id"]:
                return payment
        reason = invoice["billing_reason"]
        intent = self._new_intent(
            invoice["amount_remaining"],
            invoice["currency"],
            invoice["customer"],
            "Subscription creation" if reason == "subscription_create" else "Subscription update",
            {},
            None,
        )
        return self._store(
            {
                **wire.new_object("inpay", "invoice_payment"),
                "amount_paid": None,
                "amount_requested": intent["amount"],
                "currency": intent["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
                "status": "open",
                "status_transitions": {"canceled_at": None, "paid_at": None},
            }
        )

    def _invoice_card(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """The payment method Stripe would charge for the invoice: the subscription's, the customer's, or presumed."""
        details = (invoice.get("parent") or {}).get("subscription_details") or {}
        subscription = self._objects.get("subscription", {}).get(details.get("subscription") or "", {})
        customer = self._objects["customer"][invoice["customer"]]
        chosen = subscription.get("default_payment_method") or customer["invoice_settings"]["default_payment_method"]
        if chosen is not None:
            return self._objects["payment_method"][chosen]
        return self._new_card_method(default_card(PRESUMED_CARD), None)

    def _invoice_view(self, invoice: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The invoice as a response shows it: ``payments`` only when expanded, as on Stripe."""
        expand = expansion.paths(params)
        shown = invoice
        if any(path.split(".")[0] == "payments" for path in expand):
            payments = [p for p in self._objects.get("invoice_payment", {}).values() if p["invoice"] == invoice["id"]]
            shown = {
                **invoice,
                "payments": {
                    "object": "list",
                    "data": payments,
                    "has_more": False,
                    "url": f"/v1/invoices/{invoice['id']}/payments",
                },
            }
        return expansion.expand(shown, [path for path in expand if path != "payments"], self._by_id)

    def _get_invoice_payment(self, params: dict[str, Any], payment_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("invoice_payment", payment_id), params)

    def _list_invoice_payments(self, params: dict[str, Any]) -> dict[str, Any]:
        """An invoice's payments (``invoice=``), or every one, newest first."""
        wire.allow(params, "invoice", "limit", "starting_after")
        return self._list("invoice_payment", "/v1/invoice_payments", params, invoice=params.get("invoice"))
