"""The control plane's key events, relayed from its table's stream to its bus."""

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from api_direct.bundling.build import Bundle
from api_direct.constructs.acknowledgments import acknowledge, skip_checkov
from api_direct.constructs.bundled_function import BundledFunction
from api_direct.constructs.dead_letters import DeadLetterQueue
from api_direct.contracts import OUTBOX_PREFIX, OUTBOX_SK, PK, SK

RELAY_HANDLER = "api_direct.control_plane.api.outbox.relay"
#: How often Lambda retries a batch the relay failed (halving it each time) before its records go to the dead letters.
RELAY_RETRY_ATTEMPTS = 10

_SETTINGS_WITHOUT_CMK = (
    "The environment is contracts.control_plane_environment(): names, ids and ARNs, never a secret."
    " Lambda encrypts it at rest with its AWS managed key."
)
_INVOKED_BY_THE_STREAM = (
    "Only the table stream's event source mapping invokes the relay, synchronously; a record it fails"
    f" {RELAY_RETRY_ATTEMPTS} retries for goes to dead_letter_queue through the mapping's on-failure destination."
)


class KeyEventOutbox(Construct):
    """Relays the key events the app writes to ``table`` (outbox items, ``pk=OUTBOX#<event id>``) to ``event_bus``.

    ``table`` must have a stream with new images. ``function`` (the control plane's
    ``bundle`` with the :data:`RELAY_HANDLER` handler and ``environment``) reads it
    through an event source mapping that lets only new outbox items through (filter
    criteria: nothing else in the table invokes it), in batches of ``batch_size``,
    and reports failures per record: Lambda retries from the first failed one, halves
    a failing batch to find it, gives up after :data:`RELAY_RETRY_ATTEMPTS` retries
    or a day, and then sends the record's stream position to ``dead_letter_queue``
    (the outbox item itself stays in the table until its TTL, two days, to replay
    from). A retry may put an event twice: the API's key sync ignores one it has
    applied (``issued_at``, ``event_id``).

    ``alarms``: the dead-letter queue holding anything, and the stream's oldest
    unrelayed record older than ``max_delay`` (key changes not yet in the APIs'
    accounts). Neither has an action: the operator attaches theirs.
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
        batch_size: int = 100,
        max_delay: Duration = Duration.minutes(5),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = DeadLetterQueue(
            self, "DeadLetters", holds="the key event relay (stream records it could not put on the bus)"
        )
        self.function: lambda_.Function = BundledFunction(
            self,
            "Relay",
            bundle=bundle,
            handler=RELAY_HANDLER,
            description="Relays key events from the control plane table's outbox to its event bus",
            timeout=Duration.seconds(30),
            log_retention=log_retention,
            environment=environment,
        )
        skip_checkov(self.function, {"CKV_AWS_116": _INVOKED_BY_THE_STREAM, "CKV_AWS_173": _SETTINGS_WITHOUT_CMK})
        event_bus.grant_put_events_to(self.function)
        self.function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                bisect_batch_on_error=True,
                retry_attempts=RELAY_RETRY_ATTEMPTS,
                max_record_age=Duration.days(1),
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.dead_letter_queue),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": lambda_.FilterRule.is_equal("INSERT"),
                            "dynamodb": {
                                "Keys": {
                                    PK: {"S": lambda_.FilterRule.begins_with(OUTBOX_PREFIX)},
                                    SK: {"S": lambda_.FilterRule.is_equal(OUTBOX_SK)},
                                }
                            },
                        }
                    )
                ],
            )
        )
        acknowledge(
            self.function.role or self.function,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which the DynamoDB event source grants, names no stream (IAM has no resource for"
            " it); reading records is granted on this table's stream alone.",
        )
        self.alarms: tuple[cloudwatch.Alarm, ...] = (
            cloudwatch.Alarm(
                self,
                "DeadLettersAlarm",
                alarm_description="Key events the outbox relay gave up on: replay them from the table's outbox items",
                metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "DelayAlarm",
                alarm_description="Key events are waiting in the outbox: the relay is failing or behind",
                metric=self.function.metric(
                    "IteratorAge", statistic=cloudwatch.Stats.MAXIMUM, period=Duration.minutes(1)
                ),
                threshold=max_delay.to_milliseconds(),
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        )
