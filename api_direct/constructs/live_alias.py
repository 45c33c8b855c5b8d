"""The ``live`` alias API Gateway invokes: on the version each release publishes, moved back by a rollback.

Why an alias and not the function itself: a version is an immutable copy of code
and settings, so moving an alias back to an older one is a rollback that takes one
Lambda API call (``apid rollback``), not a CloudFormation update; and CodeDeploy
can shift an alias's traffic gradually (``apid deploy --canary``), as SAM's
``AutoPublishAlias`` with a ``DeploymentPreference`` does.
"""

import hashlib
import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from api_direct.canary import Canary
from api_direct.constructs.acknowledgments import acknowledge
from api_direct.constructs.fastapi_function import FastApiFunction
from api_direct.contracts import LIVE_ALIAS, app_version_logical_id

#: The share of a minute's requests answered 5xx above which a canary is rolled back.
SERVER_ERROR_RATE = 0.05


def version_config_digest(settings: Mapping[str, object]) -> str:
    """A digest of the settings a version freezes besides its code (memory, timeout, environment...)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class LiveAlias(Construct):
    """A version of ``function`` for its current code and ``settings``, and the ``live`` alias on it.

    ``settings`` are the function's version-locked settings as plain values; with the
    bundle's hash they name the version (:func:`~api_direct.contracts.app_version_logical_id`),
    so CloudFormation publishes one exactly when either changes. Versions are kept
    when the stack moves on (``RETAIN``): they are what a rollback goes back to.
    ``description`` says which release a version is (shown by ``apid versions``).

    Exposes ``version``, ``alias`` (pass it where the function would go) and, once
    :meth:`shift_gradually` is called, ``deployment_group``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: FastApiFunction,
        settings: Mapping[str, object],
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config_digest = version_config_digest(settings)
        self.version = lambda_.Version(
            self, "Version", lambda_=function, description=description, removal_policy=RemovalPolicy.RETAIN
        )
        cfn_version = self.version.node.default_child
        assert isinstance(cfn_version, lambda_.CfnVersion)
        self.version_logical_id = app_version_logical_id(function.bundle.content_hash, self.config_digest)
        cfn_version.override_logical_id(self.version_logical_id)
        self.alias = lambda_.Alias(self, "Alias", alias_name=LIVE_ALIAS, version=self.version)
        self.deployment_group: codedeploy.LambdaDeploymentGroup | None = None

    def shift_gradually(self, canary: Canary, server_errors: cloudwatch.IMetric) -> codedeploy.LambdaDeploymentGroup:
        """Move the alias to each new version through CodeDeploy: ``canary.percent`` first, the rest after
        ``canary.minutes``, and back at once if ``server_errors`` (a rate, 0 to 1) goes over
        :data:`SERVER_ERROR_RATE` in any minute meanwhile."""
        alarm = cloudwatch.Alarm(
            self,
            "ServerErrors",
            metric=server_errors,
            threshold=SERVER_ERROR_RATE,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"More than {SERVER_ERROR_RATE:.0%} of requests answered 5xx: roll the canary back",
        )
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self,
            "Canary",
            alias=self.alias,
            deployment_config=codedeploy.LambdaDeploymentConfig(
                self,
                "Shifting",
                # Named for the stack, which the link's boundary admits (CloudFormation's names would not be).
                deployment_config_name=f"{Stack.of(self).stack_name}-canary-{canary.percent}pct-{canary.minutes}min",
                traffic_routing=codedeploy.TimeBasedCanaryTrafficRouting(
                    interval=Duration.minutes(canary.minutes), percentage=canary.percent
                ),
            ),
            alarms=[alarm],
            auto_rollback=codedeploy.AutoRollbackConfig(failed_deployment=True, deployment_in_alarm=True),
        )
        acknowledge(
            self.deployment_group,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
            "AWS's own policy for CodeDeploy moving Lambda aliases; the link's permissions boundary caps this role,"
            " like every role the stack creates, to API-Direct's functions and alarms.",
        )
        return self.deployment_group
