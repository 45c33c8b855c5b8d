"""SetupIntents: ``/v1/setup_intents``, the record of a card saved for later off-session charges.

A setup-mode Checkout Session makes one when its customer saves a card; it is how
an integration learns which payment method was saved (``setup_intent.payment_method``).
"""

import secrets
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.payment_methods import PaymentMethods


class SetupIntents(PaymentMethods):
    """Succeeded SetupIntents, one per card saved through Checkout."""

    def _succeeded_setup(self, customer_id: str, method_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        setup = wire.new_object("seti", "setup_intent")
        return self._store(
            {
                **setup,
                "application": None,
                "automatic_payment_methods": None,
                "cancellation_reason": None,
                "client_secret": f"{setup['id']}_secret_{secrets.token_urlsafe(18)}",
                "customer": customer_id,
                "description": None,
                "flow_directions": None,
                "last_setup_error": None,
                "latest_attempt": None,
                "mandate": None,
                "metadata": metadata,
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": method_id,
                "payment_method_options": {
                    "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
                },
                "payment_method_types": ["card"],
                "single_use_mandate": None,
                "status": "succeeded",
                "usage": "off_session",
            }
        )

    def _get_setup_intent(self, params: dict[str, Any], setup_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("setup_intent", setup_id), params)
