"""Patches to moto's EventBridge: ``Ref`` to a bus, events for Lambda targets, events' account.

The key store's rule and the control plane's usage aggregator ride on EventBridge;
these make moto's buses deliver what EventBridge delivers.
"""

import json
import time


def event_bus_ref_is_its_name() -> None:
    """``Ref`` to an ``AWS::Events::EventBus`` gives the bus name.

    moto's ``EventBus`` has no ``physical_resource_id``, so moto's ``Ref``
    resolution returns the Python object itself and an ``AWS::Events::Rule`` with
    ``EventBusName: {"Ref": bus}`` fails with a 500 (``'EventBus' object has no
    attribute 'split'``). Real CloudFormation documents ``Ref`` of an event bus as
    its name, which is what our key store's rule relies on; the template is correct.
    """
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def lambda_targets_recorded_not_run() -> None:
    """Deliver an EventBridge rule's event for a Lambda target into a log group instead of running it.

    moto's rules cannot deliver to Lambda targets (``send_to_targets`` raises
    ``NotImplementedError``, so the whole ``PutEvents`` fails with a 500), and moto
    could not run the function anyway: it runs Lambda code only in Docker. Real
    EventBridge invokes the function asynchronously and ``PutEvents`` succeeds. The
    patch writes the event the function would have received, as JSON, to the log
    group ``/emulator/lambda/<function name>``, so tests can assert that it arrived.
    """
    from moto.events.models import Rule, parse_arn
    from moto.events.utils import EventMessageType
    from moto.logs.models import logs_backends

    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        functions = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        for target in functions:
            arn = parse_arn(target["Arn"])
            logs = logs_backends[arn.account][arn.region]
            group = f"/emulator/lambda/{arn.resource_id}"
            if group not in logs.groups:
                logs.create_log_group(group, {})
                logs.create_log_stream(group, "events")
            logs.put_log_events(
                group,
                "events",
                [{"timestamp": int(time.time() * 1000), "message": json.dumps(original_event, default=str)}],
            )
        saved = self.targets
        self.targets = [t for t in saved if t not in functions]
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def delivered_events_name_their_account() -> None:
    """Events EventBridge delivers to a target carry ``account``, the account that sent them.

    moto's default target input template leaves ``account`` out (its paths map has
    it, the template does not), so an SQS target receives events without it. Real
    EventBridge always includes it; the control plane's aggregator relies on it to
    check that usage comes from the account the API is listed from.
    """
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
        '"version": "0",', '"version": "0", "account": "<account>",'
    )
