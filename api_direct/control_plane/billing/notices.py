"""Notices to a subscriber about their plan or API (a price change coming, the API retiring): email and webhook.

They travel the alert queue beside usage alerts (``{"notice": ...}`` messages, sent
by :class:`~.alert_delivery.AlertDelivery` as alerts are: an email, then the
subscription's webhook with retries). Each notice's ``id`` is derived from what it
is about, so a notice queued twice (a sweep retried) is recognised by the receiver
as one, as with an alert's.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

PRICE_CHANGING = "plan.price_changing"
RETIRING = "listing.retiring"


@dataclass(frozen=True)
class Notice:
    id: str
    type: str
    api_id: str
    consumer: str
    created: str
    subject: str
    text: str
    #: What the webhook event says besides its id, type, time and API.
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def about(
        cls, kind: str, api_id: str, consumer: str, ref: str, subject: str, text: str, **details: Any
    ) -> "Notice":
        digest = hashlib.sha256(json.dumps([kind, api_id, consumer, ref]).encode()).hexdigest()[:24]
        return cls(
            id=f"evt_{digest}",
            type=kind,
            api_id=api_id,
            consumer=consumer,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            subject=subject,
            text=text,
            details=details,
        )

    def event(self) -> dict[str, Any]:
        """The webhook's JSON body (never whose account: the receiver knows)."""
        return {"id": self.id, "type": self.type, "created": self.created, "api_id": self.api_id, **self.details}

    def email_text(self) -> tuple[str, str]:
        return self.subject, f"{self.text}\n\nEvent {self.id}\n"

    def message(self) -> str:
        return json.dumps({"notice": asdict(self)})

    @classmethod
    def from_message(cls, body: Mapping[str, Any]) -> "Notice":
        return cls(**body["notice"])
