"""The clock: time is the one thing a test drives by hand.

Stripe invoices a subscription when its period ends; here a period ends when a
test calls :meth:`Clock.close_billing_period` (or advances it to a given moment,
as a Stripe test clock does), and a failed payment is retried when it calls
:meth:`Clock.pay_invoice`. A trial warns three days before it ends and ends when
the clock passes those moments (:meth:`Clock.advance_clock`, or a close at or past
them). Each delivers its events before returning.
"""

import time
from typing import Any

from api_direct.local.stripe_server import wire
from api_direct.local.stripe_server.subscriptions import DAY_SECONDS, Subscriptions
from api_direct.local.stripe_server.webhooks import Webhooks

#: Stripe sends ``customer.subscription.trial_will_end`` this long before a trial ends.
TRIAL_WARNING_SECONDS = 3 * DAY_SECONDS


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
        A subscription still in its trial at the close is not invoiced; one whose
        trial ended before it is invoiced from the trial's end (see :meth:`advance_clock`).
        """
        period_end = int(time.time()) + 1 if at is None else at
        if at is None:
            time.sleep(max(0.0, period_end - time.time()))
        with self._lock:
            invoices: list[dict[str, Any]] = []
            events = self._pass_trials(period_end)
            for subscription in list(self._objects.get("subscription", {}).values()):
                if subscription["status"] in ("canceled", "trialing"):
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

    def advance_clock(self, to: int) -> list[dict[str, Any]]:
        """Move time to ``to`` (epoch seconds) for trials, as advancing a Stripe test clock does; the events sent.

        Each trial whose warning moment (three days before its end, or its start
        for a shorter trial) has passed gets ``customer.subscription.trial_will_end``,
        once. Each trial that has ended becomes ``active`` with its first paid period
        starting at ``trial_end`` (``customer.subscription.updated``), or, if set to
        cancel at period end, ``canceled`` then without an invoice
        (``customer.subscription.deleted``). Events are delivered before returning.
        Billing periods are not closed: :meth:`close_billing_period` does that.
        """
        with self._lock:
            events = self._pass_trials(to)
            endpoints = list(self._endpoints)
        self._deliver(events, endpoints)
        return events

    def _pass_trials(self, to: int) -> list[dict[str, Any]]:
        """Warn and end the trials whose moments are at or before ``to``; the events recorded. With the lock held."""
        events: list[dict[str, Any]] = []
        for subscription in list(self._objects.get("subscription", {}).values()):
            if subscription["status"] != "trialing":
                continue
            trial_end = subscription["trial_end"]
            warn_at = max(subscription["trial_start"], trial_end - TRIAL_WARNING_SECONDS)
            if warn_at <= to and not self._warned(subscription["id"]):
                events.append(self._record_event("customer.subscription.trial_will_end", subscription))
            if trial_end > to:
                continue
            if subscription["cancel_at_period_end"]:
                subscription.update(status="canceled", ended_at=trial_end)
                events.append(self._record_event("customer.subscription.deleted", subscription))
                continue
            self._end_trial(subscription, trial_end)
            events.append(self._record_event("customer.subscription.updated", subscription))
        return events

    def _warned(self, subscription_id: str) -> bool:
        """Whether this trial's ``trial_will_end`` was sent: the event record is the fake's memory of it."""
        return any(
            event["type"] == "customer.subscription.trial_will_end" and event["data"]["object"]["id"] == subscription_id
            for event in self._events.values()
        )

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
