"""Usage hours as text and back: every hour round-trips, nothing off the hour is taken for one."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api_direct.control_plane.billing.periods import hour_text, parse_hour

moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))


@given(moments)
def test_the_hour_of_any_moment_reads_back_as_its_start(moment: datetime) -> None:
    start = parse_hour(hour_text(moment))
    assert start == moment.replace(minute=0, second=0, microsecond=0)
    assert start <= moment < start + timedelta(hours=1)


@given(moments.filter(lambda moment: moment.minute or moment.second))
def test_a_moment_off_the_hour_is_refused(moment: datetime) -> None:
    with pytest.raises(ValueError, match="is not the start of an hour"):
        parse_hour(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-25T13:00:00Z",
        "2026-02-30T13:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T13:00:00",
        "2026-11-25 13:00:00Z",
        "2026-1-25T13:00:00Z",
        "",
    ],
)
def test_malformed_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hour(text)
