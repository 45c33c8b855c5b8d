"""Subscriptions and invoices: items and their periods, invoicing a period in arrears, collecting it.

``/v1/subscriptions`` and ``/v1/invoices``; :mod:`.clock` decides when a period
ends (and when a trial does), this module what its invoice says and whether the
customer's card pays it.

A subscription made with ``trial_period_days`` or ``trial_end`` is ``trialing``
until then, as on Stripe: it gets a $0 invoice at once (``subscription_create``),
its items' period runs to the trial's end, and the first paid period starts there.
Usage reported during the trial is never billed: Stripe does not count usage
accrued in a trial towards what it charges, and here the trial's usage falls
before the first paid period starts.
"""

import calendar
import secrets
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.invoice_payments import InvoicePayments
from api_direct.local.stripe_server.prices import Prices
from api_direct.local.stripe_server.wire import StripeError

_PAYMENT_BEHAVIORS = ("allow_incomplete", "error_if_incomplete", "default_incomplete")
_PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
#: Stripe's longest trial.
MAX_TRIAL_DAYS = 730
DAY_SECONDS = 86_400


class Subscriptions(Prices, InvoicePayments):
    """Subscriptions, their items, and the invoices their periods produce."""

    def decline_cards(self, customer_id: str) -> None:
        """Make every payment by this customer fail with Stripe's generic decline.

        It affects subscriptions created with ``payment_behavior=error_if_incomplete``
        (refused with a 402 ``card_error``) and the invoices ``close_billing_period``
        and ``pay_invoice`` try to collect (left ``open``). ``accept_cards`` undoes it.
        """
        with self._lock:
            self._declined.add(self._get("customer", customer_id)["id"])

    def accept_cards(self, customer_id: str) -> None:
        """Let this customer pay again, as after updating a declined card."""
        with self._lock:
            self._declined.discard(self._get("customer", customer_id)["id"])

    def invoices(self) -> list[dict[str, Any]]:
        """Invoices made by ``close_billing_period``, oldest first, in their current state."""
        return self._all("invoice")

    def _create_subscription(self, params: dict[str, Any]) -> dict[str, Any]:
        """An ``active`` subscription, or Stripe's card error if it must be paid now and cannot be.

        The fake invoices in arrears only, so whatever ``payment_behavior`` says a
        subscription starts active, except in the one case where Stripe refuses the
        request outright: ``error_if_incomplete`` for a customer whose cards are
        declined, with an item that costs something up front (a licensed price with
        a non-zero amount).
        """
        wire.allow(
            params,
            *("customer", "items", "metadata", "payment_behavior", "collection_method"),
            *("trial_period_days", "trial_end", "default_payment_method"),
        )
        customer = self._find("customer", wire.required(params, "customer"), param="customer")["id"]
        default_payment_method = params.get("default_payment_method") or None
        if default_payment_method is not None:
            self._own_payment_method(customer, default_payment_method, "default_payment_method")
        payment_behavior = wire.one_of(params, "payment_behavior", _PAYMENT_BEHAVIORS, default="allow_incomplete")
        collection_method = wire.one_of(
            params, "collection_method", ("charge_automatically",), default="charge_automatically"
        )
        subscription = wire.new_object("sub", "subscription")
        now = subscription["created"]
        trial_end = _trial_end(params, now)
        items = [
            self._new_item(wire.nested(entry, f"items[{index}]"), f"items[{index}]", subscription["id"], now)
            for index, entry in enumerate(wire.array(params, "items"))
        ]
        currency = _check_items(items)
        metadata = wire.metadata(params)
        for item in items if trial_end is not None else []:
            item["current_period_end"] = trial_end
        if (
            trial_end is None
            and customer in self._declined
            and payment_behavior == "error_if_incomplete"
            and any(self._due_up_front(item) for item in items)
        ):
            raise wire.card_declined()
        subscription.update(
            customer=customer,
            status="active" if trial_end is None else "trialing",
            billing_cycle_anchor=now if trial_end is None else trial_end,
            cancel_at=None,
            cancel_at_period_end=False,
            canceled_at=None,
            collection_method=collection_method,
            currency=currency,
            default_payment_method=default_payment_method,
            ended_at=None,
            items=_item_list(subscription["id"], items),
            latest_invoice=None,
            metadata=metadata,
            start_date=now,
            trial_end=trial_end,
            trial_start=None if trial_end is None else now,
        )
        self._store(subscription)
        self._period_starts[subscription["id"]] = now
        if trial_end is not None:
            invoice = wire.new_object("in", "invoice")
            lines = [self._invoice_line(invoice["id"], subscription, item, trial_end, trial=True) for item in items]
            self._issue(invoice, subscription, lines, "subscription_create", now, now)
        return subscription

    def _new_item(self, entry: dict[str, Any], prefix: str, subscription_id: str, period_start: int) -> dict[str, Any]:
        """A subscription item whose period starts at ``period_start``."""
        wire.allow(entry, "price", "quantity", prefix=prefix)
        return {
            **wire.new_object("si", "subscription_item"),
            **self._item_pricing(entry, prefix, period_start),
            "metadata": {},
            "subscription": subscription_id,
        }

    def _item_pricing(self, entry: dict[str, Any], prefix: str, period_start: int) -> dict[str, Any]:
        """An item's ``price``, ``quantity`` and period, from ``price`` and ``quantity`` params.

        Metered items have no quantity: their usage comes from the price's meter.
        """
        price = self._find("price", wire.required(entry, "price", prefix=prefix), param=f"{prefix}[price]")
        if price["recurring"] is None:
            raise StripeError(
                400,
                "The price specified is set to `type=one_time` but this field only accepts prices "
                "with `type=recurring`.",
                param=f"{prefix}[price]",
            )
        quantity: int | None = wire.integer(entry, "quantity", prefix=prefix, default=1)
        if price["recurring"]["usage_type"] == "metered":
            if "quantity" in entry:
                raise StripeError(
                    400,
                    f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `{prefix}`.",
                    param=f"{prefix}[quantity]",
                )
            quantity = None
        elif quantity is not None and quantity < 0:
            raise StripeError(400, "This value must be greater than or equal to 0.", param=f"{prefix}[quantity]")
        return {
            "price": price,
            "quantity": quantity,
            "current_period_start": period_start,
            "current_period_end": _period_end(period_start, price["recurring"]),
        }

    def _due_up_front(self, item: dict[str, Any]) -> bool:
        price = item["price"]
        return price["recurring"]["usage_type"] == "licensed" and self._amount_for(price, item["quantity"]) > 0

    def _get_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        wire.allow(params)
        return self._find("subscription", subscription_id)

    def _update_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        """Change items, ``cancel_at_period_end`` or metadata; every parameter is checked before any applies.

        ``items[i][id]`` with ``items[i][deleted]=true`` removes an item,
        ``items[i][price]`` alone adds one, ``items[i][id]`` with a price or quantity
        changes one in place. Metadata merges into what is there, and a key set to
        the empty string is removed, as on Stripe. ``proration_behavior`` is checked
        and ignored: the fake never prorates. A canceled subscription may only have
        its metadata changed, as on Stripe. ``trial_end=now`` ends a trial at once (the
        first paid period starts now); without it, items changed during a trial stay
        free until it ends, as on Stripe. The fake takes no other ``trial_end`` here.
        """
        wire.allow(params, "items", "cancel_at_period_end", "metadata", "proration_behavior", "trial_end")
        subscription = self._find("subscription", subscription_id)
        if subscription["status"] == "canceled" and set(params) - {"metadata"}:
            raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        if params.get("trial_end", "now") != "now":
            raise StripeError(400, "The fake changes a trial only to end it: trial_end=now.", param="trial_end")
        wire.one_of(params, "proration_behavior", _PRORATION_BEHAVIORS, default="create_prorations")
        cancel_at_period_end = wire.boolean(params, "cancel_at_period_end")
        items = subscription["items"]["data"]
        if "items" in params:
            items = self._updated_items(subscription, wire.array(params, "items"))
        metadata = wire.merged_metadata(subscription["metadata"], params)
        subscription.update(items=_item_list(subscription_id, items), metadata=metadata)
        if subscription["status"] == "trialing" and "trial_end" in params:
            self._end_trial(subscription, int(time.time()))
            subscription["trial_end"] = subscription["billing_cycle_anchor"]
        elif subscription["status"] == "trialing":
            for item in items:
                item["current_period_end"] = subscription["trial_end"]
        if cancel_at_period_end is True:
            # Stripe records when cancellation was asked for in canceled_at, and when it happens in cancel_at.
            period_end = max(item["current_period_end"] for item in items)
            subscription.update(cancel_at_period_end=True, canceled_at=int(time.time()), cancel_at=period_end)
        elif cancel_at_period_end is False:
            subscription.update(cancel_at_period_end=False, canceled_at=None, cancel_at=None)
        return subscription

    def _updated_items(self, subscription: dict[str, Any], entries: list[Any]) -> list[dict[str, Any]]:
        """The subscription's items after ``entries``, built as new dicts so a refusal changes nothing."""
        items = list(subscription["items"]["data"])
        now = int(time.time())
        for index, entry in enumerate(entries):
            prefix = f"items[{index}]"
            entry = wire.nested(entry, prefix)
            wire.allow(entry, "id", "price", "quantity", "deleted", prefix=prefix)
            deleted = wire.boolean(entry, "deleted", prefix=prefix)
            if "id" not in entry and not deleted:
                fields = {name: value for name, value in entry.items() if name != "deleted"}
                items.append(self._new_item(fields, prefix, subscription["id"], now))
                continue
            item_id = wire.required(entry, "id", prefix=prefix)
            position = next((i for i, item in enumerate(items) if item["id"] == item_id), None)
            if position is None:
                raise StripeError(
                    400, f"No such subscription item: '{item_id}'", code="resource_missing", param=f"{prefix}[id]"
                )
            current = items.pop(position)
            if deleted:
                continue
            changes: dict[str, Any] = {
                "price": current["price"]["id"],
                **{k: entry[k] for k in ("price", "quantity") if k in entry},
            }
            pricing = self._item_pricing(changes, prefix, current["current_period_start"])
            if "quantity" not in entry and pricing["quantity"] is not None and current["quantity"] is not None:
                pricing["quantity"] = current["quantity"]  # A new price keeps the seats already bought.
            items.insert(position, {**current, **pricing})
        if not items:
            raise StripeError(400, "A subscription must have at least one item.", param="items")
        _check_items(items)
        return items

    def _end_trial(self, subscription: dict[str, Any], at: int) -> None:
        """Make a trialing subscription ``active``, its first paid period starting ``at``."""
        for item in subscription["items"]["data"]:
            item.update(current_period_start=at, current_period_end=_period_end(at, item["price"]["recurring"]))
        subscription.update(status="active", billing_cycle_anchor=at)
        self._period_starts[subscription["id"]] = at

    def _cancel_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        """Cancel now: no final invoice, as Stripe's default (``invoice_now=false``)."""
        wire.allow(params)
        subscription = self._find("subscription", subscription_id)
        if subscription["status"] != "canceled":
            now = int(time.time())
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
        return subscription

    def _get_invoice(self, params: dict[str, Any], invoice_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        return self._invoice_view(self._find("invoice", invoice_id), params)

    def _invoice_period(self, subscription: dict[str, Any], period_end: int) -> dict[str, Any]:
        """Invoice a subscription's period up to ``period_end``, collect it and start the next period."""
        invoice = wire.new_object("in", "invoice")
        items = subscription["items"]["data"]
        lines = [self._invoice_line(invoice["id"], subscription, item, period_end) for item in items]
        self._issue(
            invoice, subscription, lines, "subscription_cycle", self._period_starts[subscription["id"]], period_end
        )
        for item in items:
            item.update(
                current_period_start=period_end, current_period_end=_period_end(period_end, item["price"]["recurring"])
            )
        self._period_starts[subscription["id"]] = period_end
        return invoice

    def _issue(
        self,
        invoice: dict[str, Any],
        subscription: dict[str, Any],
        lines: list[dict[str, Any]],
        billing_reason: str,
        period_start: int,
        period_end: int,
    ) -> None:
        """Finalize ``invoice`` of ``subscription`` with ``lines``, store it and collect it."""
        customer = self._objects["customer"][subscription["customer"]]
        total = sum(line["amount"] for line in lines)
        invoice.update(
            amount_due=total,
            amount_paid=0,
            amount_remaining=total,
            attempt_count=0,
            attempted=False,
            auto_advance=True,
            billing_reason=billing_reason,
            collection_method=subscription["collection_method"],
            currency=subscription["currency"],
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            description=None,
            due_date=None,
            # Finalized at once (Stripe sets both once an invoice leaves draft): the customer's page and its PDF.
            hosted_invoice_url=f"{self.base_url}/i/{invoice['id']}/{secrets.token_urlsafe(16)}",
            invoice_pdf=f"{self.base_url}/invoice/{invoice['id']}/{secrets.token_urlsafe(16)}/pdf",
            lines={
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice['id']}/lines",
            },
            metadata={},
            next_payment_attempt=None,
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]),
                    "subscription": subscription["id"],
                    "subscription_proration_date": None,
                },
            },
            period_start=period_start,
            period_end=period_end,
            status="open",
            status_transitions={
                "finalized_at": invoice["created"],
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            subtotal=total,
            total=total,
        )
        self._store(invoice)
        self._collect(invoice)
        subscription["latest_invoice"] = invoice["id"]

    def _invoice_line(
        self, invoice_id: str, subscription: dict[str, Any], item: dict[str, Any], period_end: int, trial: bool = False
    ) -> dict[str, Any]:
        """An item's line up to ``period_end``; a ``trial`` line costs nothing, as Stripe's "Trial period for" lines."""
        price = item["price"]
        product = self._objects["product"][price["product"]]
        quantity = item["quantity"]
        if trial:
            quantity, amount, description = quantity or 0, 0, f"Trial period for {product['name']}"
        else:
            if quantity is None:
                meter = self._objects["billing.meter"][price["recurring"]["meter"]]
                quantity = self._aggregate(meter, subscription["customer"], item["current_period_start"], period_end)
            amount = int(self._amount_for(price, quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            description = f"{quantity} × {product['name']}"
        return {
            "id": wire.new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": price["currency"],
            "description": description,
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription["id"],
                    "subscription_item": item["id"],
                },
            },
            "period": {"start": item["current_period_start"], "end": period_end},
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "quantity": quantity,
            "subscription": subscription["id"],
            "subtotal": amount,
            "taxes": [],
        }

    def _collect(self, invoice: dict[str, Any]) -> None:
        """Try to charge what an invoice owes (:mod:`.invoice_payments`); a zero invoice is paid without a charge."""
        if invoice["amount_remaining"] > 0:
            invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
            if not self._charge_invoice(invoice):
                return
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = int(time.time())


def _item_list(subscription_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def _check_items(items: list[dict[str, Any]]) -> str:
    """Refuse the item sets Stripe refuses (a price twice, mixed currencies); return their currency."""
    prices = [item["price"]["id"] for item in items]
    for price in prices:
        if prices.count(price) > 1:
            raise StripeError(
                400, f"Cannot add multiple subscription items with the same price: {price}", param="items"
            )
    currencies = {item["price"]["currency"] for item in items}
    if len(currencies) > 1:
        raise StripeError(400, "All prices on a subscription must have the same `currency`.", param="items")
    return currencies.pop()


def _trial_end(params: dict[str, Any], now: int) -> int | None:
    """When a new subscription's trial ends (``trial_end``, or ``trial_period_days`` from now); None for no trial.

    ``trial_end=now`` and ``trial_period_days=0`` mean no trial, as on Stripe; a trial
    longer than 730 days, or ending in the past, is refused.
    """
    if "trial_end" in params and "trial_period_days" in params:
        raise StripeError(
            400, "You may only specify one of these parameters: trial_end, trial_period_days.", param="trial_end"
        )
    if "trial_period_days" in params:
        days = wire.integer(params, "trial_period_days", default=0)
        if not 0 <= days <= MAX_TRIAL_DAYS:
            raise StripeError(
                400,
                f"The maximum number of trial period days is {MAX_TRIAL_DAYS}.",
                code="parameter_invalid_integer",
                param="trial_period_days",
            )
        return now + days * DAY_SECONDS if days else None
    if params.get("trial_end", "now") == "now":
        return None
    end = wire.integer(params, "trial_end", default=now)
    if end <= now:
        raise StripeError(400, "Invalid timestamp: must be an integer Unix timestamp in the future.", param="trial_end")
    if end > now + MAX_TRIAL_DAYS * DAY_SECONDS:
        raise StripeError(
            400, f"Invalid timestamp: a trial can end at most {MAX_TRIAL_DAYS} days from now.", param="trial_end"
        )
    return end


def _period_end(start: int, recurring: dict[str, Any]) -> int:
    """When a period starting at ``start`` ends nominally, by calendar for months and years.

    The fake's periods really end when a test calls ``close_billing_period``; this
    is the ``current_period_end`` Stripe would show meanwhile.
    """
    count = recurring["interval_count"]
    if recurring["interval"] in ("day", "week"):
        return start + count * (86_400 if recurring["interval"] == "day" else 7 * 86_400)
    moment = datetime.fromtimestamp(start, UTC)
    months = moment.month - 1 + count * (12 if recurring["interval"] == "year" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())
