"""The control plane app: one FastAPI instance, the same in Lambda, tests and the sandbox."""

from typing import Any

import boto3
from botocore.config import Config
from fastapi import FastAPI

from api_direct import __version__
from api_direct.control_plane.api import (
    accounts,
    alerts,
    consumer_usage,
    costs,
    credentials,
    credits,
    deployments,
    invites,
    listing_lifecycle,
    listings,
    named_keys,
    payouts,
    reviews,
    stripe_webhook,
    subscriptions,
    trial_checkout,
    usage,
)
from api_direct.control_plane.api.auth import TokenVerifier
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.mcp_marketplace import install_marketplace_mcp
from api_direct.control_plane.api.problems import install_problem_handlers
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing.subscription_billing import configured_billing
from api_direct.control_plane.web.rendering import WEB_PREFIX
from api_direct.control_plane.web.site import error_page, install_pages

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def create_app(settings: ControlPlaneSettings, *, session: boto3.Session | None = None) -> FastAPI:
    session = session or boto3.Session(region_name=settings.region)
    endpoint = settings.aws_endpoint_url
    table = session.resource("dynamodb", endpoint_url=endpoint, config=_RETRIES).Table(settings.table_name)
    events = session.client("events", endpoint_url=endpoint, config=_RETRIES)
    app = FastAPI(
        title="API-Direct control plane",
        version=__version__,
        description="Accounts, listings, search, reviews, subscriptions and API keys of the API-Direct marketplace.",
    )
    install_problem_handlers(app, pages=(WEB_PREFIX, error_page))
    app.state.verifier = TokenVerifier(settings)
    bus = ControlPlaneBus(events, settings.event_bus_name, settings.key_forwarding_role_arn)
    sts = session.client("sts", endpoint_url=endpoint, config=_RETRIES)
    store = Store(table)
    keys, billing = configured_billing(settings, store) or (None, None)
    app.state.services = Services(settings, store, bus, sts, billing, keys)

    @app.get("/config", tags=["public"], summary="What a client needs to sign in")
    def config() -> dict[str, Any]:
        return {
            "region": settings.region,
            "user_pool_id": settings.user_pool_id,
            "app_client_id": settings.app_client_id,
            "account_id": settings.account_id,
            "event_bus_arn": (
                f"arn:aws:events:{settings.region}:{settings.account_id}:event-bus/{settings.event_bus_name}"
            ),
            "version": __version__,
        }

    @app.get("/health", tags=["public"], include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (
        accounts,
        credentials,
        deployments,
        listings,
        reviews,
        trial_checkout,
        listing_lifecycle,
        invites,
        subscriptions,
        named_keys,
        credits,
        stripe_webhook,
        payouts,
        costs,
        usage,
        consumer_usage,
        alerts,
    ):
        app.include_router(module.router)
    install_marketplace_mcp(app, app.state.services)
    install_pages(app)
    return app
