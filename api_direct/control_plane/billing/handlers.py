"""Lambda entry points of the money flow; the work is in plain functions the tests call.

* :func:`aggregate_usage`: SQS batches of ``UsageRecorded`` events -> hourly counters
  (:mod:`.metering`), one transaction per counter. A record that can never be
  applied (:class:`PoisonRecord`) is moved to the dead-letter queue at once, with
  its reason as a message attribute; any other failure fails just that message, or
  the messages of that one counter's transaction (partial batch response), so SQS
  redelivers them and, after the queue's receive limit, dead-letters them too.
  Then each subscription the batch counted for is checked against its usage alerts
  (:mod:`.alerting`): what it crossed goes to the alert queue; and each prepaid one it
  debited is settled (:mod:`.prepaid`: keys capped at zero, auto-reload marked due).
* :func:`deliver_alerts`: the alert queue -> emails (SES) and signed webhooks, retried
  with backoff (:mod:`.alert_delivery`).
* :func:`close_periods`: every 15 minutes, closes hours past the grace window and
  reports them to Stripe (:mod:`.reporting`); then does the listings' scheduled work
  (:mod:`.listing_schedule`: price changes given with notice, unpublished APIs retiring),
  and prepaid credit's (:func:`run_credits`: due auto-reloads charged, due grants expired).
* :func:`pay_out`: daily, closes months past their grace and pays creators (:mod:`.earnings`).

The scheduled two work as of the ``time`` of their EventBridge event, the time the
run was due: a retried or late run does what the missed one should have, and
``apid sandbox`` runs them at a clock of its own without waiting hours or weeks.
"""

import functools
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from api_direct.contracts import ALERT_QUEUE_URL_ENV, DEAD_LETTER_URL_ENV
from api_direct.control_plane.api.bus import ControlPlaneBus
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.api.store import Store
from api_direct.control_plane.billing import prepaid
from api_direct.control_plane.billing.alert_delivery import AlertDelivery
from api_direct.control_plane.billing.alerting import Alerter
from api_direct.control_plane.api.services import Services
from api_direct.control_plane.billing.earnings import PayoutSummary, close_and_pay
from api_direct.control_plane.billing.listing_schedule import NoticeQueue, ScheduleSummary, run_schedule
from api_direct.control_plane.billing.metering import (
    Attribution,
    KeyOwners,
    Meter,
    PoisonRecord,
    UsageEvent,
)
from api_direct.control_plane.billing.reporting import ReportSummary, close_and_report
from api_direct.control_plane.billing.subscription_billing import SubscriptionBilling, configured_billing

NAMESPACE = "APIDirect"

logger = Logger(service="apid-billing")
metrics = Metrics(namespace=NAMESPACE, service="apid-billing")
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
#: Key owners the aggregator has looked up, kept while the Lambda container is warm.
_KEY_OWNERS = KeyOwners()


@functools.cache
def _settings() -> ControlPlaneSettings:
    return ControlPlaneSettings.from_env()


@functools.cache
def _store() -> Store:
    settings = _settings()
    dynamodb = boto3.resource(
        "dynamodb", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_RETRIES
    )
    return Store(dynamodb.Table(settings.table_name))


def _billing() -> SubscriptionBilling | None:
    configured = configured_billing(_settings(), _store())
    return configured[1] if configured else None


def scheduled_time(event: dict[str, Any]) -> datetime:
    """When a scheduled run was due (its event's ``time``); now for an event without one."""
    stamp = event.get("time")
    return datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime.now(UTC)


class UsageBatch:
    """One SQS batch: records checked one by one, then counted a transaction per counter.

    Powertools' batch processor runs :meth:`collect` on each record (parse and
    attribute; poison set aside with its reason, a not-yet-known key failed for
    redelivery); :meth:`flush` then applies what was collected, grouped by counter
    (:meth:`Meter.groups`), and names the messages of any group that failed.
    """

    def __init__(
        self,
        store: Store,
        dead_letters: Any | None,
        dead_letter_url: str | None,
        now: datetime,
        owners: KeyOwners | None = None,
    ) -> None:
        self.store = store
        self.meter = Meter(store, owners)
        self.now = now
        self._sqs = dead_letters
        self._dead_letter_url = dead_letter_url
        self._collected: list[tuple[UsageEvent, Attribution]] = []
        self._message_ids: list[str] = []
        self.outcomes: dict[str, int] = {}
        #: (api, consumer) of each subscription whose records were applied or found applied already: alerts check these.
        self.touched: dict[tuple[str, str], None] = {}
        #: Those of them on a prepaid plan: their credit is settled after the batch (cap, auto-reload, low alert).
        self.debited: dict[tuple[str, str], None] = {}

    def collect(self, record: SQSRecord) -> None:
        try:
            event = UsageEvent.parse(record.body)
            if not event.detail.key_id:  # nobody to bill (the authorizer's rejections, MCP's): counted for its cost
                self._count(self.meter.apply_unattributed(event, self.now))
                return
            self._collected.append((event, self.meter.attribute(event)))
            self._message_ids.append(record.message_id)
        except PoisonRecord as poison:
            if self._sqs is None or self._dead_letter_url is None:
                raise
            self._sqs.send_message(
                QueueUrl=self._dead_letter_url,
                MessageBody=record.body,
                MessageAttributes={"reason": {"DataType": "String", "StringValue": str(poison)[:1000]}},
            )
            self._count("poison")
            logger.warning("usage record dead-lettered", reason=str(poison), message_id=record.message_id)

    def flush(self) -> list[str]:
        """Apply the collected records; the message ids of those whose transaction failed (to be redelivered)."""
        failed: list[str] = []
        for group in self.meter.groups(self._collected):
            try:
                outcomes = self.meter.apply_group(group, self.now)
            except Exception:  # one counter's failure (throttling, a conflict) must not fail the others
                logger.exception("usage group failed", records=len(group.indexes))
                failed.extend(self._message_ids[index] for index in group.indexes)
                continue
            for outcome in outcomes:
                self._count(outcome)
            _, who = group.records[0]
            self.touched[who.api_id, who.consumer] = None
            if who.prepaid:
                self.debited[who.api_id, who.consumer] = None
        self._collected, self._message_ids = [], []
        return failed

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def process_usage(event: dict[str, Any], batch: UsageBatch) -> PartialItemFailureResponse:
    """Apply every record of an SQS event; the partial batch response names the ones to retry."""
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(event=event, record_handler=batch.collect, processor=processor)
    failures = response.setdefault("batchItemFailures", [])
    failures.extend({"itemIdentifier": message_id} for message_id in batch.flush())
    return response


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def aggregate_usage(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = _settings()
    sqs = boto3.client("sqs", region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_RETRIES)
    batch = UsageBatch(_store(), sqs, os.environ.get(DEAD_LETTER_URL_ENV), datetime.now(UTC), _KEY_OWNERS)
    response = process_usage(event, batch)
    alerter = _alerter()
    check_alerts(batch, alerter)
    settle_credits(batch, alerter)
    for outcome, count in batch.outcomes.items():
        metrics.add_metric(name=f"UsageRecords_{outcome}", unit=MetricUnit.Count, value=count)
    logger.info("usage batch", outcomes=batch.outcomes, retried=len(response.get("batchItemFailures", [])))
    return response


def check_alerts(batch: UsageBatch, alerter: Alerter | None) -> int:
    """Fire the alerts of each subscription the batch counted for; how many fired.

    A subscription whose check fails is logged and left: its usage is counted, and
    its next batch checks it again (an alert not fired has left no marker).
    """
    if alerter is None:
        return 0
    fired = 0
    for api_id, consumer in batch.touched:
        try:
            fired += len(alerter.check(api_id, consumer, batch.now))
        except Exception:
            logger.exception("usage alerts not checked", api_id=api_id)
    if fired:
        metrics.add_metric(name="AlertsFired", unit=MetricUnit.Count, value=fired)
    return fired


def settle_credits(batch: UsageBatch, alerter: Alerter | None) -> None:
    """What each prepaid subscription the batch debited calls for (:func:`.prepaid.after_debit`).

    One that fails is logged and left: its debit is counted, and its next batch (or
    the scheduled run) settles it again.
    """
    for subscription in batch.debited:
        try:
            prepaid.after_debit(batch.store, alerter, subscription, batch.now)
        except Exception:
            logger.exception("prepaid credit not settled", api_id=subscription[0])


def _bus() -> ControlPlaneBus:
    settings = _settings()
    return ControlPlaneBus(_client("events"), settings.event_bus_name, settings.key_forwarding_role_arn)


def _alerter() -> Alerter | None:
    """Alerts need their queue (the stack sets ``ALERT_QUEUE_URL``); without one, none are checked."""
    queue_url = os.environ.get(ALERT_QUEUE_URL_ENV)
    if not queue_url:
        return None
    return Alerter(_store(), _client("sqs"), queue_url, _settings().currency)


@functools.cache
def _client(service: str) -> Any:
    settings = _settings()
    return boto3.client(  # type: ignore[call-overload]  # the service is a variable: no one overload applies
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_RETRIES
    )


def alert_delivery(settings: ControlPlaneSettings, store: Store, queue_url: str) -> AlertDelivery:
    """What :func:`deliver_alerts` sends with, for these settings and the alert queue (for retries)."""
    return AlertDelivery(
        store,
        ses=_client("sesv2"),
        sender=settings.alert_sender,
        cognito=_client("cognito-idp"),
        user_pool_id=settings.user_pool_id,
        sqs=_client("sqs"),
        queue_url=queue_url,
        allow_loopback=settings.webhooks_allow_loopback,
    )


def process_alerts(event: dict[str, Any], delivery: AlertDelivery) -> PartialItemFailureResponse:
    """Each message's email or webhook call; a message whose email failed is named for SQS to redeliver."""
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=lambda record: delivery.handle(json.loads(record.body)), processor=processor
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def deliver_alerts(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    response = process_alerts(event, alert_delivery(_settings(), _store(), os.environ[ALERT_QUEUE_URL_ENV]))
    logger.info("alert messages", failed=len(response.get("batchItemFailures", [])))
    return response


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def close_periods(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = _settings()
    summary: ReportSummary = close_and_report(
        _store(), _billing(), scheduled_time(event), timedelta(minutes=settings.usage_grace_minutes)
    )
    metrics.add_metric(name="MeterEventsSent", unit=MetricUnit.Count, value=summary.meter_events)
    metrics.add_metric(name="BilledCalls", unit=MetricUnit.Count, value=summary.billed_calls)
    logger.info("usage hours closed and reported", **asdict(summary))
    credit = run_credits(_store(), _billing(), _alerter(), scheduled_time(event))
    scheduled = scheduled_listing_work(settings, scheduled_time(event))
    logger.info("listings' scheduled work done", **asdict(scheduled))
    return {**asdict(summary), "listings": asdict(scheduled), "credit": credit}


def run_credits(
    store: Store, billing: SubscriptionBilling | None, alerter: Alerter | None, now: datetime
) -> dict[str, int]:
    """Prepaid credit's scheduled work: auto-reloads marked due are charged, then due grants expire."""
    reloaded = prepaid.reload_due(store, billing.gateway if billing else None, alerter, now)
    expired = prepaid.expire_due(store, now)
    metrics.add_metric(name="CreditPacksReloaded", unit=MetricUnit.Count, value=reloaded)
    metrics.add_metric(name="CreditUnitsExpired", unit=MetricUnit.Count, value=expired)
    return {"packs_reloaded": reloaded, "units_expired": expired}


def scheduled_listing_work(settings: ControlPlaneSettings, now: datetime) -> ScheduleSummary:
    """The listings' due work (:mod:`.listing_schedule`); notices go to the alert queue when this function has it."""
    services = Services(settings, _store(), _bus(), sts=None, billing=_billing())
    queue_url = os.environ.get(ALERT_QUEUE_URL_ENV)
    return run_schedule(services, NoticeQueue(_client("sqs") if queue_url else None, queue_url), now)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def pay_out(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = _settings()
    billing = _billing()
    summary: PayoutSummary = close_and_pay(
        _store(),
        billing.gateway if billing else None,
        settings.platform_fee_percent,
        scheduled_time(event),
        timedelta(days=settings.payout_grace_days),
    )
    metrics.add_metric(name="PayoutCents", unit=MetricUnit.Count, value=summary.transferred)
    logger.info("earnings closed and paid", **asdict(summary))
    return json.loads(json.dumps(asdict(summary)))
