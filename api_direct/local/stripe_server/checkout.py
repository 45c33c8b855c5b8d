"""Checkout Sessions: ``/v1/checkout/sessions``, a hosted page where a customer pays, saves a card or subscribes.

An integration creates a session and sends the customer to its ``url``; the fake
serves that page itself (:mod:`.checkout_page`, at ``<base_url>/c/pay/<id>``), and
:meth:`Checkout.complete_checkout` does what submitting it does, for tests and the
sandbox. Completing a session, as on Stripe:

- ``payment`` mode charges the card through a PaymentIntent (:mod:`.payment_intents`),
  made only then (``payment_intent`` is null while the session is open), carrying
  ``payment_intent_data[metadata]``; with ``payment_intent_data[setup_future_usage]``
  the card is attached to the customer for later off-session charges.
- ``setup`` mode attaches the card to the customer and records a succeeded
  SetupIntent carrying ``setup_intent_data[metadata]``.
- ``subscription`` mode attaches the card and starts the subscription through
  :mod:`.subscriptions` (with ``subscription_data[trial_period_days]`` and
  ``[metadata]``), the card as its ``default_payment_method``.

No mode sets the customer's ``invoice_settings.default_payment_method``; Stripe's
Checkout does not either, so an integration that charges a saved card later reads
it from the SetupIntent or PaymentIntent and sets it (``POST /v1/customers/{id}``).
A session without a customer gets a new one when it completes. A declined card
leaves the session open (and a payment-mode decline emits
``payment_intent.payment_failed``); success emits ``checkout.session.completed``.
A session past its ``expires_at`` expires when next looked at, emitting
``checkout.session.expired``, as does ``/expire``. Its ``url`` is null once it is
no longer open.

The fake invoices subscriptions in arrears only (see :mod:`.clock`), so a
subscription-mode session takes no first payment: its ``amount_total`` and
``payment_status`` say what Stripe would charge at once, but no charge is made.
"""

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api_direct.local.stripe_server import expansion, wire
from api_direct.local.stripe_server.cards import Card, declined, read_card
from api_direct.local.stripe_server.payment_intents import PaymentIntents
from api_direct.local.stripe_server.payment_methods import default_card
from api_direct.local.stripe_server.setup_intents import SetupIntents
from api_direct.local.stripe_server.subscriptions import Subscriptions
from api_direct.local.stripe_server.wire import StripeError

_MODES = ("payment", "setup", "subscription")
#: A session lives 24 hours unless ``expires_at`` says otherwise, which may be 30 minutes to 24 hours away.
SESSION_SECONDS = 24 * 3600
MIN_SESSION_SECONDS = 30 * 60
#: Stripe's bounds on ``subscription_data[trial_period_days]``.
MAX_TRIAL_DAYS = 730
#: The fields of a session ``expand[]`` may name (``line_items`` is included only when expanded).
_SESSION_EXPANDABLE = ("customer", "line_items", "payment_intent", "setup_intent", "subscription")
#: The placeholder Stripe replaces with the session's id in ``success_url``.
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
#: Each mode's own ``*_data`` parameter and the fields it takes here.
_MODE_DATA = {
    "payment": ("payment_intent_data", ("setup_future_usage", "metadata", "description")),
    "setup": ("setup_intent_data", ("metadata", "description")),
    "subscription": ("subscription_data", ("trial_period_days", "metadata", "description")),
}


class Checkout(Subscriptions, PaymentIntents, SetupIntents):
    """Checkout Sessions and what completing one makes."""

    def checkout_sessions(self) -> list[dict[str, Any]]:
        """Checkout Sessions created, oldest first, in their current state."""
        return self._all("checkout.session")

    def complete_checkout(self, session_id: str, card: str = "4242424242424242") -> dict[str, Any]:
        """Do what a customer paying on the session's page with ``card`` does; return the completed session.

        Events are delivered before returning. A declined or invalid card raises
        Stripe's card error (:class:`.wire.StripeError` with Stripe's message and
        ``decline_code``) and leaves the session open; a session no longer open
        raises a ``StripeError`` too, with the page's message.
        """
        session, error = self._attempt_checkout(session_id, card)
        if error is not None:
            raise error
        return session

    def _attempt_checkout(
        self, session_id: str, number: str, expiry: tuple[int, int] | None = None
    ) -> tuple[dict[str, Any], StripeError | None]:
        """Complete a session with a card typed as ``number`` and ``(month, year)``, delivering its events.

        Returns the session as it is now and Stripe's refusal, if any.
        """
        failure: StripeError | None = None
        with self._lock:
            session = self._current(self._get("checkout.session", session_id))
            try:
                self._complete(session, default_card(number) if expiry is None else read_card(number, *expiry))
            except StripeError as error:
                failure = error
            events = self._take_outbox()
            now = wire.copy_json(session)
        self._deliver_emitted(events)
        return now, failure

    def _page_view(self, session_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], int | None] | None:
        """What the hosted page shows of a session: it, its line items and its trial days; None if unknown."""
        with self._lock:
            session = self._objects.get("checkout.session", {}).get(session_id)
            if session is None:
                return None
            self._current(session)
            terms = self._checkout_terms[session_id]
            trial_days = wire.integer(terms["data"], "trial_period_days")
            shown = wire.copy_json((session, terms["line_items"], trial_days))
            events = self._take_outbox()
        self._deliver_emitted(events)
        return shown[0], shown[1], shown[2]

    def _current(self, session: dict[str, Any]) -> dict[str, Any]:
        """The session, expired first if its time is up; called with the lock held."""
        if session["status"] == "open" and time.time() >= session["expires_at"]:
            self._expire(session)
        return session

    def _expire(self, session: dict[str, Any]) -> None:
        session.update(status="expired", url=None)
        self._emit("checkout.session.expired", session)

    def _create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        wire.allow(
            params,
            *("mode", "customer", "customer_email", "success_url", "cancel_url", "line_items", "metadata"),
            *("client_reference_id", "currency", "expires_at", "payment_method_types", "expand"),
            *(name for name, _ in _MODE_DATA.values()),
        )
        mode = wire.one_of(params, "mode", _MODES)
        customer = self._find("customer", params["customer"], param="customer")["id"] if "customer" in params else None
        if customer is not None and "customer_email" in params:
            raise StripeError(
                400, "You may only specify one of these parameters: customer, customer_email.", param="customer_email"
            )
        success_url = wire.required(params, "success_url")
        if params.get("payment_method_types", ["card"]) != ["card"]:
            raise StripeError(400, "The fake accepts only card payments.", param="payment_method_types")
        data = self._mode_data(params, mode)
        items = self._session_items(params, mode)
        currency = items[0]["currency"] if items else params.get("currency")
        if mode == "setup" and currency is None and "payment_method_types" not in params:
            raise StripeError(400, "Missing required param: currency.", code="parameter_missing", param="currency")
        expand = expansion.paths(params, *_SESSION_EXPANDABLE)
        session = wire.new_object("cs_test", "checkout.session")
        expires_at = wire.integer(params, "expires_at", default=session["created"] + SESSION_SECONDS)
        if not MIN_SESSION_SECONDS <= expires_at - session["created"] <= SESSION_SECONDS:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                param="expires_at",
            )
        total = self._due_now(items, data) if mode != "setup" else None
        session.update(
            amount_subtotal=total,
            amount_total=total,
            cancel_url=params.get("cancel_url"),
            client_reference_id=params.get("client_reference_id"),
            currency=None if currency is None else currency.lower(),
            customer=customer,
            customer_details=None,
            customer_email=params.get("customer_email"),
            expires_at=expires_at,
            invoice=None,
            locale=None,
            metadata=wire.metadata(params),
            mode=mode,
            payment_intent=None,
            payment_link=None,
            payment_method_types=["card"],
            payment_status="no_payment_required" if mode == "setup" else "unpaid",
            setup_intent=None,
            status="open",
            submit_type=None,
            subscription=None,
            success_url=success_url,
            total_details=None if mode == "setup" else {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            ui_mode="hosted",
            url=f"{self.base_url}/c/pay/{session['id']}",
        )
        self._store(session)
        self._checkout_terms[session["id"]] = {"line_items": items, "data": data}
        return self._session_view(session, expand)

    def _mode_data(self, params: dict[str, Any], mode: str) -> dict[str, Any]:
        """The checked ``*_data`` parameter of ``mode``; another mode's is refused, as on Stripe."""
        for other, (name, _) in _MODE_DATA.items():
            if other != mode and name in params:
                raise StripeError(400, f"You can only specify `{name}` in `{other}` mode.", param=name)
        name, fields = _MODE_DATA[mode]
        data = wire.nested(params.get(name, {}), name)
        wire.allow(data, *fields, prefix=name)
        if "setup_future_usage" in data:
            wire.one_of(data, "setup_future_usage", ("off_session", "on_session"), prefix=name)
        trial_days = wire.integer(data, "trial_period_days", prefix=name)
        if trial_days is not None and not 1 <= trial_days <= MAX_TRIAL_DAYS:
            raise StripeError(
                400,
                f"The trial period must be between 1 and {MAX_TRIAL_DAYS} days.",
                param=f"{name}[trial_period_days]",
            )
        return {**data, "metadata": dict(wire.nested(data.get("metadata", {}), f"{name}[metadata]"))}

    def _session_items(self, params: dict[str, Any], mode: str) -> list[dict[str, Any]]:
        """The session's line items in Stripe's ``item`` shape; one-time prices in payment mode, recurring else."""
        if mode == "setup":
            if "line_items" in params:
                raise StripeError(400, "You cannot pass `line_items` in `setup` mode.", param="line_items")
            return []
        items = []
        for index, raw in enumerate(wire.array(params, "line_items")):
            prefix = f"line_items[{index}]"
            entry = wire.nested(raw, prefix)
            wire.allow(entry, "price", "quantity", prefix=prefix)
            price = self._find("price", wire.required(entry, "price", prefix=prefix), param=f"{prefix}[price]")
            recurring = price["recurring"]
            if mode == "payment" and recurring is not None:
                raise StripeError(
                    400,
                    "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                    "mode or use only one-time prices.",
                    param=f"{prefix}[price]",
                )
            if mode == "subscription" and recurring is None:
                raise StripeError(
                    400, "The fake's subscription-mode sessions take recurring prices only.", param=f"{prefix}[price]"
                )
            metered = recurring is not None and recurring["usage_type"] == "metered"
            if metered and "quantity" in entry:
                raise StripeError(400, "Quantity is not allowed for metered prices.", param=f"{prefix}[quantity]")
            quantity = None if metered else wire.integer(entry, "quantity", prefix=prefix, default=1)
            if quantity is not None and quantity < 1:
                raise StripeError(400, "This value must be greater than or equal to 1.", param=f"{prefix}[quantity]")
            amount = (
                0
                if quantity is None
                else int(self._amount_for(price, quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            )
            items.append(
                {
                    "id": wire.new_id("li"),
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": amount,
                    "amount_tax": 0,
                    "amount_total": amount,
                    "currency": price["currency"],
                    "description": self._objects["product"][price["product"]]["name"],
                    "price": price,
                    "quantity": quantity,
                }
            )
        if len({item["currency"] for item in items}) > 1:
            raise StripeError(400, "All line items must use the same currency.", param="line_items")
        return items

    @staticmethod
    def _due_now(items: list[dict[str, Any]], data: dict[str, Any]) -> int:
        """What completing the session charges at once: nothing during a trial, metered usage never."""
        return 0 if "trial_period_days" in data else sum(item["amount_total"] for item in items)

    def _session_view(self, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        """The session as a response shows it; ``line_items`` appear only when expanded, as on Stripe."""
        shown = session
        if "line_items" in expand:
            items = self._checkout_terms[session["id"]]["line_items"]
            shown = {
                **session,
                "line_items": {
                    "object": "list",
                    "data": items,
                    "has_more": False,
                    "url": f"/v1/checkout/sessions/{session['id']}/line_items",
                },
            }
        return expansion.expand(shown, [path for path in expand if path != "line_items"], self._by_id)

    def _get_checkout_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        wire.allow(params, "expand")
        expand = expansion.paths(params)
        return self._session_view(self._current(self._find("checkout.session", session_id)), expand)

    def _expire_checkout_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        """Expire an open session, so its page no longer takes a card; any other status is refused."""
        wire.allow(params, "expand")
        expand = expansion.paths(params, *_SESSION_EXPANDABLE)
        session = self._current(self._find("checkout.session", session_id))
        if session["status"] != "open":
            raise StripeError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a '
                f'status of "{session["status"]}".',
            )
        self._expire(session)
        return self._session_view(session, expand)

    def _complete(self, session: dict[str, Any], card: Card) -> None:
        """Take ``card`` for an open session, as submitting its page does; called with the lock held."""
        if session["status"] != "open":
            raise StripeError(400, _CLOSED_MESSAGE)
        terms = self._checkout_terms[session["id"]]
        data = terms["data"]
        if session["mode"] == "payment":
            self._complete_payment(session, card, data)
        else:
            decline = card.setup_decline
            if session["mode"] == "subscription" and session["amount_total"]:
                decline = decline or card.charge_decline
            if decline is not None:
                raise declined(decline)
            customer = self._session_customer(session)
            method = self._new_card_method(card, customer)
            if session["mode"] == "setup":
                session["setup_intent"] = self._succeeded_setup(customer, method["id"], data["metadata"])["id"]
            else:
                session["subscription"] = self._start_subscription(customer, terms["line_items"], data, method)
        paid = session["mode"] != "setup" and session["amount_total"] > 0
        session.update(status="complete", payment_status="paid" if paid else "no_payment_required", url=None)
        buyer = self._objects["customer"][session["customer"]]
        session["customer_details"] = {
            "address": None,
            "email": buyer["email"],
            "name": buyer["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        self._emit("checkout.session.completed", session)

    def _complete_payment(self, session: dict[str, Any], card: Card, data: dict[str, Any]) -> None:
        """Charge the session's total through its PaymentIntent, made on the first attempt and reused after a decline."""
        customer = self._session_customer(session)
        intent = self._objects.get("payment_intent", {}).get(session["payment_intent"] or "")
        if intent is None:
            intent = self._new_intent(
                session["amount_total"],
                session["currency"],
                customer,
                data.get("description"),
                dict(data["metadata"]),
                data.get("setup_future_usage"),
            )
            session["payment_intent"] = intent["id"]
        self._pay(intent, self._new_card_method(card, None))

    def _session_customer(self, session: dict[str, Any]) -> str:
        """The session's customer, made now (from ``customer_email``) if it was created without one."""
        if session["customer"] is None:
            session["customer"] = self._create_customer(
                {"email": session["customer_email"]} if session["customer_email"] else {}
            )["id"]
        return str(session["customer"])

    def _start_subscription(
        self, customer: str, items: list[dict[str, Any]], data: dict[str, Any], method: dict[str, Any]
    ) -> str:
        """Subscribe through ``POST /v1/subscriptions``' own code, the card as the subscription's default."""
        params: dict[str, Any] = {
            "customer": customer,
            "items": [
                {"price": item["price"]["id"]}
                | ({} if item["quantity"] is None else {"quantity": str(item["quantity"])})
                for item in items
            ],
            "metadata": data["metadata"],
            "default_payment_method": method["id"],
        }
        if "trial_period_days" in data:
            params["trial_period_days"] = data["trial_period_days"]
        return str(self._create_subscription(params)["id"])


_CLOSED_MESSAGE = "This Checkout Session is no longer active."
