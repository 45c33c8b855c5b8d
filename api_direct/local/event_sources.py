"""The services that invoke our functions in AWS, played on one machine.

Each function here builds the event an AWS service would hand a function (the
shapes AWS documents, which the handlers' Powertools data classes parse) and runs
the deployed function with it through :class:`LocalLambda`: an SQS event source
mapping draining a queue, a DynamoDB stream's event source mapping, an EventBridge schedule firing at a given time, a
Cognito trigger, a CloudWatch Logs subscription, and the EventBridge rules whose
Lambda targets the emulator records instead of running (see
``emulator.lambda_targets_recorded_not_run``).
"""

import base64
import gzip
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from api_direct.local.lambda_runtime import DeployedFunction, LocalLambda

#: Where the emulator writes the events a rule delivered to a Lambda target.
RECORDED_EVENTS_GROUP = "/emulator/lambda/{function}"
_SQS_BATCH = 10
#: A stream event source mapping's default batch size.
_STREAM_BATCH = 100


def drain_queue(sqs: Any, queue_url: str, runtime: LocalLambda, function: DeployedFunction) -> int:
    """Hand the queue's messages to the function in batches until it is empty, as an event source mapping does.

    Messages the function reports in ``batchItemFailures`` stay on the queue (for the
    redrive policy to deal with, as in AWS); the others are deleted. Returns how many
    messages were processed successfully.
    """
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    done = 0
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=_SQS_BATCH, MessageAttributeNames=["All"], AttributeNames=["All"]
    ).get("Messages", []):
        response = runtime.invoke(function, sqs_event(messages, attributes["QueueArn"], sqs.meta.region_name))
        failed = {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        if succeeded:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(succeeded)],
            )
        done += len(succeeded)
        if failed:
            break  # they become visible again after the visibility timeout; not within this drain
    return done


def drain_stream(
    streams: Any,
    stream_arn: str,
    invoke: Callable[[dict[str, Any]], Mapping[str, Any] | None],
    checkpoints: dict[str, str],
    wanted: Callable[[Mapping[str, Any]], bool] = lambda record: True,
) -> int:
    """Hand a DynamoDB stream's new records to a function in batches, as its event source mapping does; how many
    records it took.

    ``checkpoints`` (shard id -> the last sequence number taken) is where each shard
    resumes, so a record is handed over once however often this runs. Records that
    ``wanted`` refuses are passed over, as the mapping's filter criteria do. A record the
    function names in ``batchItemFailures`` stops its shard there: the checkpoint stays
    before it, and the next drain hands it (and those after it) over again, as Lambda
    retries a stream from the first failure.
    """
    done = 0
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        shard_id = shard["ShardId"]
        while True:
            after = checkpoints.get(shard_id)
            start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after else {}
            iterator = streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, **(start or {"ShardIteratorType": "TRIM_HORIZON"})
            )["ShardIterator"]
            records = streams.get_records(ShardIterator=iterator, Limit=_STREAM_BATCH)["Records"]
            if not records:
                break
            batch = [_lambda_record(record, stream_arn) for record in records if wanted(record)]
            response = invoke({"Records": batch}) if batch else None
            failed = [failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])]
            taken = _before_first(records, failed[0]) if failed else records
            if taken:
                checkpoints[shard_id] = taken[-1]["dynamodb"]["SequenceNumber"]
            done += sum(1 for record in taken if wanted(record))
            if failed:
                break
    return done


def _lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record as Lambda hands it over: its source named, its creation time in epoch seconds (boto3 parsed it)."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}


def _before_first(records: list[Mapping[str, Any]], sequence_number: str) -> list[Mapping[str, Any]]:
    """The records before the one with ``sequence_number``."""
    numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
    return records[: numbers.index(sequence_number)]


def sqs_event(messages: list[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "messageAttributes": {
                    name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
                    for name, value in m.get("MessageAttributes", {}).items()
                },
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def scheduled_event(at: datetime, rule_arn: str, account_id: str, region: str) -> dict[str, Any]:
    """What an EventBridge schedule sends when it fires; ``time`` is when the run was due."""
    return {
        "version": "0",
        "id": f"sandbox-{int(at.timestamp())}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def post_confirmation_event(user_pool_id: str, client_id: str, user: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Cognito's PostConfirmation trigger event for a user just confirmed (``AdminGetUser``'s answer)."""
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    return {
        "version": "1",
        "region": region,
        "userPoolId": user_pool_id,
        "userName": user["Username"],
        "callerContext": {"awsSdkVersion": "sandbox", "clientId": client_id},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": attributes},
        "response": {},
    }


def log_subscription_event(log_group: str, account_id: str, events: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What CloudWatch Logs hands a subscription's function: base64 of gzip of the JSON batch."""
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": log_group,
        "logStream": "access",
        "subscriptionFilters": ["usage"],
        "logEvents": [{"id": e["eventId"], "timestamp": e["timestamp"], "message": e["message"]} for e in events],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()}}


def deliver_log_group(
    logs: Any, log_group: str, account_id: str, runtime: LocalLambda, function: DeployedFunction, delivered: set[str]
) -> int:
    """Send the log group's lines not in ``delivered`` yet to its subscription's function, in one delivery; how many.

    ``delivered`` (log event ids) is updated once the function has taken them, so each
    line is delivered once however often this runs, as a subscription delivers it,
    and a delivery that failed is tried again with the lines that came since.
    """
    events = [
        event
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group)
        for event in page["events"]
        if event["eventId"] not in delivered
    ]
    if events:
        runtime.invoke(function, log_subscription_event(log_group, account_id, events))
        delivered.update(event["eventId"] for event in events)
    return len(events)


def deliver_recorded_events(logs: Any, runtime: LocalLambda, function: DeployedFunction, delivered: set[str]) -> int:
    """Run the function on each event a rule delivered to it that is not in ``delivered`` yet; how many.

    The emulator records them in a log group per function instead of invoking it;
    ``delivered`` (log event ids) is updated, so each event runs once.
    """
    group = RECORDED_EVENTS_GROUP.format(function=function.name)
    try:
        pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group))
    except logs.exceptions.ResourceNotFoundException:
        return 0
    fresh = [event for page in pages for event in page["events"] if event["eventId"] not in delivered]
    for event in fresh:
        runtime.invoke(function, json.loads(event["message"]))
        delivered.add(event["eventId"])
    return len(fresh)
