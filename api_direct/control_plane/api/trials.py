"""Trials: a plan's ``trial_days`` free, with a card saved up front through Stripe Checkout.

A plan with ``trial_days`` needs a card before anything else, so the consumer is
charged from the trial's end unless they cancel first:

1. ``POST /subscriptions/checkout {api_id, plan}`` (:mod:`.trial_checkout`) makes a Checkout Session in setup
   mode (metadata ``apid_purpose=trial`` and whose it is) and answers its ``url``; its
   success page is the API's ``/subscribed?session_id=...`` page, which subscribes.
2. ``POST /subscriptions {api_id, plan, checkout_session}`` checks that the session is
   complete, the consumer's own and made for this plan (:func:`card_for`), makes the
   card the customer's default and subscribes in Stripe with the trial.

One trial per consumer and API: the subscribe transaction puts
``pk=CONSUMER#<sub>``, ``sk=TRIAL#<api_id>`` (:func:`trial_record`) on condition that
it does not exist, so a later subscription to the API's trial plan, or two at once,
starts paid at once (still with a card). The subscription item carries ``trial_end``
while its trial lasts; usage before then is never reported to Stripe
(:func:`~api_direct.control_plane.billing.trials.in_trial`).

Without billing (no Stripe configured) a trial plan is subscribed to like any other:
nothing is ever charged, so no card is asked for.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import stripe

from api_direct.control_plane.api.accounts import Matches, timestamp
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.api.store import PK, SK, consumer_pk
from api_direct.control_plane.billing.subscription_billing import PURPOSE, TRIAL_PURPOSE
from api_direct.project import PricingPlan

TRIAL_PREFIX = "TRIAL#"
CHECKOUT_PATH = "/subscriptions/checkout"
#: Stripe's Checkout Session ids: ``cs_test_...`` or ``cs_live_...``.
CHECKOUT_SESSION_PATTERN = r"^cs_[A-Za-z0-9_]{1,250}$"

CheckoutSessionId = Annotated[str, Matches(CHECKOUT_SESSION_PATTERN, "a Checkout Session id such as cs_test_a1B2")]


@dataclass(frozen=True)
class Card:
    """The card a subscription to a trial plan is charged to, and the trial it gets (``None``: had one already)."""

    payment_method: str
    trial_days: int | None


def needs_card(services: Services, plan_item: Mapping[str, Any]) -> bool:
    """Whether subscribing to the plan takes a card saved through Checkout first."""
    return services.billing is not None and PricingPlan.of(plan_item).trial_days is not None


def card_for(
    services: Services, consumer: str, api_id: str, plan_item: Mapping[str, Any], session_id: str | None
) -> Card:
    """The card the consumer saved for this plan through ``session_id``, and whether they get the trial.

    402 without a session or with one not completed (the detail says how to get
    one, and ``checkout`` names the route); 403 for another consumer's session; 422
    for an unknown one or one made for another API or plan.
    """
    billing = services.billing
    assert billing is not None  # needs_card said so
    plan, trial_days = PricingPlan.of(plan_item).name, PricingPlan.of(plan_item).trial_days
    if session_id is None:
        raise _card_required(api_id, plan, trial_days, "add a card")
    try:
        session = billing.gateway.checkout_session(session_id)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
        raise Problem(422, f"no Checkout Session {session_id}; start one with POST {CHECKOUT_PATH}") from None
    metadata = session.metadata
    if metadata.get("apid_consumer") != consumer or session.customer != billing.customer_of(consumer):
        raise Problem(403, f"Checkout Session {session_id} is not yours; start your own with POST {CHECKOUT_PATH}")
    if metadata.get(PURPOSE) != TRIAL_PURPOSE or (metadata.get("apid_api"), metadata.get("apid_plan")) != (
        api_id,
        plan,
    ):
        raise Problem(
            422,
            f"Checkout Session {session_id} was made for plan {metadata.get('apid_plan')} of "
            f"{metadata.get('apid_api')}, not {plan} of {api_id}; start one for this plan with POST {CHECKOUT_PATH}",
        )
    if session.status != "complete" or session.payment_method is None:
        if session.status == "open" and session.url:
            raise Problem(402, f"the card is not saved yet: complete the checkout at {session.url}, then subscribe")
        raise _card_required(api_id, plan, trial_days, f"Checkout Session {session_id} is {session.status}: add a card")
    return Card(session.payment_method, None if had_trial(services, consumer, api_id) else trial_days)


def _card_required(api_id: str, plan: str, trial_days: int | None, what: str) -> Problem:
    return Problem(
        402,
        f"plan {plan} of {api_id} ({trial_days}-day free trial) needs a card up front; {what} through Stripe "
        f"Checkout: POST {CHECKOUT_PATH} with this api_id and plan answers its url, then subscribe again with "
        "its session_id as checkout_session",
        checkout=CHECKOUT_PATH,
    )


def had_trial(services: Services, consumer: str, api_id: str) -> bool:
    key = trial_key(consumer, api_id)
    return services.store.get(key[PK], key[SK]) is not None


def trial_key(consumer: str, api_id: str) -> dict[str, str]:
    return {PK: consumer_pk(consumer), SK: f"{TRIAL_PREFIX}{api_id}"}


def trial_record(consumer: str, api_id: str, plan: str, trial_end: str) -> dict[str, Any]:
    """The transaction's put of the consumer's one trial of the API; fails (conflict) if they had one."""
    return {
        "Put": {
            "Item": {**trial_key(consumer, api_id), "plan": plan, "trial_end": trial_end, "started_at": timestamp()},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def trial_end_text(epoch: int) -> str:
    """A Stripe trial end (Unix seconds) as the table writes times."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
