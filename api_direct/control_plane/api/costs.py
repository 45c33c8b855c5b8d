"""``GET /earnings/costs``: a creator's month per API, plan and day, money in against AWS's bill for the calls.

The figures are :mod:`~api_direct.control_plane.billing.unit_costs`'s; this is who may
see them (a creator, their own APIs only) and which month. A month already closed is
shown with the platform fee percent it closed at, an open one with today's.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from api_direct.control_plane.api.auth import Creator
from api_direct.control_plane.api.listings import creator_listings
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.billing.earnings import earnings_key
from api_direct.control_plane.billing.periods import month_text
from api_direct.control_plane.billing.unit_costs import MonthCosts, month_costs
from api_direct.control_plane.api.store import PK, SK

#: A calendar month as ``YYYY-MM`` (of this millennium: the year 0 has no calendar in Python).
MONTH_PATTERN = r"^2\d{3}-(0[1-9]|1[0-2])$"

router = APIRouter(tags=["earnings"])


@router.get("/earnings/costs", summary="Your APIs' month: revenue, fees, AWS cost and margin per plan and per day")
def costs(
    principal: Creator,
    services: ServicesDep,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="the UTC month, YYYY-MM; default: the current one")
    ] = None,
) -> MonthCosts:
    return creator_costs(services, principal.sub, month or month_text(datetime.now(UTC)))


def creator_costs(services: Services, creator: str, month: str) -> MonthCosts:
    """``month``'s figures of every API the creator lists (the portal's too)."""
    store = services.store
    return month_costs(
        store,
        creator_listings(store, creator),
        month,
        today=datetime.now(UTC).date(),
        fee_percent=_fee_percent(services, creator, month),
        currency=services.settings.currency,
    )


def _fee_percent(services: Services, creator: str, month: str) -> Decimal:
    key = earnings_key(creator, month)
    closed = services.store.get(key[PK], key[SK])
    return (
        Decimal(closed["fee_percent"]) if closed and "fee_percent" in closed else services.settings.platform_fee_percent
    )
