"""A billed marketplace in process: moto's table and bus, Stripe as the local fake, one API with consumers
subscribed to its paid plan through the real :class:`SubscriptionBilling` (so the closer has meters to report to).

What the money flow's soak (``bench/soak.py``) and its test count through.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from moto import mock_aws

from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import PK, SK, Store, api_pk, consumer_pk
from api_direct.control_plane.billing.metering import key_id_index_pk
from api_direct.control_plane.billing.stripe_gateway import StripeKeys, gateway_for
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling
from api_direct.local.stripe_server import StripeFake, running_stripe_fake
from tests.control_plane.billing.usage import API
from tests.control_plane.resources import BUS, REGION, TABLE, create_table

CREATOR = "creator-alice"
#: 10 dollars per 1000 units: one cent a unit, so an invoice is its billable units in cents.
PLAN = {
    "name": "pro",
    "description": "",
    "rate_limit": Decimal(10),
    "burst": 20,
    "monthly_quota": None,
    "free_calls": 0,
    "price_per_1000": Decimal(10),
    "monthly_fee": Decimal(0),
    "billable_statuses": ["2xx"],
}


@dataclass(frozen=True)
class BilledMarket:
    services: Services
    stripe: StripeFake
    #: The subscribers, and the id of each one's key, in the same order.
    consumers: tuple[str, ...]
    key_ids: tuple[str, ...]

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def billing(self) -> SubscriptionBilling:
        assert self.services.billing is not None
        return self.services.billing


@contextmanager
def billed_market(consumers: tuple[str, ...], creator_account: str) -> Iterator[BilledMarket]:
    """A fresh world: the table, the bus, Stripe; :data:`API` listed from ``creator_account`` with plan
    :data:`PLAN`, each consumer subscribed with a key ``key_<consumer>``. Inside moto's ``mock_aws``."""
    with running_stripe_fake() as fake, mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        store = Store(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
        store.put({PK: api_pk(API), SK: "LISTING", "api_id": API, "creator": CREATOR, "account_id": creator_account})
        store.put({PK: api_pk(API), SK: "PLAN#pro", **PLAN, "position": 0})
        settings = ControlPlaneSettings(
            region=REGION,
            account_id="111111111111",
            table_name=TABLE,
            event_bus_name=BUS,
            user_pool_id="p",
            app_client_id="c",
            stripe_api_base=fake.base_url,
        )
        keys = StripeKeys(api_key=fake.api_key, webhook_secret="whsec_unused")
        gateway = gateway_for(settings, keys)
        gateway.sleep = lambda _seconds: None
        billing = SubscriptionBilling(store, gateway)
        key_ids = tuple(f"key_{consumer}" for consumer in consumers)
        for consumer, key_id in zip(consumers, key_ids, strict=True):
            _subscribe(store, billing, consumer, key_id)
        services = Services(settings, store, ControlPlaneBus(events, BUS, None), None, billing, keys)
        yield BilledMarket(services, fake, consumers, key_ids)


def _subscribe(store: Store, billing: SubscriptionBilling, consumer: str, key_id: str) -> None:
    """The key and subscription items a subscribe writes, and the Stripe subscription it starts."""
    key: dict[str, Any] = {
        PK: f"KEY#{consumer}",
        SK: "KEY",
        "key_id": key_id,
        "consumer": consumer,
        "api_id": API,
        "plan": "pro",
        "status": "active",
        "gsi1pk": key_id_index_pk(key_id),
        "gsi1sk": "KEY",
    }
    store.put(key)
    subscription = billing.start(consumer, API, store.get(api_pk(API), "PLAN#pro"))  # type: ignore[arg-type]
    store.put(
        {
            PK: consumer_pk(consumer),
            SK: f"SUB#{API}",
            "api_id": API,
            "plan": "pro",
            "status": "active",
            "key_id": key_id,
            "key_hash": "0" * 64,
            "stripe_subscription": subscription,
        }
    )
