"""Amounts of money as people type them (``5``, ``5.00``, ``0.5``): one reading for the CLI and the pages.

``apid refund --amount`` and the creator portal's refund form take an amount in the
currency's units and send cents; both refuse the same things in the same words.
"""

from decimal import Decimal, InvalidOperation


def amount_cents(text: str) -> int | None:
    """The cents ``text`` names: a positive amount with at most two decimals; ``None`` for anything else."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


def amount_refused(text: str) -> str:
    """The one sentence that refuses ``text`` as an amount."""
    return f"the amount must be positive with at most two decimals, such as 5.00, not {text!r}"
