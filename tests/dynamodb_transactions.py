"""A table and a transaction to probe DynamoDB's transactions with: a counter ADDed to, and a marker Put only if
it is not there yet (so a transaction naming an existing marker is cancelled). Shared by the emulator's tests."""

from typing import Any


def transaction_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="tx",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
    )
    dynamodb.put_item(TableName="tx", Item={"pk": {"S": "counter"}, "sk": {"S": "c"}, "calls": {"N": "1"}})


def count_and_mark(marker: str) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": "tx",
                "Key": {"pk": {"S": "counter"}, "sk": {"S": "c"}},
                "UpdateExpression": "ADD calls :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "Put": {
                "TableName": "tx",
                "Item": {"pk": {"S": marker}, "sk": {"S": "m"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
