"""PaymentMethods: the cards customers save, ``/v1/payment_methods`` and ``/v1/customers/{id}/payment_methods``.

A card reaches the fake the way it reaches Stripe: typed into a Checkout page
(:mod:`.checkout`), never through the API, since Stripe takes raw card numbers only
from its own pages. The test hook :meth:`PaymentMethods.attach_card` stands for a
customer who saved a card earlier.
"""

import datetime
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.cards import Card, read_card
from api_direct.local.stripe_server.customers import Customers

#: A card typed without an expiry date is valid this many years from now.
DEFAULT_CARD_YEARS = 5


class PaymentMethods(Customers):
    """Cards, attached to a customer or used once."""

    def attach_card(self, customer_id: str, number: str = "4242424242424242", default: bool = True) -> str:
        """Attach a card to a customer, as a card saved earlier through Checkout is; return its ``pm_`` id.

        ``default`` also makes it the customer's
        ``invoice_settings.default_payment_method``, as an integration does after
        saving a card. A declining test card (``4000000000000341``) attaches here as
        on Stripe and fails when charged.
        """
        with self._lock:
            customer = self._get("customer", customer_id)
            method = self._new_card_method(default_card(number), customer["id"])
            if default:
                customer["invoice_settings"]["default_payment_method"] = method["id"]
            return str(method["id"])

    def payment_methods(self) -> list[dict[str, Any]]:
        """Payment methods made, oldest first."""
        return self._all("payment_method")

    def _new_card_method(self, card: Card, customer_id: str | None) -> dict[str, Any]:
        method = self._store(
            {
                **wire.new_object("pm", "payment_method"),
                "allow_redisplay": "unspecified",
                "billing_details": {
                    "address": {
                        "city": None,
                        "country": None,
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": None,
                    "name": None,
                    "phone": None,
                },
                "card": {
                    "brand": card.brand,
                    "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                    "country": "US",
                    "display_brand": card.brand,
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "fingerprint": card.fingerprint,
                    "funding": "credit",
                    "generated_from": None,
                    "last4": card.last4,
                    "networks": {"available": [card.brand], "preferred": None},
                    "wallet": None,
                },
                "customer": customer_id,
                "metadata": {},
                "type": "card",
            }
        )
        self._cards[method["id"]] = card
        return method

    def _get_payment_method(self, params: dict[str, Any], method_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("payment_method", method_id), params)

    def _list_customer_payment_methods(self, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        """A customer's attached cards, newest first; ``type`` may only be ``card`` in this slice."""
        wire.allow(params, "type", "limit", "starting_after")
        customer = self._find("customer", customer_id)["id"]
        if "type" in params:
            wire.one_of(params, "type", ("card",))
        return self._list("payment_method", f"/v1/customers/{customer}/payment_methods", params, customer=customer)


def default_card(number: str) -> Card:
    """The card behind ``number`` when no expiry date was typed: December, a few years from now."""
    return read_card(number, 12, datetime.datetime.now(datetime.UTC).year + DEFAULT_CARD_YEARS)
