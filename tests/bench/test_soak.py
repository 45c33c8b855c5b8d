"""The metering soak (``bench/soak.py``) at a small size: its chaos happens, and every line still counts once.

The benchmark's figure reports what it found and asserts nothing; this is the check
that the soak's own comparison holds on a run small enough for the suite.
"""

from bench.soak import CONSUMERS, HOURS, soak

LINES = 2000


def test_duplicated_and_reordered_lines_are_counted_billed_and_reported_once() -> None:
    found = soak(LINES)
    assert found.differences == []
    # Duplicates reached every stage: lines within a delivery, whole deliveries, SQS messages and batches.
    assert found.delivered_lines > LINES and found.record_deliveries > found.records
    assert found.outcomes["duplicate"] >= found.record_deliveries - found.records
    assert found.outcomes["retried"] == 0 and set(found.outcomes) <= {"applied", "anonymous", "duplicate", "retried"}
    assert found.counted.total_calls == found.made.total_calls == LINES
    assert found.counted.billable == found.made.billable and sum(found.made.billable.values()) > 0
    assert sum(found.counted.rejected.values()) == sum(found.made.rejected.values()) > 0
    # One meter event per consumer and hour, the closer's second run sending none.
    assert found.meter_events == len(CONSUMERS) * HOURS
