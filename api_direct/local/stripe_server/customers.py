"""Customers: ``/v1/customers``, the account every subscription, meter event and saved card belongs to."""

from typing import Any

from api_direct.local.stripe_server import expansion, wire
from api_direct.local.stripe_server.state import State
from api_direct.local.stripe_server.wire import StripeError


class Customers(State):
    """Creates, reads and updates customers."""

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
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "metadata": wire.metadata(params),
            }
        )

    def _own_payment_method(self, customer: str, payment_method: str, param: str) -> None:
        """Refuse a payment method that is not attached to ``customer``, in Stripe's words."""
        if self._find("payment_method", payment_method, param=param).get("customer") != customer:
            raise StripeError(
                400,
                f"The customer does not have a payment method with the ID {payment_method}. The payment method "
                "must be attached to the customer.",
                code="resource_missing",
                param=param,
            )

    def _get_customer(self, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._expanded(self._find("customer", customer_id), params)

    def _update_customer(self, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
        """Change contact details, metadata or the card invoices and subscriptions charge.

        ``invoice_settings[default_payment_method]`` must name a card attached to
        this customer (Stripe refuses any other); an empty string clears it.
        Checkout never sets it, on Stripe as here: an integration that wants the
        card a customer saved charged by default sets it with this call.
        """
        wire.allow(params, "email", "name", "description", "metadata", "invoice_settings", "expand")
        customer = self._find("customer", customer_id)
        expansion.paths(params, "invoice_settings")
        settings = wire.nested(params.get("invoice_settings", {}), "invoice_settings")
        wire.allow(settings, "default_payment_method", prefix="invoice_settings")
        default = settings.get("default_payment_method")
        if default:
            self._own_payment_method(customer["id"], default, "invoice_settings[default_payment_method]")
        metadata = wire.merged_metadata(customer["metadata"], params)
        customer.update({name: params[name] for name in ("email", "name", "description") if name in params})
        customer["metadata"] = metadata
        if default is not None:
            customer["invoice_settings"]["default_payment_method"] = default or None
        return self._expanded(customer, params)
