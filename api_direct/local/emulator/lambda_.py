"""The patch to moto's Lambda: functions keep the architecture their template gives them.

Named ``lambda_`` because ``lambda`` is a keyword.
"""

from typing import Any

from api_direct.local.emulator.moto_hooks import after_cloudformation_handlers


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
