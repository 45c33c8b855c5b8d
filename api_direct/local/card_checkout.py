"""Subscribing to a plan with a free trial on one machine, where nobody opens Stripe's Checkout page.

A trial needs a card saved up front through Stripe Checkout
(:mod:`~api_direct.control_plane.api.trials`). A consumer in a browser opens the
page; ``apid sandbox`` and tests play that part on the Stripe fake instead, so the
control plane sees exactly the calls a browser's visit makes.
"""

from api_direct.client.control_plane import ControlPlane, IssuedKey
from api_direct.local.stripe_server import StripeFake

#: Stripe's test card that always works.
WORKING_CARD = "4242424242424242"


def subscribe_with_card(
    consumer: ControlPlane, stripe: StripeFake, api_id: str, plan: str, card: str = WORKING_CARD
) -> IssuedKey:
    """Subscribe ``consumer`` to ``plan``, saving ``card`` on the Checkout page first; the key, shown once.

    The three steps a browser's visit makes: ``POST /subscriptions/checkout`` (the
    session), the card typed on its page (``complete_checkout``, which also delivers
    ``checkout.session.completed``), then ``POST /subscriptions`` with the session. A
    declining card raises Stripe's card error from the fake, with nothing subscribed.
    """
    session = consumer.card_checkout(api_id, plan)
    stripe.complete_checkout(session["session_id"], card)
    return consumer.subscribe(api_id, plan, checkout_session=session["session_id"])
