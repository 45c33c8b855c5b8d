"""The scheduled functions work as of when their run was due, not when it happened to start."""

from datetime import UTC, datetime, timedelta

from api_direct.control_plane.billing.handlers import scheduled_time


def test_a_scheduled_event_runs_as_of_its_time() -> None:
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-12-04T06:00:00Z"}
    assert scheduled_time(event) == datetime(2026, 12, 4, 6, tzinfo=UTC)


def test_an_event_without_a_time_runs_as_of_now() -> None:
    assert abs(scheduled_time({}) - datetime.now(UTC)) < timedelta(minutes=1)
