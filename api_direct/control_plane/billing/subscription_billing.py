"""What a subscription is in Stripe: a customer per consumer, a subscription per (consumer, API).

The Stripe side of a paid subscription is made *before* the key is issued, so a
declined card leaves nothing behind but a Stripe customer, and a free plan never
touches Stripe. Stripe objects are remembered in the table and reused:

| item | holds |
| --- | --- |
| ``pk=CONSUMER#<sub>``, ``sk=BILLING`` | ``stripe_customer`` |
| ``pk=API#<api>``, ``sk=PLAN#<plan>`` | ``stripe_meter``, ``stripe_event_name`` (one meter per plan, for good) and ``stripe_prices`` (the prices of the plan's current price fingerprint) |
| ``pk=CONSUMER#<sub>``, ``sk=SUB#<api>`` | ``stripe_subscription``; on a free plan, ``stripe_subscription_ending`` (the paid one running to its period's end) |

A meter per plan (not per API) keeps a free plan's calls off a paid plan's meter:
a consumer who upgrades mid-month pays the new price only for calls made on it.
"""  # noqa: E501 (Markdown table rows cannot wrap)

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api_direct.control_plane.api.store import PK, SK, Store, api_pk, consumer_of, consumer_pk
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.billing.stripe_gateway import (
    PlanPrices,
    StripeGateway,
    StripeKeys,
    gateway_for,
    plan_fingerprint,
    stripe_keys,
)
from api_direct.project import PricingPlan

BILLING_SK = "BILLING"
#: On a subscription moved to a plan without Stripe: the Stripe subscription left running to its period's end,
#: which a move back before then takes up again instead of charging a new period.
ENDING = "stripe_subscription_ending"
#: A Checkout Session's metadata key saying what it is for, and the value for a trial's card.
PURPOSE, TRIAL_PURPOSE = "apid_purpose", "trial"


class SubscriptionBilling:
    """Starts, changes and ends the Stripe side of consumers' subscriptions."""

    def __init__(self, store: Store, gateway: StripeGateway) -> None:
        self.store = store
        self.gateway = gateway

    def start(self, consumer: str, api_id: str, plan_item: Mapping[str, Any]) -> str | None:
        """Subscribe the consumer in Stripe if the plan costs anything; ``PaymentDeclined`` if the card fails.

        Returns the Stripe subscription id (``None`` for a free plan). Its idempotency
        key is new per request: retries inside the gateway reuse it, and a request
        that fails later gives its subscription up (:meth:`abandon`), so a new
        request must not replay it.
        """
        plan = PricingPlan.of(plan_item)
        if not plan.is_subscription:  # free, or prepaid: packs are bought through Checkout (credits.py)
            return None
        customer = self.customer(consumer)
        prices = self.prices(api_id, plan_item)
        return self.gateway.subscribe(
            customer,
            prices,
            _metadata(consumer, api_id, plan.name),
            f"apid-subscribe-{consumer}-{api_id}-{secrets.token_hex(8)}",
        )

    def start_with_card(
        self, consumer: str, api_id: str, plan_item: Mapping[str, Any], payment_method: str, trial_days: int | None
    ) -> tuple[str, int | None]:
        """Subscribe in Stripe charging the card the consumer saved through Checkout, after ``trial_days`` if given.

        The card becomes the customer's default too, so their other subscriptions'
        invoices are charged to it. Returns the subscription id and when its trial ends.
        """
        customer = self.customer(consumer)
        self.gateway.set_default_card(customer, payment_method)
        return self.gateway.subscribe_with_card(
            customer,
            self.prices(api_id, plan_item),
            _metadata(consumer, api_id, PricingPlan.of(plan_item).name),
            f"apid-subscribe-{consumer}-{api_id}-{secrets.token_hex(8)}",
            payment_method,
            trial_days,
        )

    def card_checkout(
        self, consumer: str, api_id: str, plan: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """A Checkout Session where the consumer saves the card a trial needs; its id and URL.

        Its metadata names the purpose (``apid_purpose=trial``) and whose it is, which
        the subscription that uses it checks.
        """
        return self.gateway.card_checkout(
            self.customer(consumer),
            success_url,
            cancel_url,
            {**_metadata(consumer, api_id, plan), PURPOSE: TRIAL_PURPOSE},
            f"apid-checkout-{consumer}-{api_id}-{secrets.token_hex(8)}",
        )

    def change(self, subscription: Mapping[str, Any], plan_item: Mapping[str, Any]) -> dict[str, Any]:
        """Move the Stripe side to another plan; the attributes to set on the subscription item.

        A free trial goes on through a move to another plan with a trial, and ends now on
        a move to a paid plan without one (``trial_end`` becomes now): a trial never
        makes another plan free.
        """
        consumer, api_id = consumer_of(subscription["pk"]), subscription["api_id"]
        plan = PricingPlan.of(plan_item)
        current = subscription.get("stripe_subscription")
        if not plan.is_subscription:
            if current:
                self.gateway.cancel_at_period_end(current)
            return {"stripe_subscription": None, **({ENDING: current} if current else {})}
        prices = self.prices(api_id, plan_item)
        metadata = _metadata(consumer, api_id, plan.name)
        ending = subscription.get(ENDING)
        if not current and ending and self.gateway.resume(ending):
            key = f"apid-plan-{ending}-{plan.name}-{prices.fingerprint}-{secrets.token_hex(4)}"
            self.gateway.change_plan(ending, prices, metadata, key)
            return {"stripe_subscription": ending}
        if current:
            now = datetime.now(UTC)
            trial_end = str(subscription.get("trial_end") or "")
            end_trial = bool(trial_end) and datetime.fromisoformat(trial_end) > now and plan.trial_days is None
            key = f"apid-plan-{current}-{plan.name}-{prices.fingerprint}{'-trial-ends' if end_trial else ''}"
            self.gateway.change_plan(current, prices, metadata, key, end_trial=end_trial)
            return {"stripe_subscription": current, **({"trial_end": now.isoformat()} if end_trial else {})}
        created = self.gateway.subscribe(
            self.customer(consumer), prices, metadata, f"apid-subscribe-{consumer}-{api_id}-{secrets.token_hex(8)}"
        )
        return {"stripe_subscription": created}

    def revert(
        self, subscription: Mapping[str, Any], changed: Mapping[str, Any], old_plan_item: Mapping[str, Any]
    ) -> None:
        """Undo :meth:`change` (which returned ``changed``) when the plan change could not be recorded."""
        before, after = subscription.get("stripe_subscription"), changed.get("stripe_subscription")
        if before and after is None:
            self.gateway.keep(before)  # it was set to end with the period
        elif after and not before:
            if after == subscription.get(ENDING):
                self.gateway.cancel_at_period_end(after)  # it was running to its period's end before
            else:
                self.abandon(after)
        elif before and after:
            consumer, api_id = consumer_of(subscription["pk"]), subscription["api_id"]
            plan = PricingPlan.of(old_plan_item)
            prices = self.prices(api_id, old_plan_item)
            self.gateway.change_plan(
                before,
                prices,
                _metadata(consumer, api_id, plan.name),
                f"apid-plan-{before}-{plan.name}-{prices.fingerprint}-{secrets.token_hex(4)}",
            )

    def end(self, subscription: Mapping[str, Any]) -> None:
        """Stop billing at the end of the period: usage still being reported is invoiced then."""
        if subscription.get("stripe_subscription"):
            self.gateway.cancel_at_period_end(subscription["stripe_subscription"])

    def abandon(self, subscription: str | None) -> None:
        """Undo :meth:`start` when the key could not be issued: no further invoice for a key nobody got."""
        if subscription:
            self.gateway.cancel_now(subscription)

    def customer(self, consumer: str) -> str:
        key = {PK: consumer_pk(consumer), SK: BILLING_SK}
        item = self.store.get(key[PK], key[SK])
        if item and item.get("stripe_customer"):
            return str(item["stripe_customer"])
        customer = self.gateway.customer(consumer, None)
        self.store.table.update_item(
            Key=key,
            UpdateExpression="SET stripe_customer = if_not_exists(stripe_customer, :customer)",
            ExpressionAttributeValues={":customer": customer},
        )
        return customer

    def customer_of(self, consumer: str) -> str | None:
        item = self.store.get(consumer_pk(consumer), BILLING_SK)
        return str(item["stripe_customer"]) if item and item.get("stripe_customer") else None

    def prices(self, api_id: str, plan_item: Mapping[str, Any]) -> PlanPrices:
        """The plan's Stripe prices, created the first time they are needed and after a price change."""
        plan = PricingPlan.of(plan_item)
        stored = plan_item.get("stripe_prices")
        if stored and stored.get("fingerprint") == plan_fingerprint(plan):
            return PlanPrices(**stored)
        meter = (plan_item["stripe_meter"], plan_item["stripe_event_name"]) if plan_item.get("stripe_meter") else None
        prices = self.gateway.plan_prices(api_id, plan, meter)
        self.store.table.update_item(
            Key={PK: api_pk(api_id), SK: f"PLAN#{plan.name}"},
            UpdateExpression="SET stripe_meter = :meter, stripe_event_name = :event, stripe_prices = :prices",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":meter": prices.meter, ":event": prices.event_name, ":prices": prices.__dict__},
        )
        return prices


def _metadata(consumer: str, api_id: str, plan: str) -> dict[str, str]:
    """What every invoice of the subscription carries back to the webhook: whose, and which API."""
    return {"apid_consumer": consumer, "apid_api": api_id, "apid_plan": plan}


def configured_billing(settings: ControlPlaneSettings, store: Store) -> tuple[StripeKeys, SubscriptionBilling] | None:
    """The Stripe keys and billing the settings name; ``None`` while billing is off (no secret, or its placeholder)."""
    keys = stripe_keys(settings.stripe_secret_arn, settings.aws_endpoint_url) if settings.stripe_secret_arn else None
    return (keys, SubscriptionBilling(store, gateway_for(settings, keys))) if keys else None
