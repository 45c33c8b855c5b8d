"""The patch to moto's DynamoDB: a transaction costs the same however large its table is, and is isolated.

First a speed fix: through the emulator the usage aggregator slowed as its table
filled. ``bench/metering.py`` applies it in process too. Then a correctness one the
first calls for: DynamoDB serializes a transaction with every other write to its
items, and the sandbox writes from several threads at once (a scheduled function
and the control plane's webhook, say); a cancelled transaction putting back its
snapshot must not put back over a write made meanwhile.
"""

import copy
from collections.abc import Callable
from typing import Any


def transactions_snapshot_only_their_items() -> None:
    """A DynamoDB transaction costs the same however large its table is.

    Before it starts, moto's ``transact_write_items`` deep-copies the whole table
    once per operation, to put it back if the transaction is cancelled: a
    transaction's cost grows with the table's size times its operations. Through
    the emulator the usage aggregator slowed as the table filled (66 records/s at a
    few hundred items, 71% of the time in ``copy.deepcopy``). DynamoDB's
    transactions do not slow with table size. The patch keeps moto's transaction
    logic and its cancellation reasons; while a transaction runs, its table
    "copies" are the tables themselves, and on any failure only the items the
    transaction names (and the stream records it added) are put back.
    """
    import threading

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    running = threading.local()
    #: Held by every write: a transaction (from its snapshot to its commit or undo) and each single-item write.
    writing = threading.RLock()

    class TransactionCopy:
        """``copy`` as ``moto.dynamodb.models`` sees it: no table copies inside a transaction."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(node: Any, memo: dict[int, Any] | None = None) -> Any:
            if isinstance(node, Table) and getattr(running, "active", False):
                return node
            return copy.deepcopy(node, memo)

    def snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[Callable[[], None]]:
        """For each item the transaction names, how to put it back as it is now."""
        undo: list[Callable[[], None]] = []
        for entry in transact_items:
            op: dict[str, Any] = next(iter(entry.values()), {})
            try:
                table = backend.get_table(op["TableName"])
                keys = op["Item"] if "Item" in op else op["Key"]
                hash_key, range_key = backend.get_keys_value(table, keys)
            except Exception:  # moto refuses this operation itself; it writes nothing to put back
                continue
            undo.append(restorer(table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            if table.stream_shard is not None:
                undo.append(truncater(table.stream_shard, len(table.stream_shard.items)))
        return undo

    def truncater(shard: Any, length: int) -> Callable[[], None]:
        """How to drop the stream records written after the shard had ``length``."""
        return lambda: shard.items.__delitem__(slice(length, None))

    def restorer(table: Table, hash_key: Any, range_key: Any, item: Any) -> Callable[[], None]:
        def restore() -> None:
            if range_key is None:
                table.items.pop(hash_key, None)
                if item is not None:
                    table.items[hash_key] = item
                return
            table.items[hash_key].pop(range_key, None)
            if item is not None:
                table.items[hash_key][range_key] = item
            elif not table.items[hash_key]:
                del table.items[hash_key]

        return restore

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with writing:
            undo = snapshot(self, transact_items)
            running.active = True
            try:
                original(self, transact_items)
            except Exception:
                for step in reversed(undo):
                    step()
                raise
            finally:
                running.active = False

    def serialized(write: Callable[..., Any]) -> Callable[..., Any]:
        def one_write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with writing:
                return write(self, *args, **kwargs)

        return one_write

    models.copy = TransactionCopy()  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(models.DynamoDBBackend, name, serialized(getattr(models.DynamoDBBackend, name)))


def stream_records_kept_for_their_mapping() -> None:
    """A table's stream keeps its records for the function its event source mapping names, as Lambda polls it.

    With a mapping on a table's stream, moto runs the function on every write (in
    Docker, which the emulator does not have) and empties the shard once it has:
    a write would then fail or its record vanish. The patch only appends the record,
    and the sandbox hands the stream to the function as the mapping does
    (``local.event_sources.drain_stream``).
    """
    from moto.dynamodb.models.table import StreamRecord, StreamShard

    def add(self: StreamShard, old: Any, new: Any) -> None:
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
        sequence_number = len(self.items) + self.starting_sequence_number
        self.items.append(StreamRecord(self.table, view, event_name, old, new, sequence_number))

    StreamShard.add = add  # type: ignore[method-assign]
