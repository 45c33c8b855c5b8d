"""Log reading against CloudWatch Logs emulated by moto: merge order, pagination, missing groups, follow."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api_direct.deploy.logs import LATE_ARRIVAL_WINDOW, FollowWindow, LogLine, fetch, follow, parse_since
from api_direct.errors import InputError

APP = "/aws/lambda/apid-demo-app"
ACCESS = "/apid/demo/access"
#: moto rejects events more than 14 days old, so times are relative to now (whole milliseconds, as CloudWatch keeps).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def logs() -> Iterator[Any]:
    """A logs client on moto, with the app and access-log groups, one stream each."""
    with mock_aws():
        client = boto3.client("logs", region_name="us-east-1")
        for group in (APP, ACCESS):
            client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName="s1")
        yield client


def put(client: Any, group: str, *events: tuple[float, str], stream: str = "s1") -> None:
    """Put ``(seconds after T0, message)`` events."""
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": _millis(T0 + timedelta(seconds=s)), "message": m} for s, m in events],
    )


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def messages(lines: list[LogLine]) -> list[str]:
    return [line.message for line in lines]


# --- parse_since -----------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("90", NOW - timedelta(seconds=90)),
        (" 5M ", NOW - timedelta(minutes=5)),
        ("2025-02-28T09:30:00Z", datetime(2025, 2, 28, 9, 30, tzinfo=UTC)),
        ("2025-02-28T09:30:00+02:00", datetime(2025, 2, 28, 7, 30, tzinfo=UTC)),
        ("2025-02-28T09:30", datetime(2025, 2, 28, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "-5m", "1.5h", "2025-13-01"])
def test_parse_since_rejects_with_examples(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_since(text, NOW)
    message = str(raised.value)
    assert "\n" not in message and "10m" in message and "ISO-8601" in message


def test_parse_since_rejects_durations_beyond_the_calendar() -> None:
    with pytest.raises(InputError, match="too far back"):
        parse_since("99999999999999d", NOW)


# --- fetch -----------------------------------------------------------------------------------


def test_merges_groups_in_time_order(logs: Any) -> None:
    put(logs, APP, (1, "app one"), (4, "app four\n"))
    put(logs, ACCESS, (2, "access two"), (3, "access three"))
    lines = fetch(logs, [APP, ACCESS], T0)
    assert messages(lines) == ["app one", "access two", "access three", "app four"]
    assert lines[0] == LogLine(T0 + timedelta(seconds=1), APP, "s1", "app one", lines[0].event_id)
    assert [line.log_group for line in lines] == [APP, ACCESS, ACCESS, APP]


def test_ties_do_not_depend_on_group_order(logs: Any) -> None:
    put(logs, APP, (1, "app"))
    put(logs, ACCESS, (1, "access"))
    assert fetch(logs, [APP, ACCESS], T0) == fetch(logs, [ACCESS, APP], T0)


def test_merges_streams_of_one_group(logs: Any) -> None:
    logs.create_log_stream(logGroupName=APP, logStreamName="s2")
    put(logs, APP, (1, "a"), (3, "c"))
    put(logs, APP, (2, "b"), stream="s2")
    assert [(line.stream, line.message) for line in fetch(logs, [APP], T0)] == [("s1", "a"), ("s2", "b"), ("s1", "c")]


def test_window_bounds(logs: Any) -> None:
    put(logs, APP, (1, "before"), (5, "inside"), (9, "after"))
    assert messages(fetch(logs, [APP], T0 + timedelta(seconds=2), T0 + timedelta(seconds=6))) == ["inside"]


def test_reads_every_page(logs: Any) -> None:
    """One request returns at most 10,000 events; the rest needs the next token."""
    batch = [(i / 1000, f"event {i}") for i in range(10_000)]
    put(logs, APP, *batch)
    put(logs, APP, (11, "the last one"))
    lines = fetch(logs, [APP], T0)
    assert len(lines) == 10_001
    assert lines[-1].message == "the last one"
    assert len({line.event_id for line in lines}) == 10_001


def test_missing_group_yields_nothing(logs: Any) -> None:
    put(logs, APP, (1, "app"))
    assert messages(fetch(logs, ["/aws/lambda/not-yet", APP], T0)) == ["app"]


# --- follow ----------------------------------------------------------------------------------


def test_follow_picks_up_new_events_once(logs: Any) -> None:
    put(logs, APP, (1, "first"))
    arrivals = iter(
        [
            [(APP, 2, "second"), (ACCESS, 3, "third")],
            [(APP, 3.5, "late, inside the window")],  # timestamped before "third", searchable after it
            [],
        ]
    )
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        for group, offset, message in next(arrivals):
            put(logs, group, (offset, message))

    lines = list(follow(logs, [APP, ACCESS], T0, poll_seconds=0.5, sleep=sleep, stop=lambda: len(polls) == 3))
    assert messages(lines) == ["first", "second", "third", "late, inside the window"]
    assert polls == [0.5, 0.5, 0.5]


def test_follow_stops_after_one_poll_when_asked(logs: Any) -> None:
    put(logs, APP, (1, "only"))

    def sleep(seconds: float) -> None:
        raise AssertionError("no sleep after stop")

    assert messages(list(follow(logs, [APP], T0, sleep=sleep, stop=lambda: True))) == ["only"]


def test_follow_never_repeats_an_event_at_the_window_edge(logs: Any) -> None:
    """The next poll starts exactly at an event seen before (inclusive): it must not come back."""
    edge = LATE_ARRIVAL_WINDOW.total_seconds()
    put(logs, APP, (0, "at the edge"), (edge, "newest"))
    polls = iter(range(3))
    lines = list(follow(logs, [APP], T0, sleep=lambda _: None, stop=lambda: next(polls) == 2))
    assert messages(lines) == ["at the edge", "newest"]


def test_follow_over_many_polls_yields_each_event_once(logs: Any) -> None:
    offsets = iter(range(0, 300, 3))

    def sleep(_: float) -> None:
        offset = next(offsets)
        put(logs, APP, (offset, f"at {offset}"), (offset + 1, f"at {offset + 1}"))

    polls = iter(range(100))
    lines = list(follow(logs, [APP], T0, sleep=sleep, stop=lambda: next(polls) == 60))
    assert messages(lines) == [f"at {offset + extra}" for offset in range(0, 180, 3) for extra in (0, 1)]


def line_at(seconds: float, event_id: str, group: str = APP) -> LogLine:
    return LogLine(T0 + timedelta(seconds=seconds), group, "s1", "message", event_id)


def test_window_admits_each_event_once() -> None:
    window = FollowWindow(T0)
    assert window.admit(line_at(1, "a")) and window.admit(line_at(1, "a", ACCESS))
    assert not window.admit(line_at(1, "a"))


def test_window_trails_the_newest_event_and_never_moves_back() -> None:
    window = FollowWindow(T0)
    window.slide()
    assert window.start == T0
    window.admit(line_at(2, "a"))
    window.slide()
    assert window.start == T0  # newest - window is before start
    window.admit(line_at(60, "b"))
    window.slide()
    assert window.start == T0 + timedelta(seconds=60) - LATE_ARRIVAL_WINDOW


def test_window_memory_is_bounded() -> None:
    """Ids older than the start are dropped: no poll from the start can return them."""
    window = FollowWindow(T0)
    for second in range(1000):
        window.admit(line_at(second, str(second)))
        window.slide()
        assert len(window.seen) <= LATE_ARRIVAL_WINDOW.total_seconds() + 1
    assert not window.admit(line_at(999, "999"))
