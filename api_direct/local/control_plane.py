"""Deploy the control plane into the emulator, the way an operator deploys it into AWS.

``apid sandbox`` needs a control plane whose table, bus, queues, user pool and
secret are the ones the template declares, not ones made by hand: so the stack is
synthesized here with the same constructs ``cdk deploy`` uses, its assets are
published, and it is deployed through ``apid``'s own engine (change sets, the
planner, the executor). An operator deploys with their own credentials, not
through an account link: there is no execution role, and the assets go to a
bucket this module creates (``CliCredentialsStackSynthesizer``, as for a
``cdk deploy`` without bootstrap roles).

What the emulator cannot run, the sandbox runs in process: it gets every deployed
function's handler and configured environment, and the API's settings as Lambda
would give them to the app.
"""

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from botocore.exceptions import ClientError

from api_direct.constructs.control_plane_api import CONTROL_PLANE_HANDLER
from api_direct.control_plane.api.settings import ControlPlaneSettings
from api_direct.control_plane.stack import ControlPlaneStack
from api_direct.deploy.aws import Aws, aws_errors, error_code
from api_direct.deploy.change_sets import ResourceChange
from api_direct.deploy.executor import Context, Observer, OwnAccount, execute
from api_direct.deploy.planner import ensure_not_busy, plan_deploy
from api_direct.deploy.stacks import describe_stack
from api_direct.deploy.synthesis import SynthesizedStack, read_stack
from api_direct.errors import OperationFailed
from api_direct.local.lambda_runtime import DeployedFunction, stack_functions

#: The address the sandbox's control plane emails usage alerts from; verified in the emulator's SES on deploy.
ALERT_SENDER = "alerts@sandbox.example"
#: The API function's handler as Lambda names it (``module.attribute``).
API_HANDLER = CONTROL_PLANE_HANDLER.replace(":", ".")


@dataclass(frozen=True)
class ControlPlaneDeployment:
    """The deployed control plane, read back from the emulator."""

    stack_name: str
    #: The stack's status after this deploy (``CREATE_COMPLETE``, ``UPDATE_COMPLETE``, ...).
    status: str
    outputs: dict[str, str]
    #: What this deploy changed; empty when the stack already matched the template.
    changes: tuple[ResourceChange, ...]
    #: The API function's settings, from its configured environment and the region, as Lambda gives them.
    settings: ControlPlaneSettings
    #: Every function of the stack, by handler.
    functions: dict[str, DeployedFunction]


def asset_bucket_name(account_id: str, region: str) -> str:
    return f"apid-sandbox-assets-{account_id}-{region}"


def deploy_control_plane(aws: Aws, observer: Observer, outdir: Path) -> ControlPlaneDeployment:
    """Synthesize the control plane into ``outdir`` and deploy it with ``aws``'s own credentials.

    Deploying again changes only what the template changes (nothing, for the same
    code): the bucket is kept, assets are content-addressed and an unchanged
    template makes an empty change set.
    """
    target = OwnAccount(aws.account_id(), aws.region)
    bucket = asset_bucket_name(target.account_id, target.region)
    _ensure_bucket(aws, bucket)
    stack = synthesize_control_plane(outdir, bucket)
    # As the operator verifies the sender in SES (the emulator verifies at once; SES waits for a click or DNS).
    with aws_errors(f"verifying {ALERT_SENDER} in SES"):
        aws.client("ses").verify_email_identity(EmailAddress=ALERT_SENDER)
    cloudformation = aws.client("cloudformation")
    deployed = describe_stack(cloudformation, stack.stack_name)
    ensure_not_busy(deployed)
    context = execute(
        plan_deploy(stack, deployed, recreate_failed=True), Context(aws=aws, target=target, observer=observer)
    )
    info = describe_stack(cloudformation, stack.stack_name)
    if info is None:
        raise OperationFailed(f"{stack.stack_name} is not in the emulator after its deploy")
    functions = stack_functions(aws, stack.stack_name)
    api = functions[API_HANDLER]
    return ControlPlaneDeployment(
        stack_name=stack.stack_name,
        status=info.status,
        outputs=info.outputs,
        changes=context.change_set.changes if context.change_set else (),
        settings=ControlPlaneSettings.from_environment({"AWS_REGION": target.region, **api.environment}),
        functions=functions,
    )


def synthesize_control_plane(outdir: Path, asset_bucket: str) -> SynthesizedStack:
    """The operator's stack, its assets to be published to ``asset_bucket``."""
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    stack = ControlPlaneStack(
        app,
        "ControlPlane",
        alert_sender=ALERT_SENDER,
        synthesizer=cdk.CliCredentialsStackSynthesizer(file_assets_bucket_name=asset_bucket),
    )
    return read_stack(Path(app.synth().directory), stack.stack_name)


def _ensure_bucket(aws: Aws, bucket: str) -> None:
    """Create the asset bucket unless this account already has it (a second deploy)."""
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    with aws_errors(f"creating the asset bucket {bucket}"):
        try:
            aws.client("s3").create_bucket(Bucket=bucket, **location)
        except ClientError as error:
            if error_code(error) != "BucketAlreadyOwnedByYou":
                raise
