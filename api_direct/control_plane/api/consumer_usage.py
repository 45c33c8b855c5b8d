"""A consumer's calls per UTC day, API and key, to take away as JSON or CSV.

The numbers are billing's own. Each day's total per API is the sum of that day's
hourly counters (:mod:`~api_direct.control_plane.billing.metering`), which are what
Stripe is told; the split per key comes from the key-day counters the same
transactions add to, so the keys of a day add up to its total. Calls counted before
key-day counters existed have no key: they are one row with an empty ``key_id``
rather than missing from the total. Today's and the last hour's rows still grow
until their hour closes.

Only days with calls are rows (a year of days times keys would be mostly zeros).
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api_direct.control_plane.api.auth import Consumer
from api_direct.control_plane.api.deployments import ApiId
from api_direct.control_plane.api.subscriptions import DEFAULT_KEY_NAME, KEY_PREFIX
from api_direct.control_plane.api.usage import counter_day
from api_direct.control_plane.api.problems import Problem
from api_direct.control_plane.api.services import ServicesDep
from api_direct.control_plane.api.store import GSI2, Store, consumer_pk
from api_direct.control_plane.billing.metering import HOUR_PREFIX, KEY_DAY_PREFIX, meter_pk

#: The longest range one export covers, in days: a leap year.
MAX_DAYS = 366
#: CSV columns, in order; the JSON rows have the same names.
CSV_COLUMNS = ("date", "api_id", "key_id", "key_name", "calls")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

FromDay = Annotated[
    date | None,
    Query(alias="from", description="first UTC day (ISO, YYYY-MM-DD); default: the first day of `to`'s month"),
]
ToDay = Annotated[
    date | None,
    Query(
        alias="to", description="last UTC day, included (ISO); default: today if `from` is given, else the month's end"
    ),
]
ApiFilter = Annotated[ApiId | None, Query(description="only this API; default: every API you subscribed to")]


class KeyDay(BaseModel):
    """One key's calls to one API on one UTC day."""

    model_config = ConfigDict(populate_by_name=True)

    day: Annotated[date, Field(alias="date")]
    api_id: str
    #: Empty for calls counted before calls were counted per key.
    key_id: str
    key_name: str | None
    calls: int


class ApiCalls(BaseModel):
    api_id: str
    calls: int


class ConsumerUsage(BaseModel):
    """The consumer's calls over a range of UTC days: per day and key, and per API."""

    model_config = ConfigDict(populate_by_name=True)

    first: Annotated[date, Field(alias="from")]
    last: Annotated[date, Field(alias="to")]
    timezone: str = "UTC"
    api_id: str | None
    calls: int
    apis: list[ApiCalls]
    #: Oldest day first; within a day, by API, then key.
    days: list[KeyDay]


router = APIRouter(tags=["usage"])


@router.get("/usage/calls", summary="Your calls per UTC day, API and key (JSON)")
def calls(
    principal: Consumer, services: ServicesDep, first: FromDay = None, last: ToDay = None, api_id: ApiFilter = None
) -> ConsumerUsage:
    """422 for a range that is not `from` <= `to` within 366 days; 404 for an API you never subscribed to."""
    return consumer_usage(services.store, principal.sub, api_id, *usage_range(first, last, _today()))


@router.get(
    "/usage/calls.csv",
    summary="Your calls per UTC day, API and key (CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def calls_csv(
    principal: Consumer, services: ServicesDep, first: FromDay = None, last: ToDay = None, api_id: ApiFilter = None
) -> Response:
    """The rows of `GET /usage/calls` as a download, with a header row."""
    return csv_response(consumer_usage(services.store, principal.sub, api_id, *usage_range(first, last, _today())))


def usage_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for, defaults filled in (see :data:`FromDay`, :data:`ToDay`); a 422 problem if it is not one."""
    if last is None:
        last = today if first is not None else _month_end(today)
    if first is None:
        first = last.replace(day=1)
    if first > last:
        raise Problem(422, f"from ({first}) is after to ({last}); give from <= to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Problem(422, f"from {first} to {last} is {(last - first).days + 1} days; ask for at most {MAX_DAYS}")
    return first, last


def consumer_usage(store: Store, consumer: str, api_id: str | None, first: date, last: date) -> ConsumerUsage:
    """Two queries per API the consumer ever subscribed to: its hourly counters and its key days."""
    subscribed = sorted({str(item["api_id"]) for item in store.query(consumer_pk(consumer), "SUB#")})
    if api_id is not None and api_id not in subscribed:
        raise Problem(404, f"you never subscribed to {api_id}, so there is no usage of it to show")
    names = _key_names(store, consumer)
    after = (last + timedelta(days=1)).isoformat()  # below every key of that day, above every key of `last`
    rows: list[KeyDay] = []
    for api in [api_id] if api_id is not None else subscribed:
        partition = meter_pk(api, consumer)
        hours = store.query_between(partition, f"{HOUR_PREFIX}{first}", f"{HOUR_PREFIX}{after}")
        key_days = store.query_between(partition, f"{KEY_DAY_PREFIX}{first}", f"{KEY_DAY_PREFIX}{after}")
        rows.extend(_rows(api, _daily_totals(hours), key_days, names))
    rows.sort(key=lambda row: (row.day, row.api_id, row.key_id))
    per_api: dict[str, int] = defaultdict(int)
    for row in rows:
        per_api[row.api_id] += row.calls
    return ConsumerUsage(
        first=first,
        last=last,
        api_id=api_id,
        calls=sum(per_api.values()),
        apis=[ApiCalls(api_id=api, calls=count) for api, count in sorted(per_api.items())],
        days=rows,
    )


def usage_csv(usage: ConsumerUsage) -> str:
    """The rows with a header row, ``\\r\\n`` line ends as RFC 4180 has them; no key name is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in usage.days:
        writer.writerow([row.day.isoformat(), row.api_id, row.key_id, row.key_name or "", row.calls])
    return buffer.getvalue()


def export_name(usage: ConsumerUsage) -> str:
    """A download's file name, without extension: its range (and API), so two downloads never clash."""
    return "-".join(part for part in ("usage", usage.api_id, str(usage.first), str(usage.last)) if part)


def csv_response(usage: ConsumerUsage) -> Response:
    """The CSV as an attachment, so a browser saves it rather than shows it."""
    return Response(
        usage_csv(usage),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export_name(usage)}.csv"'},
    )


def _rows(
    api_id: str, totals: Mapping[date, int], key_days: Iterable[Mapping[str, Any]], names: Mapping[str, str]
) -> list[KeyDay]:
    """The key days of one API, and per day whatever its total has beyond them (calls counted before keys were)."""
    rows: list[KeyDay] = []
    keyed: dict[date, int] = defaultdict(int)
    for item in key_days:
        day, key_id, count = date.fromisoformat(str(item["day"])), str(item["key_id"]), int(item["calls"])
        keyed[day] += count
        rows.append(KeyDay(day=day, api_id=api_id, key_id=key_id, key_name=names.get(key_id), calls=count))
    for day, total in totals.items():
        if total > keyed[day]:
            rows.append(KeyDay(day=day, api_id=api_id, key_id="", key_name=None, calls=total - keyed[day]))
    return rows


def _daily_totals(hours: Iterable[Mapping[str, Any]]) -> dict[date, int]:
    totals: dict[date, int] = defaultdict(int)
    for hour in hours:
        totals[counter_day(hour)] += int(hour.get("calls", 0))
    return totals


def _key_names(store: Store, consumer: str) -> dict[str, str]:
    """Key id -> its name, as the dashboard shows it (a key issued before keys had names has the default one)."""
    keys = store.query(consumer_pk(consumer), KEY_PREFIX, index=GSI2)
    return {str(key["key_id"]): str(key.get("name", DEFAULT_KEY_NAME)) for key in keys}


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _today() -> date:
    return datetime.now(UTC).date()
