"""Fired alerts out: an email through Amazon SES, and the consumer's webhook, retried with backoff.

The alert queue holds three kinds of message. ``{"notice": ...}`` (a price change or a
retiring API, put by :mod:`.listing_schedule`, see :mod:`.notices`) is sent as an alert is.
``{"alert": ...}`` (put by
:class:`~.alerting.Alerter`) is sent as an email to the consumer's address (read
from the user pool by their ``sub``, so a changed address is used at once), from
the operator's ``alert_sender``; then, if the subscription has a webhook, its first
call is made. A call that fails (no 2xx answer within the timeout, or a URL that
is no longer safe) puts ``{"webhook": ...}`` back on the queue delayed by the
backoff (:func:`backoff_seconds`: 30 s, doubling, at most SQS's 15 minutes), up to
:data:`MAX_ATTEMPTS` calls; then it gives up. Each call's outcome is kept on the
subscription's alert settings (``last_delivery``), which ``GET
/subscriptions/{api_id}/alerts`` shows.

The URL and signing secret are read at each call, so a webhook removed or
re-registered meanwhile is honoured. Delivery is at least once: a message redelivered
after an email failed sends the webhook again with the same event ``id``, which the
receiver uses to ignore repeats (as with Stripe's).
"""

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing import webhooks
from api_direct.control_plane.billing.alerting import Alert, alerts_key
from api_direct.control_plane.billing.charges import money_text
from api_direct.control_plane.billing.notices import Notice

MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 30
#: SQS's longest DelaySeconds.
MAX_DELAY_SECONDS = 900
_SUB = re.compile(r"^[\w-]{1,128}$")

logger = logging.getLogger(__name__)


def backoff_seconds(attempt: int) -> int:
    """How long to wait before call ``attempt + 1``, after call ``attempt`` (1-based) failed."""
    return min(FIRST_DELAY_SECONDS * 2 ** (attempt - 1), MAX_DELAY_SECONDS)


class AlertDelivery:
    """Sends one alert queue message's email or webhook call.

    ``ses`` is an SES v2 client and ``sender`` the verified address to send from
    (no email without one); ``cognito`` and ``user_pool_id`` find the consumer's
    address; ``sqs`` and ``queue_url`` put retries back on the queue.
    """

    def __init__(
        self,
        store: Store,
        *,
        ses: Any,
        sender: str | None,
        cognito: Any,
        user_pool_id: str,
        sqs: Any,
        queue_url: str,
        allow_loopback: bool,
    ) -> None:
        self.store = store
        self._ses = ses
        self._sender = sender
        self._cognito = cognito
        self._user_pool_id = user_pool_id
        self._sqs = sqs
        self._queue_url = queue_url
        self._allow_loopback = allow_loopback

    def handle(self, body: Mapping[str, Any]) -> None:
        if "alert" in body:
            alert = Alert.from_message(body)
            self.email(alert)
            self.call_webhook(alert.consumer, alert.api_id, alert.event(), attempt=1)
        elif "notice" in body:
            notice = Notice.from_message(body)
            self.send_email(notice.consumer, *notice.email_text(), event_id=notice.id)
            self.call_webhook(notice.consumer, notice.api_id, notice.event(), attempt=1)
        elif "webhook" in body:
            retry = body["webhook"]
            self.call_webhook(retry["consumer"], retry["api_id"], retry["event"], attempt=int(retry["attempt"]))
        else:
            raise ValueError(f"not an alert queue message: {sorted(body)}")

    def email(self, alert: Alert) -> None:
        """The alert to the consumer's address; nothing if no sender is configured or the user has no address."""
        self.send_email(alert.consumer, *email_text(alert), event_id=alert.id)

    def send_email(self, consumer: str, subject: str, text: str, *, event_id: str) -> None:
        if self._sender is None:
            return
        address = self.consumer_email(consumer)
        if address is None:
            logger.warning("no email address for the consumer of an alert", extra={"event_id": event_id})
            return
        self._ses.send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [address]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}},
        )

    def consumer_email(self, consumer: str) -> str | None:
        if not _SUB.match(consumer):
            return None
        users = self._cognito.list_users(UserPoolId=self._user_pool_id, Filter=f'sub = "{consumer}"', Limit=1)
        for user in users.get("Users", []):
            for attribute in user.get("Attributes", []):
                if attribute["Name"] == "email":
                    return str(attribute["Value"])
        return None

    def call_webhook(self, consumer: str, api_id: str, event: Mapping[str, Any], *, attempt: int) -> None:
        """Call the subscription's webhook once (if it still has one); on failure, schedule the next call."""
        key = alerts_key(consumer, api_id)
        item = self.store.get(**key)
        if item is None or not item.get("webhook_url") or not item.get("webhook_secret"):
            return
        result = webhooks.post(item["webhook_url"], event, item["webhook_secret"], allow_loopback=self._allow_loopback)
        if result.ok:
            status = "delivered"
        elif attempt < MAX_ATTEMPTS:
            status = "retrying"
            retry = {"webhook": {"consumer": consumer, "api_id": api_id, "event": event, "attempt": attempt + 1}}
            self._sqs.send_message(
                QueueUrl=self._queue_url, MessageBody=json.dumps(retry), DelaySeconds=backoff_seconds(attempt)
            )
        else:
            status = "failed"
            logger.warning("alert webhook given up", extra={"event_id": event["id"], "attempts": attempt})
        self.store.table.update_item(
            Key=key,
            UpdateExpression="SET last_delivery = :delivery",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":delivery": {
                    "event_id": event["id"],
                    "type": event["type"],
                    "status": status,
                    "attempts": attempt,
                    "http_status": result.status,
                    "error": result.error,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            },
        )


def email_text(alert: Alert) -> tuple[str, str]:
    """The email's subject and plain-text body: what was crossed, the numbers, and where to change the settings."""
    if alert.kind == "quota":
        subject = f"{alert.api_id}: {alert.threshold}% of your monthly quota used"
        what = f"You have made {alert.used:,} of the {alert.limit:,} calls your {alert.plan} plan includes"
    elif alert.kind == "credit_low":
        subject = f"{alert.api_id}: prepaid credit low ({alert.used:,} calls left)"
        what = f"Your prepaid credit is down to {alert.used:,} calls, below {alert.limit:,}; buy more on your dashboard"
    elif alert.kind == "reload_failed":
        subject = f"{alert.api_id}: auto-reload of your prepaid credit was declined"
        what = (
            f"Your saved card was declined when {alert.used:,} calls were left, so auto-reload is off; calls answer"
            " 402 once the credit is used up. Buy a pack with another card on your dashboard (it is saved for"
            " auto-reload) and turn auto-reload on again"
        )
    else:
        spent, cap = money_text(alert.used, alert.currency), money_text(alert.limit, alert.currency)
        if alert.kind == "spend":
            subject = f"{alert.api_id}: {alert.threshold}% of your spend cap reached"
            what = f"You have spent {spent} of your {cap} cap"
        else:
            subject = f"{alert.api_id}: spend cap of {cap} reached"
            what = f"You have spent {spent}, reaching your {cap} cap"
            if alert.capped_until:
                what += (
                    f". Your keys are paused (calls answer 402) until {alert.capped_until} or until you raise the cap"
                )
    body = (
        f"{what} on {alert.api_id} in {alert.period} (UTC).\n\n"
        f"Change these alerts with `apid alerts set {alert.api_id}` or on your dashboard.\n"
        f"Event {alert.id}\n"
    )
    return subject, body
