"""The emulated AWS the runtime handlers meet: its region, the usage plans, and the control plane's bus.

The bus itself cannot be read, so a rule copies usage events to an SQS queue the tests drain.
"""

import json
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
PLANS = ("free", "pro")


@dataclass
class Bus:
    """The control plane's bus, with a rule copying usage events to an SQS queue."""

    arn: str
    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        """Every event that reached the queue so far, as EventBridge delivered it."""
        sqs = boto3.client("sqs", region_name=REGION)
        events = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
