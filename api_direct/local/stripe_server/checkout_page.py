"""The hosted Checkout page a session's ``url`` points at, served by the fake at ``/c/pay/<session id>``.

A browser test (or a person trying ``apid sandbox``) follows an integration's
redirect here as it would to ``checkout.stripe.com``: a plain HTML form, no
JavaScript, whose fields carry the ids Stripe's own page gives them
(``cardNumber``, ``cardExpiry``, ``cardCvc``, the ``submit`` button) and visible
labels ("Card number"), so a test drives it by label or id. Submitting it does what
:meth:`.checkout.Checkout.complete_checkout` does, then answers 303 to the
session's ``success_url`` (``{CHECKOUT_SESSION_ID}`` replaced by its id). A declined
or mistyped card shows Stripe's message in an ``alert`` and leaves the session
open; a session no longer open shows so (410). The expiry date is optional (a
card without one is valid for years) and the security code is not checked.
"""

import datetime
import html
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from api_direct.local.stripe_server.checkout import SESSION_ID_PLACEHOLDER, Checkout
from api_direct.local.stripe_server.wire import StripeError

PAGE_PREFIX = "/c/pay/"
_EXPIRY = re.compile(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})")
_HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def answer(fake: Checkout, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Serve ``GET`` (the form) or ``POST`` (a card typed into it) for the session named in ``path``."""
    session_id = path.removeprefix(PAGE_PREFIX).strip("/")
    shown = fake._page_view(session_id)
    if shown is None:
        return 404, _HTML, _page("Not found", "<p>This Checkout Session does not exist.</p>")
    session, items, trial_days = shown
    if session["status"] != "open":
        return 410, _HTML, _page("Checkout", "<p>This Checkout Session is no longer active.</p>")
    if method != "POST":
        return 200, _HTML, _form(session, items, trial_days, error=None)
    form = parse_qs(body.decode("utf-8", "replace"))
    number = form.get("cardNumber", [""])[0]
    try:
        expiry = _expiry(form.get("cardExpiry", [""])[0].strip())
    except StripeError as error:
        return 200, _HTML, _form(session, items, trial_days, error=str(error))
    session, refusal = fake._attempt_checkout(session_id, number, expiry)
    if refusal is not None:
        return 200, _HTML, _form(session, items, trial_days, error=str(refusal))
    location = session["success_url"].replace(SESSION_ID_PLACEHOLDER, session["id"])
    return 303, {**_HTML, "Location": location}, _page("Redirecting", f'<a href="{html.escape(location)}">Continue</a>')


def _expiry(typed: str) -> tuple[int, int] | None:
    """``(month, year)`` from ``MM / YY``, None when left empty; Stripe's messages for a bad one."""
    if not typed:
        return None
    match = _EXPIRY.fullmatch(typed)
    if match is None or not 1 <= int(match[1]) <= 12:
        raise StripeError(402, "Your card's expiration date is incomplete.", error_type="card_error")
    month, year = int(match[1]), int(match[2]) + (2000 if len(match[2]) == 2 else 0)
    today = datetime.datetime.now(datetime.UTC).date()
    if (year, month) < (today.year, today.month):
        raise StripeError(402, "Your card's expiration date is in the past.", error_type="card_error")
    return month, year


def _form(session: dict[str, Any], items: list[dict[str, Any]], trial_days: int | None, error: str | None) -> bytes:
    mode = session["mode"]
    button = {"payment": "Pay", "setup": "Save card"}.get(mode, "Subscribe" if trial_days is None else "Start trial")
    rows = "".join(f"<li>{_item(item)}</li>" for item in items)
    summary = f'<ul id="line-items">{rows}</ul>' if rows else ""
    if trial_days is not None:
        summary += f'<p id="trial">{trial_days} days free</p>'
    if mode != "setup":
        summary += f'<p id="amount">Total due today: {_money(session["amount_total"], session["currency"])}</p>'
    else:
        summary += '<p id="amount">Save a card for future payments. Nothing is charged now.</p>'
    alert = f'<p id="card-errors" role="alert">{html.escape(error)}</p>' if error else ""
    cancel = (
        f'<p><a id="cancel" href="{html.escape(session["cancel_url"])}">Back</a></p>' if session["cancel_url"] else ""
    )
    body = f"""{summary}
<form method="post" action="{PAGE_PREFIX}{html.escape(session["id"])}">
<p><label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" type="text" inputmode="numeric" autocomplete="cc-number" required></p>
<p><label for="cardExpiry">Expiration date (MM / YY)</label>
<input id="cardExpiry" name="cardExpiry" type="text" inputmode="numeric" autocomplete="cc-exp"></p>
<p><label for="cardCvc">Security code (CVC)</label>
<input id="cardCvc" name="cardCvc" type="text" inputmode="numeric" autocomplete="cc-csc"></p>
{alert}<p><button id="submit" type="submit">{button}</button></p>
</form>
{cancel}"""
    return _page("Checkout", body)


def _item(item: dict[str, Any]) -> str:
    quantity = "" if item["quantity"] in (None, 1) else f" × {item['quantity']}"
    return f"{html.escape(item['description'])}{quantity}: {_money(item['amount_total'], item['currency'])}"


def _money(amount: int, currency: str) -> str:
    value = Decimal(amount) / 100
    return f"${value:,.2f}" if currency == "usd" else f"{value:,.2f} {currency.upper()}"


def _page(title: str, body: str) -> bytes:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title></head>
<body><main>
<h1>{html.escape(title)}</h1>
{body}
</main></body>
</html>
""".encode()
