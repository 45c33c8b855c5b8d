"""Where events and invocations go when every retry failed, instead of vanishing."""

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class DeadLetterQueue(sqs.Queue):
    """An encrypted, TLS-only queue that keeps failures for 14 days, long enough to notice and replay.

    ``holds`` says whose failures it keeps; it becomes the reason cdk-nag's
    "queue has no dead-letter queue" rule does not apply (it *is* one).
    """

    def __init__(self, scope: Construct, construct_id: str, *, holds: str) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(id="AwsSolutions-SQS3", reason=f"This queue is itself the dead-letter queue of {holds}.")
        )
