"""Products, prices and meters: what a unit costs, and how usage is counted.

``/v1/products``, ``/v1/prices`` (per unit or tiered, licensed or metered),
``/v1/billing/meters`` and ``/v1/billing/meter_events``; and the arithmetic the
invoices use: a meter's aggregation over a period and a price's cost for a quantity.
"""

import re
import time
from decimal import Decimal
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.state import MAX_OBJECTS, State
from api_direct.local.stripe_server.wire import StripeError

#: Stripe accepts decimal amounts with at most 12 decimal places.
_DECIMAL = re.compile(r"\d{1,12}(\.\d{1,12})?")


class Prices(State):
    """Products, prices, billing meters and the usage reported to them."""

    def meter_events(self) -> list[dict[str, Any]]:
        """Meter events as accepted, oldest first; a refused repeat of an ``identifier`` is absent."""
        with self._lock:
            return wire.copy_json(self._meter_events)

    def usage(self, meter_id: str, customer_id: str) -> int:
        """A customer's usage on a meter over all time, aggregated by the meter's formula.

        Stripe aggregates per billing period and asynchronously; this reads the
        whole total, immediately (``close_billing_period`` bills by period).
        """
        with self._lock:
            return self._aggregate(self._get("billing.meter", meter_id), customer_id)

    def _create_product(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "name", "description", "metadata")
        return self._store(
            {
                **wire.new_object("prod", "product"),
                "active": True,
                "name": wire.required(params, "name"),
                "description": params.get("description"),
                "metadata": wire.metadata(params),
            }
        )

    def _create_price(self, params: dict[str, Any]) -> dict[str, Any]:
        """A one-off or recurring price, charged per unit or through tiers.

        A per-unit price needs ``unit_amount`` or ``unit_amount_decimal`` (cents,
        at most 12 decimal places); a tiered one needs ``tiers`` and ``tiers_mode``
        instead, and Stripe refuses a unit amount beside them. As on Stripe, the
        response carries ``tiers`` only when asked with ``expand[]=tiers``.
        """
        wire.allow(
            params,
            *("currency", "product", "unit_amount", "unit_amount_decimal", "billing_scheme", "tiers"),
            *("tiers_mode", "recurring", "nickname", "lookup_key", "metadata", "expand"),
        )
        product = self._find("product", wire.required(params, "product"), param="product")["id"]
        expand = wire.expand(params, "tiers")
        recurring = self._recurring(params)
        scheme = wire.one_of(params, "billing_scheme", ("per_unit", "tiered"), default="per_unit")
        tiers: list[dict[str, Any]] | None = None
        tiers_mode: str | None = None
        unit_amount: int | None = None
        unit_amount_decimal: str | None = None
        if scheme == "tiered":
            for name in ("unit_amount", "unit_amount_decimal"):
                if name in params:
                    raise StripeError(400, f"You may only specify one of these parameters: {name}, tiers.", param=name)
            tiers_mode = wire.one_of(params, "tiers_mode", ("graduated", "volume"))
            tiers = _tiers(params)
        else:
            for name in ("tiers", "tiers_mode"):
                if name in params:
                    raise StripeError(400, f"`{name}` requires `billing_scheme` to be `tiered`.", param=name)
            unit_amount, unit_amount_decimal = _amount(params, "unit_amount")
            if unit_amount_decimal is None:
                raise StripeError(
                    400, "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount"
                )
        price = self._store(
            {
                **wire.new_object("price", "price"),
                "active": True,
                "billing_scheme": scheme,
                "currency": wire.required(params, "currency").lower(),
                "product": product,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_amount_decimal,
                "tiers_mode": tiers_mode,
                "recurring": recurring,
                "type": "one_time" if recurring is None else "recurring",
                "nickname": params.get("nickname"),
                "lookup_key": params.get("lookup_key"),
                "metadata": wire.metadata(params),
            }
        )
        if tiers is not None:
            self._tiers[price["id"]] = tiers
        return self._price_view(price, expand)

    def _recurring(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """A price's ``recurring`` hash; a metered price must name its billing meter.

        Since API version 2025-03-31 Stripe bills usage only through meters, so
        ``recurring[usage_type]=metered`` without ``recurring[meter]`` is refused.
        """
        if params.get("recurring") is None:
            return None
        recurring = wire.nested(params["recurring"], "recurring")
        wire.allow(recurring, "interval", "interval_count", "usage_type", "meter", prefix="recurring")
        interval = wire.one_of(recurring, "interval", ("day", "week", "month", "year"), prefix="recurring")
        usage_type = wire.one_of(
            recurring, "usage_type", ("licensed", "metered"), prefix="recurring", default="licensed"
        )
        meter = recurring.get("meter")
        if usage_type == "metered" and meter is None:
            raise StripeError(
                400, "Metered prices must be backed by a meter.", code="parameter_missing", param="recurring[meter]"
            )
        if meter is not None:
            self._find("billing.meter", meter, param="recurring[meter]")
        return {
            "interval": interval,
            "interval_count": wire.integer(recurring, "interval_count", prefix="recurring", default=1),
            "meter": meter,
            "usage_type": usage_type,
        }

    def _get_price(self, params: dict[str, Any], price_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._price_view(self._find("price", price_id), wire.expand(params, "tiers"))

    def _price_view(self, price: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        return {**price, "tiers": self._tiers.get(price["id"])} if "tiers" in expand else price

    def _create_meter(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "display_name", "event_name", "default_aggregation", "customer_mapping", "value_settings")
        event_name = wire.required(params, "event_name")
        aggregation = wire.nested(wire.required(params, "default_aggregation"), "default_aggregation")
        formula = wire.one_of(aggregation, "formula", ("sum", "count", "last"), prefix="default_aggregation")
        mapping = wire.nested(params.get("customer_mapping", {}), "customer_mapping")
        value_settings = wire.nested(params.get("value_settings", {}), "value_settings")
        if any(meter["event_name"] == event_name for meter in self._objects.get("billing.meter", {}).values()):
            raise StripeError(
                400, f"An active meter with event_name '{event_name}' already exists.", param="event_name"
            )
        return self._store(
            {
                **wire.new_object("mtr", "billing.meter"),
                "display_name": wire.required(params, "display_name"),
                "event_name": event_name,
                "status": "active",
                "default_aggregation": {"formula": formula},
                "customer_mapping": {
                    "type": mapping.get("type", "by_id"),
                    "event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
                },
                "value_settings": {"event_payload_key": value_settings.get("event_payload_key", "value")},
            }
        )

    def _list_meters(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(params, "limit", "starting_after", "status")
        return self._list("billing.meter", "/v1/billing/meters", params, status=params.get("status"))

    def _create_meter_event(self, params: dict[str, Any]) -> dict[str, Any]:
        """Record usage; a repeated ``identifier`` is refused, so usage is counted once.

        Stripe enforces identifier uniqueness over a rolling 24 hours and answers a
        repeat with a 400 ``invalid_request_error`` and ``Stripe-Should-Retry: false``
        (no error code is documented, so the fake sends none). The fake remembers
        identifiers for its whole life, which no test outlasts.
        """
        wire.allow(params, "event_name", "payload", "identifier", "timestamp")
        event_name = wire.required(params, "event_name")
        payload = wire.nested(wire.required(params, "payload"), "payload")
        identifier = params.get("identifier") or wire.new_id("evtid")
        if any(event["identifier"] == identifier for event in self._meter_events):
            raise StripeError(
                400, f"An event already exists with identifier {identifier}.", param="identifier", should_retry=False
            )
        for meter in self._objects.get("billing.meter", {}).values():
            if meter["event_name"] == event_name:
                customer_key = meter["customer_mapping"]["event_payload_key"]
                value_key = meter["value_settings"]["event_payload_key"]
                wire.required(payload, customer_key, prefix="payload")
                wire.required(payload, value_key, prefix="payload")
                wire.integer(payload, value_key, prefix="payload")
        if len(self._meter_events) >= MAX_OBJECTS:
            raise StripeError(400, f"The Stripe fake holds at most {MAX_OBJECTS} meter events.")
        event = {
            "object": "billing.meter_event",
            "created": int(time.time()),
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": wire.integer(params, "timestamp", default=int(time.time())),
        }
        self._meter_events.append(event)
        return event

    def _amount_for(self, price: dict[str, Any], quantity: int) -> Decimal:
        """What ``quantity`` units cost at ``price``, in cents, unrounded.

        Graduated tiers bill each unit at the tier it falls in, plus the flat amount
        of every tier reached (the first always: zero units fall in it); volume
        tiers bill every unit at the tier the total falls in, plus its flat amount.
        """
        if price["billing_scheme"] == "per_unit":
            return Decimal(price["unit_amount_decimal"]) * quantity
        tiers = self._tiers[price["id"]]
        if price["tiers_mode"] == "volume":
            tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
            return _tier_cost(tier, quantity)
        total, below = Decimal(0), 0
        for tier in tiers:
            top = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
            total += _tier_cost(tier, max(0, top - below))
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                break
            below = tier["up_to"]
        return total

    def _aggregate(
        self, meter: dict[str, Any], customer_id: str, start: int | None = None, end: int | None = None
    ) -> int:
        """A customer's usage on ``meter`` from events timestamped in [start, end), by the meter's formula.

        ``last`` takes the latest event by timestamp (then by arrival), as Stripe
        aggregates by event time rather than by when the event was reported.
        """
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        events = sorted(
            (
                event
                for event in self._meter_events
                if event["event_name"] == meter["event_name"]
                and event["payload"].get(customer_key) == customer_id
                and re.fullmatch(r"-?\d{1,18}", str(event["payload"].get(value_key)))
                and (start is None or event["timestamp"] >= start)
                and (end is None or event["timestamp"] < end)
            ),
            key=lambda event: event["timestamp"],
        )
        values = [int(event["payload"][value_key]) for event in events]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return len(values)
        if formula == "last":
            return values[-1] if values else 0
        return sum(values)


def _tier_cost(tier: dict[str, Any], units: int) -> Decimal:
    flat = Decimal(tier["flat_amount_decimal"] or 0)
    return flat + Decimal(tier["unit_amount_decimal"] or 0) * units


def _tiers(params: dict[str, Any]) -> list[dict[str, Any]]:
    """A tiered price's tiers as Stripe shows them: ascending ``up_to``, the last ``null`` (sent as ``inf``)."""
    raw = wire.array(params, "tiers")
    tiers = []
    below = 0
    for index, tier in enumerate(raw):
        prefix = f"tiers[{index}]"
        tier = wire.nested(tier, prefix)
        wire.allow(
            tier, "up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal", prefix=prefix
        )
        last = index == len(raw) - 1
        up_to: int | None = None
        if wire.required(tier, "up_to", prefix=prefix) == "inf":
            if not last:
                raise StripeError(400, "Only the last tier may have `up_to` set to `inf`.", param=f"{prefix}[up_to]")
        else:
            up_to = wire.required_integer(tier, "up_to", prefix=prefix)
            if last:
                raise StripeError(400, "The last tier must have `up_to` set to `inf`.", param=f"{prefix}[up_to]")
            if up_to <= below:
                raise StripeError(
                    400, "Tiers must be ordered by increasing `up_to`, starting above 0.", param=f"{prefix}[up_to]"
                )
            below = up_to
        unit_amount, unit_amount_decimal = _amount(tier, "unit_amount", prefix=prefix)
        flat_amount, flat_amount_decimal = _amount(tier, "flat_amount", prefix=prefix, whole=True)
        if unit_amount_decimal is None and flat_amount_decimal is None:
            raise StripeError(400, "An entry in the tiers array is missing an amount.", param=prefix)
        tiers.append(
            {
                "flat_amount": flat_amount,
                "flat_amount_decimal": flat_amount_decimal,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_amount_decimal,
                "up_to": up_to,
            }
        )
    return tiers


def _amount(params: dict[str, Any], name: str, prefix: str = "", whole: bool = False) -> tuple[int | None, str | None]:
    """An amount given as ``name`` (integer cents) or ``{name}_decimal``: (integer or None, decimal string).

    As on Stripe, the decimal string is always shown and the integer only when the
    amount is whole, so ``unit_amount=900`` and ``unit_amount_decimal=900`` read back
    alike while ``unit_amount_decimal=0.15`` has ``unit_amount`` null.
    """
    decimal_name = f"{name}_decimal"
    if name in params and decimal_name in params:
        raise StripeError(
            400,
            f"You may only specify one of these parameters: {name}, {decimal_name}.",
            param=wire.param_name(prefix, name),
        )
    if name in params:
        value = Decimal(wire.required_integer(params, name, prefix=prefix))
    elif decimal_name in params:
        raw = params[decimal_name]
        if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw):
            raise StripeError(400, f"Invalid decimal: {raw}", param=wire.param_name(prefix, decimal_name))
        value = Decimal(raw)
        if whole and value != value.to_integral_value():
            raise StripeError(
                400,
                f"Invalid integer: {raw}",
                code="parameter_invalid_integer",
                param=wire.param_name(prefix, decimal_name),
            )
    else:
        return None, None
    if value < 0:
        raise StripeError(400, "This value must be greater than or equal to 0.", param=wire.param_name(prefix, name))
    integral = value == value.to_integral_value()
    return (int(value) if integral else None), format(value.normalize(), "f")
