"""Where the control plane finds its table, bus and user pool.

In Lambda these come from environment variables the stack sets; the local sandbox
reads the same variables off the function deployed in its emulator, and tests
build :class:`ControlPlaneSettings` directly.
"""

import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api_direct.contracts import CONTROL_PLANE_DEFAULTS, control_plane_environment
from api_direct.contracts import CONTROL_PLANE_ENV_PREFIX as ENV_PREFIX

_DEFAULTS = CONTROL_PLANE_DEFAULTS


class ControlPlaneSettings(BaseModel):
    """The settings, validated; their names, environment and defaults are :mod:`api_direct.contracts`' (the stack
    writes the environment without importing this service)."""

    model_config = ConfigDict(frozen=True)

    region: str
    #: The control plane's own account: linked accounts' deploy roles trust it.
    account_id: str
    table_name: str
    #: The control plane's own bus: usage arrives here, key events leave from here.
    event_bus_name: str
    user_pool_id: str
    app_client_id: str
    #: Role EventBridge assumes to forward key events to creators' buses.
    key_forwarding_role_arn: str | None = None
    #: Defaults to Cognito's public JWKS of the user pool.
    jwks_url: str | None = None
    #: Send AWS calls here instead of AWS (a local emulator); never set in Lambda.
    aws_endpoint_url: str | None = None
    #: Largest OpenAPI document a listing may carry, in bytes.
    max_openapi_bytes: Annotated[int, Field(gt=0)] = _DEFAULTS["max_openapi_bytes"]
    #: Secrets Manager secret holding ``{"api_key": "sk_...", "webhook_secret": "whsec_..."}``.
    #: Without it the marketplace runs unbilled: no Stripe customer, meter event or payout.
    stripe_secret_arn: str | None = None
    #: Send Stripe calls here instead of api.stripe.com (the local fake); never set in Lambda.
    stripe_api_base: str | None = None
    #: Currency of every price, invoice and transfer (ISO 4217, lowercase as Stripe writes it).
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] = _DEFAULTS["currency"]
    #: The platform's share of what consumers paid, kept before creators are paid out.
    platform_fee_percent: Annotated[Decimal, Field(ge=0, le=100)] = _DEFAULTS["platform_fee_percent"]
    #: Stripe's fees passed on to creators (:mod:`~api_direct.control_plane.billing.fees`): per card charge, a
    #: percent plus fixed cents; Stripe Billing's percent of each subscription invoice. Shown as estimates; the
    #: ledger records each charge's real card fee.
    stripe_card_percent: Annotated[Decimal, Field(ge=0, le=100)] = _DEFAULTS["stripe_card_percent"]
    stripe_card_fixed_cents: Annotated[int, Field(ge=0, le=1000)] = _DEFAULTS["stripe_card_fixed_cents"]
    stripe_billing_percent: Annotated[Decimal, Field(ge=0, le=100)] = _DEFAULTS["stripe_billing_percent"]
    #: Stripe's fee on each dispute of a payment, in cents: taken off the creator's month with the disputed
    #: amount, and given back with it if the dispute is won.
    stripe_dispute_fee_cents: Annotated[int, Field(ge=0, le=10_000)] = _DEFAULTS["stripe_dispute_fee_cents"]
    #: How long after an hour ends its usage may still arrive; then the hour is closed for good.
    usage_grace_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = _DEFAULTS["usage_grace_minutes"]
    #: How long after a month ends revenue of that month may still arrive before it is paid out.
    payout_grace_days: Annotated[int, Field(ge=0, le=28)] = _DEFAULTS["payout_grace_days"]
    #: The address usage alerts are sent from through Amazon SES (a verified identity); ``None`` sends no email.
    alert_sender: str | None = None
    #: Let consumers register ``http://localhost`` and ``http://127.0.0.1`` webhooks: on one machine only
    #: (``apid sandbox``, tests); the stack never sets it, so deployed control planes call public https URLs only.
    webhooks_allow_loopback: bool = _DEFAULTS["webhooks_allow_loopback"]
    #: Days between a publish that changes a plan's prices and the first billing period its subscribers pay
    #: them in (new subscribers pay them at once).
    price_notice_days: Annotated[int, Field(ge=0, le=365)] = _DEFAULTS["price_notice_days"]

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"

    @classmethod
    def from_env(cls) -> "ControlPlaneSettings":
        """This process's settings (in Lambda, the function's environment)."""
        return cls.from_environment(os.environ)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ControlPlaneSettings":
        """``APID_CP_TABLE_NAME`` etc.; the region comes from ``AWS_REGION``, which Lambda sets.

        Also reads a deployed function's configured variables (the local sandbox
        does), which lack ``AWS_REGION`` until Lambda adds it: the caller adds it.
        """
        values = {
            name.removeprefix(ENV_PREFIX).lower(): value
            for name, value in environ.items()
            if name.startswith(ENV_PREFIX)
        }
        values.setdefault("region", environ.get("AWS_REGION", ""))
        return cls.model_validate(values)

    def environment(self) -> dict[str, str]:
        """The inverse of :meth:`from_environment`, for the stack to set on the function."""
        return control_plane_environment(**self.model_dump(exclude={"region"}))
