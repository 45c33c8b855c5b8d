"""What route handlers work with, injected with ``ServicesDep``; built once per process."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.stripe_gateway import StripeKeys
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling


@dataclass(frozen=True)
class Services:
    settings: ControlPlaneSettings
    store: Store
    bus: ControlPlaneBus
    #: Assumes linked accounts' deploy roles (``credentials.py``).
    sts: Any
    #: Stripe, when the operator configured it (``stripe_secret_arn``); ``None`` runs the marketplace unbilled.
    billing: SubscriptionBilling | None = None
    stripe_keys: StripeKeys | None = None


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]
