"""The control plane's event bus: who may send usage, and where key events go.

Usage from creators' accounts is admitted per linked account (a bus permission
added on link and removed on unlink), never to the world or the organisation.
Key events (``KEY_EVENT_TYPES``: issued, revoked, plan changed, suspended, restored, capped, uncapped) are
put here by the outbox relay (:mod:`~api_direct.control_plane.api.outbox`), and a rule
per listed API forwards them to the key bus in that API's account
(``apid-<api>-keys``, created by the API stack, which admits only this account).
"""

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from api_direct.contracts import CONTROL_PLANE_SOURCE, KEY_EVENT_TYPES, KEY_RULE_PREFIX, creator_key_bus_arn


class ControlPlaneBus:
    def __init__(self, events: Any, bus_name: str, forwarding_role_arn: str | None) -> None:
        self._events = events
        self._bus = bus_name
        self._role = forwarding_role_arn

    def admit_account(self, account_id: str) -> None:
        self._events.put_permission(
            EventBusName=self._bus,
            Action="events:PutEvents",
            Principal=account_id,
            StatementId=_statement_id(account_id),
        )

    def remove_account(self, account_id: str) -> None:
        try:
            self._events.remove_permission(EventBusName=self._bus, StatementId=_statement_id(account_id))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def route_keys(self, api_id: str, account_id: str, region: str, stage: str | None = None) -> None:
        """Forward this API's key events to the key bus of its published stage, in its account (idempotent)."""
        name = _rule_name(api_id)
        self._events.put_rule(
            Name=name,
            EventBusName=self._bus,
            State="ENABLED",
            EventPattern=json.dumps(
                {"source": [CONTROL_PLANE_SOURCE], "detail-type": list(KEY_EVENT_TYPES), "detail": {"api": [api_id]}}
            ),
            Description=f"API-Direct: key events of {api_id} to its account",
        )
        target: dict[str, str] = {
            "Id": "creator-key-bus",
            "Arn": creator_key_bus_arn(account_id, region, api_id, stage),
        }
        if self._role:
            target["RoleArn"] = self._role
        self._events.put_targets(Rule=name, EventBusName=self._bus, Targets=[target])

    def unroute_keys(self, api_id: str) -> None:
        """Stop forwarding this API's key events (its listing retired); nothing to do if the rule is gone already."""
        name = _rule_name(api_id)
        try:
            self._events.remove_targets(Rule=name, EventBusName=self._bus, Ids=["creator-key-bus"])
            self._events.delete_rule(Name=name, EventBusName=self._bus)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def send(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        """Put one key event, its detail as :mod:`~api_direct.control_plane.api.outbox` wrote it (``api``,
        ``event_id``, ``issued_at``); raises :class:`KeyEventNotSent` when the bus refuses it or cannot be reached.
        """
        try:
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": CONTROL_PLANE_SOURCE,
                        "DetailType": detail_type,
                        "EventBusName": self._bus,
                        "Detail": json.dumps(detail),
                    }
                ]
            )
        except ClientError as error:
            reason = error.response.get("Error", {}).get("Code", "error")
            raise KeyEventNotSent(f"could not send {detail_type} {detail.get('event_id')}: {reason}") from None
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise KeyEventNotSent(
                f"could not send {detail_type} {detail.get('event_id')}: {entry.get('ErrorMessage', 'unknown')}"
            )


class KeyEventNotSent(RuntimeError):
    """The bus did not take a key event: the outbox relay fails its record, and Lambda retries it."""


def _statement_id(account_id: str) -> str:
    return f"apid-linked-{account_id}"


def _rule_name(api_id: str) -> str:
    return f"{KEY_RULE_PREFIX}{api_id}"[:64]
