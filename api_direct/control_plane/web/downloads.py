"""The dashboard's downloads: a consumer's calls per day and key, as the API's JSON and CSV exports.

Signed in by the pages' cookie rather than a bearer token, so a plain link on the
dashboard downloads them; the documents are those of ``GET /usage/calls`` and
``GET /usage/calls.csv``, built by the same functions.
"""

from datetime import UTC, date, datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api_direct.control_plane.api import consumer_usage
from api_direct.control_plane.api.consumer_usage import ApiFilter, ConsumerUsage, FromDay, ToDay
from api_direct.control_plane.api.services import Services, ServicesDep
from api_direct.control_plane.web.rendering import WEB_PREFIX
from api_direct.control_plane.web.web_session import WebConsumer

router = APIRouter(prefix=f"{WEB_PREFIX}/dashboard", include_in_schema=False)


@router.get("/usage.json")
def usage_json(
    user: WebConsumer, services: ServicesDep, first: FromDay = None, last: ToDay = None, api_id: ApiFilter = None
) -> Response:
    found = _calls(services, user.sub, api_id, first, last)
    return JSONResponse(
        found.model_dump(mode="json", by_alias=True),
        headers={"Content-Disposition": f'attachment; filename="{consumer_usage.export_name(found)}.json"'},
    )


@router.get("/usage.csv")
def usage_csv(
    user: WebConsumer, services: ServicesDep, first: FromDay = None, last: ToDay = None, api_id: ApiFilter = None
) -> Response:
    return consumer_usage.csv_response(_calls(services, user.sub, api_id, first, last))


def _calls(
    services: Services, consumer: str, api_id: str | None, first: date | None, last: date | None
) -> ConsumerUsage:
    today = datetime.now(UTC).date()
    return consumer_usage.consumer_usage(
        services.store, consumer, api_id, *consumer_usage.usage_range(first, last, today)
    )
