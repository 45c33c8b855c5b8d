"""What a publish changed: the listing's versions (its changelog), and price changes given with notice.

Each publish that changes the listing (or carries a creator's ``note``) stores a
version, ``pk=API#<api_id>``, ``sk=VERSION#<number, 6 digits>``: its number, time,
note, and what changed (plans added, removed, deprecated or made private, prices
with when they apply, title and description). ``GET /listings/{api_id}/changelog``
and the API's page show them, newest first.

A price change (monthly fee, price per 1,000 units, free units, prepaid pack) of a
plan that has subscribers is not applied to them at once: new subscribers pay the
new price straight away, and each existing subscription moves to it from its first
billing period starting at least ``price_notice_days`` after the publish. The
publish only records the change in the schedule (``pk=SCHEDULE``, ``sk=<due>#<kind>#...``,
see :mod:`~api_direct.control_plane.billing.listing_schedule`), which the
scheduled sweep works through: it tells each subscriber (email and webhook), marks
their subscription with the price they keep until then, and moves their Stripe
subscription at its period boundary. A free plan that has subscribers cannot become
paid (they gave no card for it): that publish is refused.

This module reads the table directly and imports no other route module, so the
listings module can use it.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.store import PK, SK, Store, api_pk
from api_direct.project import CreditPack, PricingPlan

VERSION_PREFIX = "VERSION#"
SCHEDULE_PK = "SCHEDULE"
#: Kinds of scheduled work (the sort key's second part).
REPRICE, MOVE, RETIRE_NOTICE, RETIRE, UNROUTE = "reprice", "move", "retire-notice", "retire", "unroute"
#: What a price change compares: the terms a consumer is billed by.
PRICE_TERMS = ("monthly_fee", "price_per_1000", "free_calls", "prepaid")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def time_text(moment: datetime) -> str:
    """As :func:`~.accounts.timestamp` writes times, so they sort with the table's."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def price_terms(plan: PricingPlan) -> dict[str, Any]:
    """The plan's price terms as the table keeps them (strings for money, so they compare exactly)."""
    return {
        "monthly_fee": str(plan.monthly_fee),
        "price_per_1000": str(plan.price_per_1000),
        "free_calls": plan.free_calls,
        "prepaid": plan.prepaid.model_dump(mode="json") if plan.prepaid else None,
    }


def plain_terms(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Terms as read back from the table (its numbers are Decimals) in :func:`price_terms`' JSON-ready form."""
    pack = stored.get("prepaid")
    return {
        "monthly_fee": str(stored["monthly_fee"]),
        "price_per_1000": str(stored["price_per_1000"]),
        "free_calls": int(stored["free_calls"]),
        "prepaid": CreditPack.model_validate(pack).model_dump(mode="json") if pack else None,
    }


def billed_plan(plan: PricingPlan, subscription: Mapping[str, Any]) -> PricingPlan:
    """The plan as the subscription pays for it: at its old price terms until a scheduled change reaches it."""
    change = subscription.get("price_change")
    if not change or change.get("plan") != plan.name:
        return plan
    old = plain_terms(change["old"])
    return plan.model_copy(
        update={
            "monthly_fee": Decimal(old["monthly_fee"]),
            "price_per_1000": Decimal(old["price_per_1000"]),
            "free_calls": old["free_calls"],
            "prepaid": CreditPack.model_validate(old["prepaid"]) if old["prepaid"] else None,
        }
    )


def terms_text(terms: Mapping[str, Any]) -> str:
    """``9.90 a month + 0.0125 per 1,000 units (1,000 free)``, or ``packs of 10,000 units for 8.00``."""
    if terms.get("prepaid"):
        pack = CreditPack.model_validate(terms["prepaid"])
        return f"packs of {pack.calls:,} units for {_amount(pack.price)}"
    parts = []
    if Decimal(terms["monthly_fee"]) > 0:
        parts.append(f"{_amount(terms['monthly_fee'])} a month")
    if Decimal(terms["price_per_1000"]) > 0:
        free = f" ({int(terms['free_calls']):,} free)" if int(terms["free_calls"]) else ""
        parts.append(f"{_amount(terms['price_per_1000'])} per 1,000 units{free}")
    return " + ".join(parts) or "free"


def _amount(value: Any) -> str:
    text = f"{Decimal(str(value)):.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def refuse_unbillable(plan_items: Iterable[Mapping[str, Any]], plans: Sequence[PricingPlan]) -> None:
    """409 for a publish making a free plan that has subscribers paid: they never gave a card for it."""
    new = {plan.name: plan for plan in plans}
    for item in plan_items:
        plan = new.get(item["name"])
        if plan is not None and plan.is_paid and not PricingPlan.of(item).is_paid and item.get("subscribers", 0) > 0:
            raise Problem(
                409,
                f"plans: {plan.name} is free and has subscribers, who gave no card for it; keep it free and add"
                " a paid plan instead",
            )


def record_publish(
    store: Store,
    api_id: str,
    existing: Mapping[str, Any] | None,
    plan_items: Sequence[Mapping[str, Any]],
    published: Mapping[str, Any],
    plans: Sequence[PricingPlan],
    note: str | None,
    notice_days: int,
) -> dict[str, Any] | None:
    """After a publish: schedule its price changes and store its version; the version (``None``: no change).

    ``existing`` and ``plan_items`` are the listing and its plans before the publish,
    ``published`` what the publish set (name, description...).
    """
    now = datetime.now(UTC)
    changes = _listing_changes(existing, published) + _plan_changes(store, api_id, plan_items, plans, now, notice_days)
    if not changes and not note:
        return None
    return add_version(store, api_id, changes, note, now)


def add_version(
    store: Store, api_id: str, changes: list[dict[str, Any]], note: str | None, now: datetime
) -> dict[str, Any]:
    """The next version of the listing; a version written meanwhile by another request makes this one the next."""
    latest = next(iter(store.query(api_pk(api_id), VERSION_PREFIX, newest_first=True)), None)
    number = int(latest["number"]) + 1 if latest else 1
    while True:
        item = {
            PK: api_pk(api_id),
            SK: f"{VERSION_PREFIX}{number:06d}",
            "number": number,
            "at": time_text(now),
            "changes": changes,
            "note": note,
        }
        try:
            store.put_new(item, conflict="")
        except Problem:
            number += 1
            continue
        return item


def versions(store: Store, api_id: str) -> list[dict[str, Any]]:
    """The listing's versions, newest first."""
    return list(store.query(api_pk(api_id), VERSION_PREFIX, newest_first=True))


def schedule(store: Store, due: str, kind: str, api_id: str, ref: str, **attributes: Any) -> None:
    """Put work for the sweep, due at ``due`` (the same work scheduled twice is one item)."""
    store.put({PK: SCHEDULE_PK, SK: f"{due}#{kind}#{api_id}#{ref}", "kind": kind, "api_id": api_id, **attributes})


def due_work(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Every scheduled item due by ``now``, oldest first."""
    return list(store.query_between(SCHEDULE_PK, "0", f"{time_text(now)}#~"))


def _listing_changes(existing: Mapping[str, Any] | None, published: Mapping[str, Any]) -> list[dict[str, Any]]:
    if existing is None:
        return [{"type": "published", "text": "published"}]
    changes = [
        {"type": f"{field}_changed", "text": f"{label} changed"}
        for field, label in (("name", "title"), ("description", "description"))
        if existing.get(field) != published.get(field)
    ]
    if existing.get("retiring_at"):
        changes.append(
            {"type": "relisted", "text": f"listed again: no longer retiring on {existing['retiring_at'][:10]}"}
        )
    return changes


def _plan_changes(
    store: Store,
    api_id: str,
    plan_items: Sequence[Mapping[str, Any]],
    plans: Sequence[PricingPlan],
    now: datetime,
    notice_days: int,
) -> list[dict[str, Any]]:
    before = {item["name"]: item for item in plan_items}
    changes: list[dict[str, Any]] = []
    for plan in plans:
        item = before.get(plan.name)
        if item is None:
            changes.append(
                _change("plan_added", plan.name, f"plan {plan.name} added ({terms_text(price_terms(plan))})")
            )
            continue
        old = PricingPlan.of(item)
        for flag, on, off in (
            ("deprecated", "deprecated", "no longer deprecated"),
            ("private", "made private", "made public"),
        ):
            if getattr(old, flag) != getattr(plan, flag):
                changes.append(
                    _change(
                        f"plan_{flag}" if getattr(plan, flag) else f"plan_un{flag}",
                        plan.name,
                        f"plan {plan.name} {on if getattr(plan, flag) else off}",
                    )
                )
        old_terms, new_terms = price_terms(old), price_terms(plan)
        if old_terms != new_terms:
            changes.append(_price_change(store, api_id, plan.name, item, old_terms, new_terms, now, notice_days))
    changes.extend(
        _change("plan_removed", name, f"plan {name} removed") for name in before if name not in {p.name for p in plans}
    )
    return changes


def _price_change(
    store: Store,
    api_id: str,
    plan: str,
    item: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    now: datetime,
    notice_days: int,
) -> dict[str, Any]:
    """A price change: at once for a plan without subscribers; else scheduled with notice for them."""
    said = f"plan {plan}: {terms_text(old)} → {terms_text(new)}"
    if not item.get("subscribers", 0):
        return _change(
            "price_changed", plan, f"{said}, at once (no subscribers)", old=old, new=new, effective_from=None
        )
    notice_from = time_text(now + timedelta(days=notice_days))
    changed_at = time_text(now)
    schedule(
        store,
        changed_at,
        REPRICE,
        api_id,
        plan,
        plan=plan,
        old=dict(old),
        new=dict(new),
        changed_at=changed_at,
        notice_from=notice_from,
    )
    return _change(
        "price_changed",
        plan,
        f"{said}; new subscribers at once, current subscribers from their first billing period starting on or"
        f" after {notice_from[:10]}",
        old=old,
        new=new,
        effective_from=notice_from,
    )


def _change(kind: str, plan: str, text: str, **details: Any) -> dict[str, Any]:
    return {"type": kind, "plan": plan, "text": text, **details}
