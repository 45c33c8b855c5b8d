"""The clock: time is the one thing a test drives by hand.

Stripe invoices a subscription when its period ends; here a period ends when a
test calls :meth:`Clock.close_billing_period` (or advances it to a given moment,
as a Stripe test clock does), and a failed payment is retried when it calls
:meth:`Clock.pay_invoice`. Both deliver their events before returning.
"""

import time
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.subscriptions import Subscriptions
from api_direct.local.stripe_server.webhooks import Webhooks


class Clock(Subscriptions, Webhooks):
    """Ends billing periods and retries payments when a test says so."""

    def close_billing_period(self, at: int | None = None) -> list[dict[str, Any]]:
        """End the current period of every subscription that is not canceled, as Stripe does at renewal.

        Each gets one invoice (``billing_reason=subscription_cycle``) with a line per
        item: a licensed item bills its price for its quantity, a metered item bills
        the customer's usage on the price's meter (aggregated by the meter's formula)
        over the item's period, per unit or through the price's tiers. A line's
        amount is rounded to a whole cent, half up, once per line. Items removed
        during the period are not billed and nothing is prorated.

        The period ends at the first whole second after the call, and the call
        waits for that second to pass (under a second), so every meter event
        reported before it is in the period and every one reported after it falls
        in the next; meter event timestamps have one-second resolution. Each
        invoice is then collected (paid, unless the customer's cards are declined,
        when it stays ``open`` after one attempt), a subscription set to
        ``cancel_at_period_end`` becomes ``canceled``, and ``invoice.paid`` or
        ``invoice.payment_failed`` and ``customer.subscription.deleted`` events are
        delivered, in that order, before the call returns. Returns the new invoices.

        ``at`` (epoch seconds) ends the period then instead, without waiting, as
        advancing a Stripe test clock does: a test can bill usage stamped later
        than now (a whole hour, reported when it closes) in the period it belongs to.
        """
        period_end = int(time.time()) + 1 if at is None else at
        if at is None:
            time.sleep(max(0.0, period_end - time.time()))
        with self._lock:
            invoices: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for subscription in list(self._objects.get("subscription", {}).values()):
                if subscription["status"] == "canceled":
                    continue
                invoice = self._invoice_period(subscription, period_end)
                invoices.append(invoice)
                events.append(self._record_event(_payment_event_type(invoice), invoice))
                if subscription["cancel_at_period_end"]:
                    subscription.update(status="canceled", ended_at=period_end)
                    events.append(self._record_event("customer.subscription.deleted", subscription))
            endpoints = list(self._endpoints)
            closed = wire.copy_json(invoices)
        self._deliver(events, endpoints)
        return closed

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Retry collecting an ``open`` invoice, as Stripe's retries do; return it.

        The attempt fails again while the customer's cards are declined (call
        ``accept_cards`` first). Either way the outcome is delivered as an event.
        """
        with self._lock:
            invoice = self._get("invoice", invoice_id)
            if invoice["status"] != "open":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not open")
            self._collect(invoice)
            event = self._record_event(_payment_event_type(invoice), invoice)
            endpoints = list(self._endpoints)
            paid = wire.copy_json(invoice)
        self._deliver([event], endpoints)
        return paid


def _payment_event_type(invoice: dict[str, Any]) -> str:
    return "invoice.paid" if invoice["status"] == "paid" else "invoice.payment_failed"
