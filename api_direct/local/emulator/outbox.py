"""The emails the emulator's SES accepted, read back: what a real inbox would receive.

moto keeps every message ``SendEmail`` accepted (SES v1 and v2 share one backend)
and its server lists them, with every other model it tracks, at
``<endpoint>/moto-api/data.json``: this reads the ``ses`` ``Message`` entries from
there. moto checks that the sender is a verified identity (as SES does) but not the
SES sandbox's rule that recipients be verified too, and it delivers nothing: no
bounce, complaint or delivery notification, no DKIM or spam filtering.
"""

import json
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    source: str
    to: tuple[str, ...]
    subject: str
    body: str


def sent_emails(endpoint: str) -> list[SentEmail]:
    """Every simple (not raw) email the emulator at ``endpoint`` accepted, in the order sent."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    with opener.open(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        models: dict[str, Any] = json.load(response)
    return [
        SentEmail(
            message_id=str(message["id"]),
            source=str(message["source"]),
            to=tuple(message.get("destinations", {}).get("ToAddresses", [])),
            subject=str(message["subject"]),
            body=str(message["body"]),
        )
        for message in models.get("ses", {}).get("Message", [])
    ]
