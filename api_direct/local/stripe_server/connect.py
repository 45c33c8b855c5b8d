"""Connect: Express accounts, their onboarding links, and transfers to them (payouts to sellers)."""

import secrets
import time
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.state import State
from api_direct.local.stripe_server.wire import StripeError


class Connect(State):
    """Connected accounts and the transfers paid to them."""

    def complete_onboarding(self, account_id: str) -> None:
        """Do what a seller finishing Express onboarding does: enable transfers and payouts.

        Stripe refuses a transfer to an account whose ``transfers`` capability is
        not active, so a payout test must onboard its seller first.
        """
        with self._lock:
            account = self._get("account", account_id)
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["capabilities"] = {name: "active" for name in account["capabilities"]}

    def transfers(self) -> list[dict[str, Any]]:
        """Transfers created, oldest first."""
        return self._all("transfer")

    def balance_of(self, account_id: str) -> int:
        """What a connected account has received: its transfers, net of reversals, in minor units.

        Refuses an account paid in more than one currency, whose balance is not one number.
        """
        with self._lock:
            self._get("account", account_id)
            transfers = [t for t in self._objects.get("transfer", {}).values() if t["destination"] == account_id]
        currencies = {transfer["currency"] for transfer in transfers}
        if len(currencies) > 1:
            raise ValueError(f"account {account_id} holds transfers in {sorted(currencies)}")
        return sum(transfer["amount"] - transfer["amount_reversed"] for transfer in transfers)

    def _create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        """An Express account that has not onboarded: nothing enabled until ``complete_onboarding``."""
        wire.allow(params, "type", "country", "email", "capabilities", "metadata")
        account_type = wire.one_of(params, "type", ("express",))
        capabilities = wire.nested(params.get("capabilities", {"transfers": {"requested": "true"}}), "capabilities")
        return self._store(
            {
                **wire.new_object("acct", "account"),
                "type": account_type,
                "country": params.get("country", "US"),
                "email": params.get("email"),
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "capabilities": {name: "inactive" for name in capabilities},
                "metadata": wire.metadata(params),
            }
        )

    def _get_account(self, params: dict[str, Any], account_id: str) -> dict[str, Any]:
        wire.allow(params)
        return self._find("account", account_id)

    def _create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        """An onboarding link that points back at the fake, never at a Stripe host."""
        wire.allow(params, "account", "refresh_url", "return_url", "type")
        account = self._find("account", wire.required(params, "account"), param="account")["id"]
        wire.required(params, "refresh_url")
        wire.required(params, "return_url")
        wire.one_of(params, "type", ("account_onboarding", "account_update"))
        created = int(time.time())
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": f"{self.base_url}/setup/e/{account}/{secrets.token_urlsafe(16)}",
        }

    def _create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "amount", "currency", "destination", "transfer_group", "description", "metadata")
        amount = wire.required_integer(params, "amount")
        if amount <= 0:
            raise StripeError(400, "This value must be greater than or equal to 1.", param="amount")
        destination = self._find("account", wire.required(params, "destination"), param="destination")
        if destination["capabilities"].get("transfers") != "active":
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        transfer = wire.new_object("tr", "transfer")
        return self._store(
            {
                **transfer,
                "amount": amount,
                "amount_reversed": 0,
                "currency": wire.required(params, "currency").lower(),
                "destination": destination["id"],
                "destination_payment": wire.new_id("py"),
                "balance_transaction": wire.new_id("txn"),
                "description": params.get("description"),
                "reversed": False,
                "reversals": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/transfers/{transfer['id']}/reversals",
                },
                "transfer_group": params.get("transfer_group"),
                "metadata": wire.metadata(params),
            }
        )

    def _list_transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        """Transfers, newest first, filtered by ``transfer_group`` or ``destination`` as Stripe filters them."""
        wire.allow(params, "limit", "starting_after", "transfer_group", "destination")
        return self._list(
            "transfer",
            "/v1/transfers",
            params,
            transfer_group=params.get("transfer_group"),
            destination=params.get("destination"),
        )
