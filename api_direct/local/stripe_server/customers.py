"""Customers: ``/v1/customers``, the account every subscription and meter event belongs to."""

from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.state import State


class Customers(State):
    """Creates and reads customers."""

    def customers(self) -> list[dict[str, Any]]:
        """Customers created, oldest first."""
        return self._all("customer")

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "email", "name", "description", "metadata")
        return self._store(
            {
                **wire.new_object("cus", "customer"),
                "email": params.get("email"),
                "name": params.get("name"),
                "description": params.get("description"),
                "metadata": wire.metadata(params),
            }
        )

    def _get_customer(self, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        wire.allow(params)
        return self._find("customer", customer_id)
