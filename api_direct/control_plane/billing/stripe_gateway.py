"""Every Stripe call the control plane makes, each one safe to repeat.

Every write carries an idempotency key derived from what it does (``apid-customer-
<consumer>``, ``apid-transfer-<creator>-<month>``), never a random one, so a retry
after a crash, a timeout or a rate limit, minutes or a Lambda invocation later,
replays Stripe's first answer instead of doing the thing twice. Meter events also
carry a deterministic ``identifier``, which Stripe de-duplicates beyond the 24 hours
it keeps idempotency keys.

Retries: stripe-python already retries connection errors, timeouts, 409 and 5xx
with the same key (``max_network_retries``); it does not retry a plain 429, which
Stripe marks retryable only by header, so :meth:`StripeGateway.call` retries rate
limits (and anything still retryable) itself, with the same key and backoff. A
card error is never retried: it is :class:`PaymentDeclined`.
"""

import functools
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

import boto3
import stripe

from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.project import PricingPlan

T = TypeVar("T")
#: Our own attempts around the library's; each of those retries the network up to NETWORK_RETRIES times.
ATTEMPTS = 4
NETWORK_RETRIES = 2
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 20.0
#: Stripe caps a meter event's identifier at 100 characters.
MAX_IDENTIFIER = 100


class PaymentDeclined(Exception):
    """The consumer's card was declined (Stripe ``card_error``); the message is Stripe's, safe to show."""


class StripeUnavailable(Exception):
    """Stripe kept failing (rate limits, 5xx, timeouts) through every retry; try again later."""


@dataclass(frozen=True)
class StripeKeys:
    """The platform's secret key and the webhook endpoint's signing secret."""

    api_key: str
    webhook_secret: str

    def __repr__(self) -> str:
        return "StripeKeys(<redacted>)"


@dataclass(frozen=True)
class PlanPrices:
    """The Stripe objects billing one plan: its meter, and the prices a subscription's items use.

    ``base_price`` is the monthly fee (``None`` for a plan without one); ``usage_price``
    bills the meter per call after the plan's free calls (``None`` when calls are free).
    ``fingerprint`` names the plan's prices, so a changed price gets new Stripe prices.
    """

    fingerprint: str
    product: str
    meter: str
    event_name: str
    base_price: str | None
    usage_price: str | None

    @property
    def price_ids(self) -> tuple[str, ...]:
        return tuple(price for price in (self.base_price, self.usage_price) if price)


@dataclass(frozen=True)
class CheckoutSession:
    """What the control plane reads of a Checkout Session: whose it is, whether it is done, the card it saved."""

    id: str
    mode: str
    #: ``open``, ``complete`` or ``expired``.
    status: str
    customer: str | None
    metadata: dict[str, str]
    #: The hosted page, while the session is open.
    url: str | None
    payment_method: str | None


@dataclass(frozen=True)
class ChargeFee:
    """A payment's charge and Stripe's fee on it (its balance transaction's), in cents."""

    charge: str
    fee: int


@dataclass(frozen=True)
class RefundMade:
    """A refund as Stripe reports it; only a ``succeeded`` one has given the money back."""

    refund_id: str
    amount: int
    status: str


@dataclass(frozen=True)
class PaidCheckout:
    """What the control plane reads of a payment-mode Checkout Session: paid or not, by which payment and card."""

    id: str
    #: Complete, and its PaymentIntent succeeded.
    paid: bool
    payment_intent: str | None
    #: The total, in the smallest unit of ``currency``.
    amount: int
    currency: str
    customer: str | None
    #: The card it was paid with (saved on the customer for off-session charges).
    payment_method: str | None
    metadata: dict[str, str]


def plan_fingerprint(plan: PricingPlan) -> str:
    values = [str(plan.monthly_fee), str(plan.price_per_1000), plan.free_calls]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]


def meter_identifier(*parts: str) -> str:
    """A meter event identifier for one (subscription, hour): short, stable, unambiguous."""
    return "apid_" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[: MAX_IDENTIFIER - 5]


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), ROUND_HALF_UP))


class StripeGateway:
    """The slice of Stripe API-Direct uses, with idempotency keys and retries built in."""

    def __init__(
        self, client: stripe.StripeClient, currency: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.currency = currency
        self.sleep = sleep

    def call(self, operation: Callable[[stripe.RequestOptions], T], idempotency_key: str | None = None) -> T:
        """Run ``operation(options)``, retrying what Stripe may still accept with the same key."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key} if idempotency_key else {}
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return operation(options)
            except stripe.CardError as error:
                raise PaymentDeclined(error.user_message or "the card was declined") from None
            except (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError) as error:
                if attempt == ATTEMPTS or not _retryable(error):
                    raise StripeUnavailable(
                        f"Stripe did not answer after {attempt} attempts: {type(error).__name__}"
                    ) from None
                self.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def customer(self, consumer: str, email: str | None) -> str:
        """The consumer's Stripe customer id; the same customer however often this is called."""
        params: stripe.params.CustomerCreateParams = {"metadata": {"apid_consumer": consumer}}
        if email:
            params["email"] = email
        return self.call(lambda o: self.client.v1.customers.create(params, o), f"apid-customer-{consumer}").id

    def plan_prices(self, api_id: str, plan: PricingPlan, meter: tuple[str, str] | None) -> PlanPrices:
        """Create the plan's product, meter (unless ``meter`` = (id, event name) exists) and prices."""
        plan_ref = f"{api_id}-{plan.name}"
        product = self.call(
            lambda o: self.client.v1.products.create(
                {"name": f"{api_id} ({plan.name})", "metadata": {"apid_api": api_id, "apid_plan": plan.name}}, o
            ),
            f"apid-product-{plan_ref}",
        ).id
        if meter is None:
            event_name = f"apid.{api_id}.{plan.name}"
            meter = (self._meter(f"{api_id} {plan.name} calls", event_name, f"apid-meter-{plan_ref}"), event_name)
        fingerprint = plan_fingerprint(plan)
        base = usage = None
        if plan.monthly_fee > 0:
            base = self._price(
                f"apid-price-{plan_ref}-{fingerprint}-base",
                {
                    "product": product,
                    "currency": self.currency,
                    "unit_amount": cents(plan.monthly_fee),
                    "recurring": {"interval": "month"},
                },
            )
        if plan.price_per_1000 > 0:
            per_call = format((plan.price_per_1000 / 10).normalize(), "f")  # cents per call, never 1E+1
            tiers: list[stripe.params.PriceCreateParamsTier] = []
            if plan.free_calls:
                tiers.append({"up_to": plan.free_calls, "unit_amount_decimal": Decimal(0)})
            # stripe types it Decimal, but sends a str as given, and would send str(Decimal) in E notation.
            tiers.append({"up_to": "inf", "unit_amount_decimal": per_call})  # type: ignore[typeddict-item]
            usage = self._price(
                f"apid-price-{plan_ref}-{fingerprint}-usage",
                {
                    "product": product,
                    "currency": self.currency,
                    "billing_scheme": "tiered",
                    "tiers_mode": "graduated",
                    "tiers": tiers,
                    "recurring": {"interval": "month", "usage_type": "metered", "meter": meter[0]},
                },
            )
        return PlanPrices(fingerprint, product, meter[0], meter[1], base, usage)

    def _meter(self, display_name: str, event_name: str, key: str) -> str:
        """The id of the meter counting ``event_name``, made unless Stripe has it already.

        Stripe keeps an idempotency key 24 hours; a retry after that (a crash between Stripe's answer and the
        table's write, retried the next day) is refused because an active meter has the event name: that meter
        is the one, found by listing."""
        try:
            created = self.call(
                lambda o: self.client.v1.billing.meters.create(
                    {
                        "display_name": display_name,
                        "event_name": event_name,
                        "default_aggregation": {"formula": "sum"},
                        "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
                        "value_settings": {"event_payload_key": "value"},
                    },
                    o,
                ),
                key,
            )
            return created.id
        except stripe.InvalidRequestError as error:
            if error.param != "event_name":
                raise
        meters = self.call(lambda o: self.client.v1.billing.meters.list({"status": "active", "limit": 100}, o))
        found = next((each.id for each in meters.auto_paging_iter() if each.event_name == event_name), None)
        if found is None:
            raise StripeUnavailable(f"Stripe refused meter {event_name} as existing but lists none")
        return found

    def _price(self, key: str, params: stripe.params.PriceCreateParams) -> str:
        return self.call(lambda o: self.client.v1.prices.create(params, o), key).id

    def subscribe(self, customer: str, prices: PlanPrices, metadata: Mapping[str, str], key: str) -> str:
        """A subscription to the plan's prices; :class:`PaymentDeclined` if its first payment fails."""
        return self._subscription(_subscription_params(customer, prices, metadata), key).id

    def subscribe_with_card(
        self,
        customer: str,
        prices: PlanPrices,
        metadata: Mapping[str, str],
        key: str,
        payment_method: str,
        trial_days: int | None,
    ) -> tuple[str, int | None]:
        """A subscription charged to ``payment_method``, free for ``trial_days`` first if given.

        Returns its id and when its trial ends (Unix seconds; ``None`` without a trial).
        Nothing is charged during a trial, so a trial subscription cannot be declined.
        """
        params = _subscription_params(customer, prices, metadata)
        params["default_payment_method"] = payment_method
        if trial_days is not None:
            params["trial_period_days"] = trial_days
        made = self._subscription(params, key)
        return made.id, made.trial_end

    def _subscription(self, params: stripe.params.SubscriptionCreateParams, key: str) -> stripe.Subscription:
        return self.call(lambda o: self.client.v1.subscriptions.create(params, o), key)

    def card_checkout(
        self, customer: str, success_url: str, cancel_url: str, metadata: Mapping[str, str], key: str
    ) -> tuple[str, str]:
        """A Checkout Session in setup mode, where the customer saves a card without paying; its id and URL."""
        session = self.call(
            lambda o: self.client.v1.checkout.sessions.create(
                {
                    "mode": "setup",
                    "customer": customer,
                    "currency": self.currency,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": dict(metadata),
                    "setup_intent_data": {"metadata": dict(metadata)},
                },
                o,
            ),
            key,
        )
        return session.id, str(session.url)

    def checkout_session(self, session_id: str) -> "CheckoutSession":
        """A Checkout Session as it is now, with the card its SetupIntent saved (if it completed in setup mode)."""
        session = self.call(
            lambda o: self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["setup_intent"]}, o)
        )
        intent = session.setup_intent
        card = intent.payment_method if isinstance(intent, stripe.SetupIntent) else None
        return CheckoutSession(
            id=session.id,
            mode=session.mode,
            status=session.status or "open",
            customer=session.customer if isinstance(session.customer, str) else None,
            metadata=dict(session.to_dict().get("metadata") or {}),
            url=session.url,
            payment_method=card if isinstance(card, str) else None,
        )

    def set_default_card(self, customer: str, payment_method: str) -> None:
        """Charge ``payment_method`` for the customer's invoices from now on (Checkout never sets it itself)."""
        self.call(
            lambda o: self.client.v1.customers.update(
                customer, {"invoice_settings": {"default_payment_method": payment_method}}, o
            ),
            f"apid-default-card-{customer}-{payment_method}",
        )

    def pack_price(self, api_id: str, plan: PricingPlan, fingerprint: str) -> str:
        """A one-time price of one of the prepaid plan's packs, on the plan's product; the same for one fingerprint."""
        if plan.prepaid is None:
            raise ValueError(f"plan {plan.name} sells no packs")
        plan_ref = f"{api_id}-{plan.name}"
        product = self.call(
            lambda o: self.client.v1.products.create(
                {"name": f"{api_id} ({plan.name})", "metadata": {"apid_api": api_id, "apid_plan": plan.name}}, o
            ),
            f"apid-product-{plan_ref}",
        ).id
        return self._price(
            f"apid-pack-price-{plan_ref}-{fingerprint}",
            {
                "product": product,
                "currency": self.currency,
                "unit_amount": cents(plan.prepaid.price),
                "nickname": f"{plan.prepaid.calls:,} calls",
            },
        )

    def pack_checkout(
        self,
        customer: str,
        price: str,
        packs: int,
        urls: tuple[str, str],
        metadata: Mapping[str, str],
        key: str,
    ) -> tuple[str, str]:
        """A Checkout Session in payment mode for ``packs`` packs, saving the card for auto-reload; its id and URL.

        ``urls`` are the success and cancel URLs. The metadata goes on the session
        and on its PaymentIntent, so either's event says what was bought and for whom.
        """
        success_url, cancel_url = urls
        session = self.call(
            lambda o: self.client.v1.checkout.sessions.create(
                {
                    "mode": "payment",
                    "customer": customer,
                    "line_items": [{"price": price, "quantity": packs}],
                    "payment_intent_data": {"setup_future_usage": "off_session", "metadata": dict(metadata)},
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": dict(metadata),
                },
                o,
            ),
            key,
        )
        return session.id, str(session.url)

    def paid_checkout(self, session_id: str) -> "PaidCheckout":
        """A payment-mode Checkout Session as it is now, with its PaymentIntent's payment and card."""
        session = self.call(
            lambda o: self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["payment_intent"]}, o)
        )
        intent = session.payment_intent
        paid = isinstance(intent, stripe.PaymentIntent) and intent.status == "succeeded"
        card = intent.payment_method if isinstance(intent, stripe.PaymentIntent) else None
        return PaidCheckout(
            id=session.id,
            paid=paid and session.status == "complete",
            payment_intent=intent.id if isinstance(intent, stripe.PaymentIntent) else intent,
            amount=int(session.amount_total or 0),
            currency=str(session.currency or self.currency),
            customer=session.customer if isinstance(session.customer, str) else None,
            payment_method=card if isinstance(card, str) else None,
            metadata=dict(session.to_dict().get("metadata") or {}),
        )

    def charge_saved_card(
        self, customer: str, payment_method: str, amount: int, metadata: Mapping[str, str], key: str
    ) -> str:
        """Charge a saved card off-session (the consumer is not there to confirm); the succeeded PaymentIntent's id.

        A decline, or a card that needs its holder (authentication), is
        :class:`PaymentDeclined`; ``key`` makes a repeated or concurrent charge one.
        """
        intent = self.call(
            lambda o: self.client.v1.payment_intents.create(
                {
                    "amount": amount,
                    "currency": self.currency,
                    "customer": customer,
                    "payment_method": payment_method,
                    "off_session": True,
                    "confirm": True,
                    "metadata": dict(metadata),
                },
                o,
            ),
            key,
        )
        if intent.status != "succeeded":
            raise PaymentDeclined(f"the payment is {intent.status.replace('_', ' ')}")
        return intent.id

    def change_plan(
        self, subscription: str, prices: PlanPrices, metadata: Mapping[str, str], key: str, *, end_trial: bool = False
    ) -> None:
        """Swap the subscription's items for the new plan's, prorating the monthly fee; ``end_trial`` ends a
        free trial now, so the new plan is charged from now (Stripe keeps a trial through a swap otherwise).

        Another plan's metered item stays: the hours made on that plan close in their grace window after the move
        and are reported to its meter, which bills them at its price (usage on no item of the subscription would
        not be billed). An item already on one of the new prices stays as it is; another price on the new plan's
        meter goes, or the meter's usage would be billed twice."""
        current = self.call(lambda o: self.client.v1.subscriptions.retrieve(subscription, {}, o))
        items: list[stripe.params.SubscriptionUpdateParamsItem] = []
        kept: set[str] = set()
        for item in current.to_dict()["items"]["data"]:
            price, recurring = item["price"], item["price"].get("recurring") or {}
            if price["id"] in prices.price_ids:
                kept.add(price["id"])
            elif recurring.get("usage_type") != "metered" or recurring.get("meter") == prices.meter:
                items.append({"id": item["id"], "deleted": True})
        items += [{"price": price} for price in prices.price_ids if price not in kept]
        params: stripe.params.SubscriptionUpdateParams = {
            "items": items,
            "metadata": dict(metadata),
            "proration_behavior": "create_prorations",
        }
        if end_trial:
            params["trial_end"] = "now"
        self.call(lambda o: self.client.v1.subscriptions.update(subscription, params, o), key)

    def cancel_at_period_end(self, subscription: str) -> None:
        """End the subscription when its period ends, so the usage still being reported is invoiced.

        The key is new per call: a subscription kept (:meth:`resume`) and ended again within Stripe's 24 hours
        would otherwise get the first answer replayed and run on."""
        self.call(
            lambda o: self.client.v1.subscriptions.update(subscription, {"cancel_at_period_end": True}, o),
            f"apid-cancel-{subscription}-{secrets.token_hex(4)}",
        )

    def resume(self, subscription: str) -> bool:
        """Keep a subscription set to end with its period, if it has not ended yet; whether it was kept.

        Its period is paid for already, so moving back onto it costs no second monthly fee."""
        current = self.call(lambda o: self.client.v1.subscriptions.retrieve(subscription, {}, o))
        if current["status"] in ("canceled", "incomplete_expired") or not current["cancel_at_period_end"]:
            return False
        self.keep(subscription)
        return True

    def keep(self, subscription: str) -> None:
        """Take back :meth:`cancel_at_period_end`."""
        self.call(
            lambda o: self.client.v1.subscriptions.update(subscription, {"cancel_at_period_end": False}, o),
            f"apid-keep-{subscription}-{secrets.token_hex(4)}",
        )

    def cancel_now(self, subscription: str) -> None:
        self.call(lambda o: self.client.v1.subscriptions.cancel(subscription, {}, o))

    def report_usage(self, event_name: str, customer: str, value: int, timestamp: int, identifier: str) -> None:
        """One meter event; a repeat of ``identifier`` Stripe already has counts as done."""
        try:
            self.call(
                lambda o: self.client.v1.billing.meter_events.create(
                    {
                        "event_name": event_name,
                        "identifier": identifier,
                        "timestamp": timestamp,
                        "payload": {"stripe_customer_id": customer, "value": str(value)},
                    },
                    o,
                ),
                identifier,
            )
        except stripe.InvalidRequestError as error:
            if error.param != "identifier":
                raise

    def invoice_payment_intent(self, invoice_id: str) -> str | None:
        """The payment intent that paid the invoice (API 2025-03-31.basil: under the invoice's ``payments``)."""
        invoice = self.call(lambda o: self.client.v1.invoices.retrieve(invoice_id, {"expand": ["payments"]}, o))
        for entry in (invoice.to_dict().get("payments") or {}).get("data", []):
            intent = (entry.get("payment") or {}).get("payment_intent")
            if entry.get("status") == "paid" and intent:
                return str(intent if isinstance(intent, str) else intent["id"])
        return None

    def charge_fee(self, payment_intent: str) -> ChargeFee | None:
        """The payment's charge and Stripe's real fee on it; ``None`` while it has no settled charge."""
        intent = self.call(
            lambda o: self.client.v1.payment_intents.retrieve(
                payment_intent, {"expand": ["latest_charge.balance_transaction"]}, o
            )
        ).to_dict()
        charge = intent.get("latest_charge")
        if not isinstance(charge, dict) or not isinstance(charge.get("balance_transaction"), dict):
            return None
        return ChargeFee(str(charge["id"]), int(charge["balance_transaction"]["fee"]))

    def refund(self, payment_intent: str, amount: int, key: str, metadata: Mapping[str, str]) -> RefundMade:
        """Give ``amount`` cents of the payment back; ``key`` must name this refund (the same key never refunds
        twice). More than is left is Stripe's ``InvalidRequestError``."""
        made = self.call(
            lambda o: self.client.v1.refunds.create(
                {
                    "payment_intent": payment_intent,
                    "amount": amount,
                    "reason": "requested_by_customer",
                    "metadata": dict(metadata),
                },
                o,
            ),
            key,
        )
        return RefundMade(made.id, int(made.amount), str(made.status))

    def charge_refunds(self, charge: str) -> list[RefundMade]:
        """The charge's refunds, newest first (a charge holds at most a few; Stripe lists up to 100 a page)."""
        found = self.call(lambda o: self.client.v1.refunds.list({"charge": charge, "limit": 100}, o))
        return [RefundMade(refund.id, int(refund.amount), str(refund.status)) for refund in found.data]

    def connected_account(self, creator: str, email: str | None) -> str:
        params: stripe.params.AccountCreateParams = {
            "type": "express",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"apid_creator": creator},
        }
        if email:
            params["email"] = email
        return self.call(lambda o: self.client.v1.accounts.create(params, o), f"apid-account-{creator}").id

    def onboarding_link(self, account: str, return_url: str, refresh_url: str) -> str:
        """A fresh single-use onboarding link (they expire in minutes, so never one from a cache)."""
        link = self.call(
            lambda o: self.client.v1.account_links.create(
                {
                    "account": account,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                },
                o,
            )
        )
        return str(link.url)

    def can_receive_transfers(self, account: str) -> bool:
        found = self.call(lambda o: self.client.v1.accounts.retrieve(account, {}, o))
        # A StripeObject is not a dict (it has no .get): read it as one.
        return bool((found.to_dict().get("capabilities") or {}).get("transfers") == "active")

    def existing_transfer(self, group: str) -> str | None:
        """The transfer already made for ``group``: the guard for a retry after idempotency keys expire."""
        found = self.call(lambda o: self.client.v1.transfers.list({"transfer_group": group, "limit": 1}, o))
        return str(found.data[0].id) if found.data else None

    def transfer(self, account: str, amount: int, group: str, key: str) -> str:
        return self.call(
            lambda o: self.client.v1.transfers.create(
                {
                    "amount": amount,
                    "currency": self.currency,
                    "destination": account,
                    "transfer_group": group,
                },
                o,
            ),
            key,
        ).id


def _subscription_params(
    customer: str, prices: PlanPrices, metadata: Mapping[str, str]
) -> stripe.params.SubscriptionCreateParams:
    return {
        "customer": customer,
        "items": [{"price": price} for price in prices.price_ids],
        "metadata": dict(metadata),
        "payment_behavior": "error_if_incomplete",
    }


def _retryable(error: stripe.StripeError) -> bool:
    """Rate limits, connection failures and 5xx; not a 4xx Stripe would answer the same way again."""
    if isinstance(error, stripe.RateLimitError | stripe.APIConnectionError):
        return True
    return (error.http_status or 500) >= 500


def gateway_for(settings: ControlPlaneSettings, keys: StripeKeys) -> StripeGateway:
    client = stripe.StripeClient(
        keys.api_key,
        base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )
    return StripeGateway(client, settings.currency)


@functools.cache
def stripe_keys(secret_arn: str, endpoint_url: str | None = None) -> StripeKeys | None:
    """The keys from Secrets Manager, read once per process (a Lambda container's life).

    ``None`` while the secret still holds the stack's placeholder (an empty ``api_key``):
    the operator has not connected Stripe yet, and the marketplace runs unbilled.
    """
    region = secret_arn.split(":")[3]
    value = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url).get_secret_value(
        SecretId=secret_arn
    )
    try:
        document = json.loads(value["SecretString"])
        if not document["api_key"]:
            return None
        return StripeKeys(api_key=document["api_key"], webhook_secret=document["webhook_secret"])
    except (KeyError, TypeError, ValueError):
        raise RuntimeError(f"secret {secret_arn} must be JSON with api_key and webhook_secret") from None
