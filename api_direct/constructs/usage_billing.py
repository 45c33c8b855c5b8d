"""The control plane's metering and billing: usage in from creators' accounts, Stripe meter events and payouts out."""

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from api_direct.constructs.acknowledgments import acknowledge_wildcards, skip_checkov
from api_direct.constructs.bundled_function import BundledFunction
from api_direct.bundling.build import Bundle
from api_direct.constructs.dead_letters import SQS_MANAGED_ENCRYPTION, DeadLetterQueue
from api_direct.contracts import ALERT_QUEUE_URL_ENV, DEAD_LETTER_URL_ENV, KEY_RULE_PREFIX
from api_direct.contracts import USAGE_DETAIL_TYPE, USAGE_SOURCE

_HANDLERS = "api_direct.control_plane.billing.handlers"
AGGREGATE_HANDLER = f"{_HANDLERS}.aggregate_usage"
CLOSE_HANDLER = f"{_HANDLERS}.close_periods"
PAY_OUT_HANDLER = f"{_HANDLERS}.pay_out"
DELIVER_ALERTS_HANDLER = f"{_HANDLERS}.deliver_alerts"

#: Closed usage hours reach Stripe within a quarter of an hour of their grace window ending.
DEFAULT_CLOSE_SCHEDULE = events.Schedule.rate(Duration.minutes(15))
#: Once a day, early in Europe's morning and before America's, so a failed run is seen the same day.
DEFAULT_PAYOUT_SCHEDULE = events.Schedule.cron(minute="0", hour="6")
#: AWS's advice for SQS event sources: a visibility timeout of at least six times the
#: function's timeout (plus the batching window), so retries of a throttled batch do not
#: make messages visible again while they are still being processed.
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT = 5

_SETTINGS_WITHOUT_CMK = (
    "The environment is contracts.control_plane_environment() (and the aggregator's dead-letter queue URL): names,"
    " ids, ARNs, currency, fee and grace periods, never a secret (the Stripe keys are read from Secrets Manager at"
    " run time, only the secret's ARN is here). Lambda encrypts it at rest with its AWS managed key."
)
_DRAINED_FROM_A_QUEUE = (
    "Only the SQS event source invokes the aggregator, synchronously; a message that fails"
    f" {MAX_RECEIVE_COUNT} receives moves to dead_letter_queue by the usage queue's redrive policy, and one"
    " that no retry can apply the aggregator sends there itself, with its reason."
)
_ALERTS_FROM_A_QUEUE = (
    "Only the SQS event source invokes the alert deliverer, synchronously; a message whose email fails"
    f" {MAX_RECEIVE_COUNT} receives moves to alert_dead_letter_queue by the alert queue's redrive policy (a webhook"
    " that keeps failing is given up by the deliverer itself, and recorded)."
)
_SCHEDULED_FAILURES_TO_DESTINATION = (
    "EventBridge invokes the scheduled run asynchronously, and a run that fails Lambda's retries goes to"
    " schedule_dead_letter_queue through an on-failure destination (AWS::Lambda::EventInvokeConfig), with its"
    " error; this check only reads the function's DeadLetterConfig."
)


class UsageBilling(Construct):
    """Meters usage from the control plane's bus into the table, reports it to Stripe and pays creators out.

    * ``usage_rule`` sends every ``UsageRecorded`` event (source ``api-direct.usage``)
      on ``event_bus`` to ``usage_queue``: encrypted, TLS only, usage kept 14 days.
    * ``aggregator`` drains ``usage_queue`` in batches of ``batch_size`` (gathered for
      up to ``max_batching_window``) and reports failures per message
      (``ReportBatchItemFailures``), so one bad record does not redeliver its batch.
      A record that can never be applied (unlisted API, another account's API) the
      aggregator sends to ``dead_letter_queue`` itself with its reason as the message
      attribute ``reason``; one that fails ``MAX_RECEIVE_COUNT`` times moves there too,
      and so does an event EventBridge could not deliver to ``usage_queue``: both hold
      the event itself, so one SQS redrive (``start-message-move-task``) replays them.
    * ``closer`` runs on ``close_schedule`` (every 15 minutes): it closes usage hours
      past their grace window and reports them to Stripe as meter events.
    * ``alert_queue`` holds usage alerts the aggregator fired (:mod:`~api_direct.control_plane.billing.alerting`)
      and webhook calls to retry, each delayed by its backoff; ``alert_deliverer`` drains it: an email through
      Amazon SES from ``alert_sender`` (a verified SES identity of this account; without one, no email) to the
      consumer's address, read from ``user_pool``, and the consumer's signed webhook. It may send as
      ``alert_sender`` alone (``ses:FromAddress``), list the pool's users and nothing else of Cognito. Alert
      messages that fail ``MAX_RECEIVE_COUNT`` times go to ``alert_dead_letter_queue``. The aggregator may write
      key events to ``table``'s outbox (relayed to ``event_bus`` by ``ControlPlaneApi.outbox``): a hard spend cap
      stops a subscription's keys (``KeyCapped``), as does used-up prepaid credit; so may ``closer``, whose prepaid
      credit work (auto-reloads, expiry) also sends alerts.
    * ``payer`` runs on ``payout_schedule`` (daily at 06:00 UTC): it transfers each
      creator's earnings of closed months through Stripe Connect.
      Scheduled events EventBridge could not deliver, and runs that failed after
      Lambda's retries, go to ``schedule_dead_letter_queue``; the next run picks up
      whatever a failed one left, so these are for an alarm, not for replay.

    ``close_rule`` and ``payout_rule`` are the two schedules, ``functions`` the three
    functions in that order, and :meth:`grant_redrive` lets an operator's role replay
    ``dead_letter_queue``.

    All three run the same ``bundle`` (the control plane app's, which holds the
    ``billing`` package and the Stripe SDK) with their own handler, the same
    ``environment`` (:func:`api_direct.contracts.control_plane_environment`), and read and write
    ``table``. Only ``closer`` and ``payer`` may read ``stripe_secret``. The bundle
    must have been built for ``runtime`` and ``architecture`` (3.12, arm64, as
    :class:`FastApiFunction` builds by default).

    Neither scheduled function reserves concurrency: a reservation of 1 would make
    runs strictly sequential, but Lambda refuses any reservation that leaves an
    account less than its minimum unreserved concurrency, which new accounts (with a
    quota of 10) always hit. A late retry can therefore overlap the next scheduled
    run, and async invocations may be delivered twice anyway; so the handlers must be
    idempotent (conditional writes on the table, Stripe idempotency keys): a second
    run must find nothing left to do. ``scheduled_concurrency=1`` reserves it in
    accounts whose quota allows.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        event_bus: events.IEventBus,
        bundle: Bundle,
        environment: Mapping[str, str],
        stripe_secret: secretsmanager.ISecret,
        user_pool: cognito.IUserPool,
        alert_sender: str | None = None,
        close_schedule: events.Schedule = DEFAULT_CLOSE_SCHEDULE,
        payout_schedule: events.Schedule = DEFAULT_PAYOUT_SCHEDULE,
        batch_size: int = 100,
        max_batching_window: Duration = Duration.seconds(5),
        aggregator_timeout: Duration = Duration.seconds(30),
        alert_timeout: Duration = Duration.seconds(60),
        visibility_timeout: Duration | None = None,
        scheduled_timeout: Duration = Duration.minutes(5),
        scheduled_concurrency: int | None = None,
        memory_size: int = 512,
        runtime: lambda_.Runtime | str = "3.12",
        architecture: lambda_.Architecture | str = "arm64",
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        minimum_visibility = (
            aggregator_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR + max_batching_window.to_seconds()
        )
        visibility_timeout = visibility_timeout or Duration.seconds(minimum_visibility)
        if visibility_timeout.to_seconds() < minimum_visibility:
            raise ValueError(
                f"UsageBilling visibility_timeout must be at least {VISIBILITY_TIMEOUT_FACTOR}x aggregator_timeout"
                f" plus max_batching_window ({minimum_visibility:g} s), got {visibility_timeout.to_seconds():g} s"
            )

        def billing_function(
            construct_id: str, handler: str, description: str, timeout: Duration, concurrency: int | None = None
        ) -> BundledFunction:
            function = BundledFunction(
                self,
                construct_id,
                bundle=bundle,
                handler=handler,
                description=description,
                runtime=runtime,
                architecture=architecture,
                memory_size=memory_size,
                timeout=timeout,
                log_retention=log_retention,
                environment=environment,
                reserved_concurrent_executions=concurrency,
            )
            skip_checkov(function, {"CKV_AWS_173": _SETTINGS_WITHOUT_CMK})
            for statement in table.grant_read_write_data(function).principal_statements:
                acknowledge_wildcards(
                    function.role or function,
                    statement,
                    "Billing queries the control plane table's indexes, and only this table's.",
                )
            return function

        self.dead_letter_queue = DeadLetterQueue(
            self, "UsageDeadLetters", holds="usage events that could not be delivered or applied"
        )
        self.usage_queue = _drained_queue(self, "Usage", self.dead_letter_queue, Duration.days(14), visibility_timeout)
        self.usage_rule = events.Rule(
            self,
            "UsageRule",
            event_bus=event_bus,
            description="Usage recorded in creators' accounts, to be aggregated per hour",
            event_pattern=events.EventPattern(source=[USAGE_SOURCE], detail_type=[USAGE_DETAIL_TYPE]),
            targets=[
                targets.SqsQueue(
                    self.usage_queue,
                    dead_letter_queue=self.dead_letter_queue,
                    # EventBridge's most: usage is revenue, worth a day of retries before it is parked.
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

        self.aggregator: lambda_.Function = billing_function(
            "Aggregator", AGGREGATE_HANDLER, "Aggregates metered usage into hourly totals", aggregator_timeout
        )
        skip_checkov(self.aggregator, {"CKV_AWS_116": _DRAINED_FROM_A_QUEUE})
        # A record no retry can apply goes straight to the dead-letter queue, with its reason attached.
        self.aggregator.add_environment(DEAD_LETTER_URL_ENV, self.dead_letter_queue.queue_url)
        self.dead_letter_queue.grant_send_messages(self.aggregator)
        self.aggregator.add_event_source(
            event_sources.SqsEventSource(
                self.usage_queue,
                batch_size=batch_size,
                max_batching_window=max_batching_window,
                report_batch_item_failures=True,
            )
        )

        self._alerts(user_pool, alert_sender, billing_function, alert_timeout)

        self.schedule_dead_letter_queue = DeadLetterQueue(
            self, "ScheduleDeadLetters", holds="the close and payout schedules (undelivered events and failed runs)"
        )
        self.closer: lambda_.Function = billing_function(
            "Closer",
            CLOSE_HANDLER,
            "Closes usage hours past their grace window and reports them to Stripe",
            scheduled_timeout,
            scheduled_concurrency,
        )
        self.payer: lambda_.Function = billing_function(
            "Payer",
            PAY_OUT_HANDLER,
            "Pays creators their earnings of closed months through Stripe Connect",
            scheduled_timeout,
            scheduled_concurrency,
        )
        self.close_rule = self._schedule("CloseSchedule", self.closer, close_schedule, "Closes metered usage hours")
        self.payout_rule = self._schedule("PayoutSchedule", self.payer, payout_schedule, "Pays creators out")
        for scheduled in (self.closer, self.payer):
            stripe_secret.grant_read(scheduled)
        # Prepaid credit's scheduled work (auto-reloads, expiry) caps keys and alerts consumers, as the aggregator does.
        self.closer.add_environment(ALERT_QUEUE_URL_ENV, self.alert_queue.queue_url)
        self.alert_queue.grant_send_messages(self.closer)
        # A retired listing's sweep removes its key-forwarding rule (made by the app at publish): rules of that name
        # on this bus only.
        retired_rules = iam.PolicyStatement(
            actions=["events:RemoveTargets", "events:DeleteRule"],
            resources=[
                Stack.of(self).format_arn(
                    service="events", resource="rule", resource_name=f"{event_bus.event_bus_name}/{KEY_RULE_PREFIX}*"
                )
            ],
        )
        self.closer.add_to_role_policy(retired_rules)
        acknowledge_wildcards(
            self.closer.role or self.closer,
            retired_rules,
            "Each published API has its key-forwarding rule, made when it is published: the closer removes a retired"
            " one's, so the rules are scoped by name to this bus's key rules.",
        )

        self.functions: tuple[lambda_.Function, ...] = (
            self.aggregator,
            self.alert_deliverer,
            self.closer,
            self.payer,
        )

    def _alerts(
        self,
        user_pool: cognito.IUserPool,
        sender: str | None,
        billing_function: Any,
        timeout: Duration,
    ) -> None:
        """The alert queue, its deliverer, and what each end may do (see the class's docstring)."""
        self.alert_dead_letter_queue = DeadLetterQueue(
            self, "AlertDeadLetters", holds="usage alerts whose email could not be sent"
        )
        self.alert_queue = _drained_queue(
            self,
            "Alerts",
            self.alert_dead_letter_queue,
            Duration.days(4),
            Duration.seconds(timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
        )
        self.alert_deliverer: lambda_.Function = billing_function(
            "AlertDeliverer", DELIVER_ALERTS_HANDLER, "Emails usage alerts and calls consumers' webhooks", timeout
        )
        skip_checkov(self.alert_deliverer, {"CKV_AWS_116": _ALERTS_FROM_A_QUEUE})
        self.alert_deliverer.add_event_source(
            event_sources.SqsEventSource(self.alert_queue, batch_size=10, report_batch_item_failures=True)
        )
        for function in (self.aggregator, self.alert_deliverer):
            function.add_environment(ALERT_QUEUE_URL_ENV, self.alert_queue.queue_url)
            self.alert_queue.grant_send_messages(function)
        self.alert_deliverer.add_to_role_policy(
            iam.PolicyStatement(actions=["cognito-idp:ListUsers"], resources=[user_pool.user_pool_arn])
        )
        if sender is not None:
            stack = Stack.of(self)
            identities = [
                stack.format_arn(service="ses", resource="identity", resource_name=name)
                for name in (sender, sender.rpartition("@")[2])
            ]
            self.alert_deliverer.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail"],
                    resources=identities,
                    conditions={"StringEquals": {"ses:FromAddress": sender}},
                )
            )

    def _schedule(
        self, construct_id: str, function: lambda_.Function, schedule: events.Schedule, description: str
    ) -> events.Rule:
        """Runs ``function`` on ``schedule``; a run that cannot start within the hour is skipped for the next."""
        function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.schedule_dead_letter_queue),
        )
        skip_checkov(function, {"CKV_AWS_116": _SCHEDULED_FAILURES_TO_DESTINATION})
        return events.Rule(
            self,
            construct_id,
            description=description,
            schedule=schedule,
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.schedule_dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

    def grant_redrive(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` inspect ``dead_letter_queue`` and move its usage back to ``usage_queue``."""
        return (
            self.dead_letter_queue.grant_consume_messages(grantee)
            .combine(self.dead_letter_queue.grant(grantee, "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"))
            .combine(self.usage_queue.grant_send_messages(grantee))
        )


def _drained_queue(
    scope: Construct, construct_id: str, dead_letters: sqs.IQueue, retention: Duration, visibility_timeout: Duration
) -> sqs.Queue:
    """A queue a function drains: TLS only, SQS-managed encryption, and a message failing too often to ``dead_letters``."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
    )
    skip_checkov(queue, {"CKV_AWS_27": SQS_MANAGED_ENCRYPTION})
    return queue
