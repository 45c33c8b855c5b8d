"""Card numbers as Stripe's test mode reads them: brand, last four digits, and whether the card declines.

Stripe's test mode decides a payment's outcome from the card number alone
(``4242424242424242`` pays, ``4000000000000002`` is declined, and so on); the fake
keeps the same table, so a test or a browser on the fake's Checkout page picks an
outcome the way it would against Stripe's test mode. Any other number that passes
the Luhn check pays; one that fails it is refused as Stripe refuses it.
"""

import hashlib
import re
from dataclasses import dataclass

from api_direct.local.stripe_server.wire import StripeError

#: Stripe's message for each decline code this slice can produce.
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


@dataclass(frozen=True)
class Card:
    """What the fake keeps of a card: never the number, only what Stripe shows and how it behaves.

    ``setup_decline`` refuses the card when it is saved (a setup-mode Checkout) as
    well as when charged; ``charge_decline`` only when charged: Stripe's
    ``4000000000000341`` attaches to a customer and fails every later charge, the
    card that tests a failed off-session payment.
    """

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    setup_decline: str | None
    charge_decline: str | None


#: Stripe's test cards whose outcome is not "pays": (declined when saved, declined when charged).
_DECLINING = {
    "4000000000000002": ("generic_decline", "generic_decline"),
    "4000000000009995": ("insufficient_funds", "insufficient_funds"),
    "4000000000000341": (None, "generic_decline"),
}
_BRANDS = (
    (re.compile(r"3[47]"), "amex"),
    (re.compile(r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)"), "mastercard"),
    (re.compile(r"6(011|5)"), "discover"),
    (re.compile(r"4"), "visa"),
)


def read_card(number: str, exp_month: int, exp_year: int) -> Card:
    """The card behind ``number`` (spaces allowed), or Stripe's ``incorrect_number`` error."""
    digits = number.replace(" ", "")
    if not re.fullmatch(r"\d{13,19}", digits) or not _luhn(digits):
        raise StripeError(402, "Your card number is incorrect.", error_type="card_error", code="incorrect_number")
    setup_decline, charge_decline = _DECLINING.get(digits, (None, None))
    brand = next((name for pattern, name in _BRANDS if pattern.match(digits)), "unknown")
    # The same number always has the same fingerprint, as on Stripe: how a card used twice is recognised.
    fingerprint = hashlib.sha256(digits.encode()).hexdigest()[:16]
    return Card(brand, digits[-4:], exp_month, exp_year, fingerprint, setup_decline, charge_decline)


def declined(decline_code: str) -> StripeError:
    """Stripe's ``card_error`` (402, ``card_declined``) for a decline code; callers attach the objects involved."""
    return StripeError(
        402, DECLINE_MESSAGES[decline_code], error_type="card_error", code="card_declined", decline_code=decline_code
    )


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
