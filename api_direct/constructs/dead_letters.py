"""Where events and invocations go when every retry failed, instead of vanishing."""

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from api_direct.constructs.acknowledgments import skip_checkov

#: Why checkov's CKV_AWS_27 ("queue is encrypted") does not apply to API-Direct's SSE-SQS queues.
SQS_MANAGED_ENCRYPTION = (
    "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled); checkov's CloudFormation check only"
    " recognises KMS (KmsMasterKeyId). API-Direct's queues share one encryption, and most take EventBridge"
    " deliveries, which a queue encrypted with SQS's AWS managed key refuses (its key policy cannot admit"
    " events.amazonaws.com); a customer managed key would add a key charge and a key policy to every account"
    " the stack deploys to."
)


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
        skip_checkov(self, {"CKV_AWS_27": SQS_MANAGED_ENCRYPTION})
