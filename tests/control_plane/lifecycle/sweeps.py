"""Running the listings' scheduled work as ``close_periods`` does, at a chosen time, with notices collected."""

import json
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from api_direct.control_plane.billing.listing_schedule import NoticeQueue, ScheduleSummary, run_schedule


class Outbox:
    """Stands in for SQS: the alert queue's messages, as sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803 (boto3's names)
        self.sent.append(json.loads(MessageBody))

    def notices(self) -> list[dict[str, Any]]:
        return [message["notice"] for message in self.sent]


def sweep(app: FastAPI, outbox: Outbox, at: datetime) -> ScheduleSummary:
    return run_schedule(app.state.services, NoticeQueue(outbox, "alerts"), at)
