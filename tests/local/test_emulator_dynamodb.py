"""The emulator's DynamoDB patch isolates a transaction from every other write, as DynamoDB does.

The sandbox writes from several threads at once (a scheduled function charging a
reload while the control plane's webhook records the same payment). A cancelled
transaction puts back the items it named as they were before it; if another
thread wrote one of them meanwhile, putting it back must not undo that write. The
test makes that interleaving happen on purpose, in process: while the transaction
runs (checking its conditional Put's marker, after its ADD), another thread ADDs to
the same counter and is given time to finish.
"""

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from api_direct.local.emulator.dynamodb import transactions_snapshot_only_their_items
from tests.dynamodb_transactions import count_and_mark, transaction_table

REGION = "us-east-1"
COUNTER = {"pk": {"S": "counter"}, "sk": {"S": "c"}}


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto with the emulator's patch, in this process for this test only (the rest of the process keeps moto)."""
    from moto.dynamodb import models

    for name in ("transact_write_items", "put_item", "update_item", "delete_item"):
        monkeypatch.setattr(models.DynamoDBBackend, name, getattr(models.DynamoDBBackend, name))
    monkeypatch.setattr(models, "copy", models.copy)
    transactions_snapshot_only_their_items()


def add_one() -> None:
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName="tx", Key=COUNTER, UpdateExpression="ADD calls :one", ExpressionAttributeValues={":one": {"N": "1"}}
    )


def test_a_cancelled_transaction_never_puts_back_over_a_write_made_meanwhile(
    patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb import models

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        transaction_table(dynamodb)
        dynamodb.put_item(TableName="tx", Item={"pk": {"S": "seen"}, "sk": {"S": "m"}})
        meanwhile = threading.Thread(target=add_one)
        get_item = models.DynamoDBBackend.get_item

        def read_while_another_thread_writes(self: Any, table_name: str, keys: Any, *args: Any, **kwargs: Any) -> Any:
            if keys["pk"] == {"S": "seen"} and meanwhile.ident is None:
                meanwhile.start()
                meanwhile.join(0.5)  # long enough for an unisolated write to land inside the transaction
            return get_item(self, table_name, keys, *args, **kwargs)

        monkeypatch.setattr(models.DynamoDBBackend, "get_item", read_while_another_thread_writes)
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):
            dynamodb.transact_write_items(TransactItems=count_and_mark("seen"))
        meanwhile.join()
        counter = dynamodb.get_item(TableName="tx", Key=COUNTER)["Item"]
    # 1 to start with, the transaction's ADD undone, the other thread's ADD kept.
    assert counter["calls"] == {"N": "2"}
