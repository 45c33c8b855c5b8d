"""The patch to moto's Lambda: functions keep the architecture their template gives them.

Named ``lambda_`` because ``lambda`` is a keyword.
"""

import contextlib
from typing import Any, cast

from api_direct.local.emulator.moto_hooks import after_cloudformation_handlers, register_resource_type


def lambda_architectures_applied() -> None:
    """``AWS::Lambda::Function`` gets the ``Architectures`` of its template.

    moto's CloudFormation handler for functions passes only some properties to
    ``CreateFunction`` and drops ``Architectures``, so our arm64 functions come out
    as x86_64 (moto's default), while real CloudFormation creates them for arm64,
    the platform our bundles' compiled wheels are built for. The patch sets the
    template's architectures (through moto's own validating setter) after moto
    creates or updates the function.
    """
    from moto.awslambda.models import LambdaFunction

    def apply(function: LambdaFunction, properties: dict[str, Any]) -> None:
        function.architectures = properties.get("Architectures", ["x86_64"])

    after_cloudformation_handlers(LambdaFunction, apply)


def lambda_version_resource() -> None:
    """``AWS::Lambda::Version`` is referenced by its ARN and ``Version``, and keeps its description.

    moto's handler publishes the version but names it by its logical id: ``Ref``
    is then no ARN and ``Fn::GetAtt [..., Version]`` fails, so an alias cannot
    name it; and it drops ``Description`` (which ``apid versions`` shows). Real
    CloudFormation's ``Ref`` is the version's ARN, ``Version`` its number. The
    patch publishes through moto's backend with the template's description and
    answers both; deleting the resource keeps the version, as the
    ``DeletionPolicy: Retain`` our versions carry does.
    """
    from moto.awslambda.models import lambda_backends

    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnVersion(EmulatedResource):
        __module__ = "moto.awslambda.models"
        TYPE = "AWS::Lambda::Version"
        ATTRIBUTES = {"Version": "version"}

        def __init__(self, function: Any) -> None:
            self.physical_id: str = function.function_arn
            self.version = str(function.version)

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnVersion":
            backend = lambda_backends[account_id][region]
            return cls(backend.publish_version(properties["FunctionName"], properties.get("Description", "")))

    register_resource_type(CfnVersion)


def lambda_alias_resource() -> None:
    """Create ``AWS::Lambda::Alias`` resources instead of skipping them.

    moto has no handler for aliases, so the alias our API Gateway integration
    invokes never exists and a rollback has nothing to move. The patch creates,
    updates (``FunctionVersion``, ``Description``, ``RoutingConfig``) and deletes
    it through moto's Lambda backend, with the alias ARN as ``Ref``. What it does
    not model: an ``UpdatePolicy`` with CodeDeploy (a canary) moves the alias at
    once here, where AWS shifts traffic over the canary's interval.
    """
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnAlias(EmulatedResource):
        __module__ = "moto.awslambda.models"
        TYPE = "AWS::Lambda::Alias"
        ATTRIBUTES = {"AliasArn": "physical_id"}

        def __init__(self, arn: str, function_name: str, name: str) -> None:
            self.physical_id, self.function_name, self.name = arn, function_name, name

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnAlias":
            alias = lambda_backends[account_id][region].create_alias(
                name=properties["Name"],
                function_name=properties["FunctionName"],
                function_version=str(properties["FunctionVersion"]),
                description=properties.get("Description", ""),
                routing_config=properties.get("RoutingConfig") or "",
            )
            return cls(alias.arn, properties["FunctionName"], properties["Name"])

        @classmethod
        def update(
            cls, original: "CfnAlias", name: str, properties: dict[str, Any], account_id: str, region: str
        ) -> "CfnAlias":
            lambda_backends[account_id][region].update_alias(
                name=original.name,
                function_name=original.function_name,
                function_version=str(properties["FunctionVersion"]),
                description=properties.get("Description", ""),
                # An update without RoutingConfig removes a split, as CloudFormation's does (moto types it a str).
                routing_config=cast(Any, properties.get("RoutingConfig", {})),
            )
            return original

        def delete(self, account_id: str, region_name: str) -> None:
            # moto deletes a stack's resources in no dependency order: the function may be gone, and its aliases with it.
            with contextlib.suppress(UnknownFunctionException):
                lambda_backends[account_id][region_name].delete_alias(self.name, self.function_name)

    register_resource_type(CfnAlias)
