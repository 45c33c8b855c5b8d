"""PaymentIntents: ``/v1/payment_intents``, one payment from start to its charge, on or off session.

The calls that take money outside a subscription go through here: a saved card
charged off-session (``confirm=true``, ``off_session=true``: an auto-reload of
prepaid credit) and a payment-mode Checkout Session's payment. Confirming makes a
charge (:mod:`.charges`); a decline leaves the intent ``requires_payment_method``
and answers Stripe's 402 ``card_error``, whose ``error.payment_intent`` is the
intent, so a caller learns the outcome from the error as from Stripe. A card
declines when it is a declining test card (:mod:`.cards`) or its customer's cards
are declined (``decline_cards``). ``payment_intent.succeeded`` or
``payment_intent.payment_failed`` is delivered after the response.
"""

import secrets
from typing import Any

from api_direct.local.stripe_server import cards, expansion, wire
from api_direct.local.stripe_server.charges import Charges
from api_direct.local.stripe_server.payment_methods import PaymentMethods
from api_direct.local.stripe_server.webhooks import Webhooks
from api_direct.local.stripe_server.wire import StripeError

#: Stripe's smallest charge in US dollars, in cents.
MINIMUM_USD_CENTS = 50


class PaymentIntents(Charges, PaymentMethods, Webhooks):
    """Creates, confirms and reads PaymentIntents."""

    def _create_payment_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        """A PaymentIntent, confirmed at once with ``confirm=true`` as an off-session charge is.

        As on Stripe, confirming needs an explicit ``payment_method`` (a customer's
        default card for invoices is not used), ``off_session`` needs ``confirm``,
        and the card must be the customer's if it is attached to anyone.
        """
        wire.allow(
            params,
            *("amount", "currency", "customer", "payment_method", "off_session", "confirm", "metadata"),
            *("description", "payment_method_types", "setup_future_usage", "expand"),
        )
        amount = wire.required_integer(params, "amount")
        currency = wire.required(params, "currency").lower()
        if currency == "usd" and amount < MINIMUM_USD_CENTS:
            raise StripeError(400, "Amount must be at least $0.50 usd", code="amount_too_small", param="amount")
        if amount < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="amount")
        customer = self._find("customer", params["customer"], param="customer")["id"] if "customer" in params else None
        method = (
            self._find("payment_method", params["payment_method"], param="payment_method")
            if ("payment_method" in params)
            else None
        )
        confirm = wire.boolean(params, "confirm") is True
        if wire.boolean(params, "off_session") is not None and not confirm:
            raise StripeError(
                400, "You may only specify `off_session` when confirming the PaymentIntent.", param="off_session"
            )
        if params.get("payment_method_types", ["card"]) != ["card"]:
            raise StripeError(400, "The fake accepts only card payments.", param="payment_method_types")
        setup_future_usage = params.get("setup_future_usage")
        if setup_future_usage is not None:
            wire.one_of(params, "setup_future_usage", ("off_session", "on_session"))
        if method is not None and method["customer"] not in (None, customer):
            raise StripeError(
                400,
                f"The PaymentMethod provided ({method['id']}) does not belong to the Customer"
                f"{f' ({customer})' if customer else ''}. Please use a PaymentMethod that belongs to this Customer.",
                param="payment_method",
            )
        if confirm and method is None:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent, specify a payment method attached to the customer along with the customer ID.",
                code="payment_intent_unexpected_state",
            )
        expand = expansion.paths(params, "customer", "latest_charge", "payment_method")
        intent = self._new_intent(
            amount, currency, customer, params.get("description"), wire.metadata(params), setup_future_usage
        )
        if method is not None:
            intent.update(payment_method=method["id"], status="requires_confirmation")
        if confirm and method is not None:
            self._pay(intent, method)
        return expansion.expand(intent, expand, self._by_id)

    def _new_intent(
        self,
        amount: int,
        currency: str,
        customer: str | None,
        description: str | None,
        metadata: dict[str, str],
        setup_future_usage: str | None,
    ) -> dict[str, Any]:
        intent = wire.new_object("pi", "payment_intent")
        return self._store(
            {
                **intent,
                "amount": amount,
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": 0,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": None,
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic",
                "client_secret": f"{intent['id']}_secret_{secrets.token_urlsafe(18)}",
                "confirmation_method": "automatic",
                "currency": currency,
                "customer": customer,
                "description": description,
                "last_payment_error": None,
                "latest_charge": None,
                "metadata": metadata,
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": None,
                "payment_method_configuration_details": None,
                "payment_method_options": {
                    "card": {
                        "installments": None,
                        "mandate_options": None,
                        "network": None,
                        "request_three_d_secure": "automatic",
                    }
                },
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": None,
                "review": None,
                "setup_future_usage": setup_future_usage,
                "shipping": None,
                "source": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "requires_payment_method",
                "transfer_data": None,
                "transfer_group": None,
            }
        )

    def _pay(self, intent: dict[str, Any], method: dict[str, Any]) -> None:
        """Confirm ``intent`` with ``method`` and emit its outcome; a decline raises Stripe's card error."""
        self._confirm(intent, method)
        if intent["status"] != "succeeded":
            self._emit("payment_intent.payment_failed", intent)
            raise self._decline_error(intent)
        self._emit("payment_intent.succeeded", intent)

    def _confirm(self, intent: dict[str, Any], method: dict[str, Any]) -> None:
        """Charge ``method`` for ``intent``; emits nothing, so invoices can report their own events.

        A card saved for later (``setup_future_usage``) is attached to the intent's
        customer once the payment succeeds, as Stripe attaches it.
        """
        card = self._cards[method["id"]]
        decline = card.charge_decline or ("generic_decline" if intent["customer"] in self._declined else None)
        charge = self._new_charge(intent, method, decline)
        intent["latest_charge"] = charge["id"]
        if decline is not None:
            error = cards.declined(decline).body["error"]
            error.update(charge=charge["id"], payment_method=wire.copy_json(method), doc_url=_DECLINE_DOCS)
            intent.update(status="requires_payment_method", payment_method=None, last_payment_error=error)
            return
        intent.update(
            status="succeeded", payment_method=method["id"], amount_received=intent["amount"], last_payment_error=None
        )
        if intent["setup_future_usage"] and intent["customer"] and method["customer"] is None:
            method["customer"] = intent["customer"]

    def _decline_error(self, intent: dict[str, Any]) -> StripeError:
        """Stripe's 402 for a declined confirmation, carrying the intent as ``error.payment_intent``."""
        failure = intent["last_payment_error"]
        error = cards.declined(failure["decline_code"])
        error.body["error"].update(
            charge=failure["charge"],
            doc_url=_DECLINE_DOCS,
            payment_intent=wire.copy_json(intent),
            payment_method=failure["payment_method"],
        )
        return error

    def _get_payment_intent(self, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("payment_intent", intent_id), params)


_DECLINE_DOCS = "https://stripe.com/docs/error-codes/card-declined"
