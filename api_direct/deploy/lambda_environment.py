"""The variables Lambda sets for a function, with placeholder values, to run the creator's app outside Lambda.

An app may read them when it is imported: ``os.environ["AWS_REGION"]`` for a
boto3 client, the function's name for a log field. Outside Lambda they are absent
and such an import raises ``KeyError`` though the app is fine in Lambda, so the
import check (:mod:`.app_check`) runs it with them set, as Lambda would set them:
these values replace any the caller's environment has.

The names are those of "Defined runtime environment variables" in the Lambda
Developer Guide ("Working with Lambda environment variables",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). A value
only the deployed function has (its generated name, its log stream) is a
placeholder of the same form.

Left out on purpose: the credentials (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_ACCESS_KEY``), so the caller's own stay as they are;
``_X_AMZN_TRACE_ID``, which Lambda sets per invocation, not before the import;
and the search paths of Lambda's own runtime (``PATH``, ``LD_LIBRARY_PATH``,
``PYTHONPATH``), which would break the local interpreter.
"""

from datetime import UTC, datetime

from api_direct.bundling.build import LAMBDA_TASK_ROOT
from api_direct.bundling.fastapi_code import HANDLER_MODULE
from api_direct.project import Project

#: The region an app is given when the project's deploy region is not known (it is not linked yet).
PLACEHOLDER_REGION = "us-east-1"
#: Where Lambda's own runtime lives (``LAMBDA_RUNTIME_DIR``).
LAMBDA_RUNTIME_DIR = "/var/runtime"


def lambda_environment(
    project: Project, *, region: str | None = None, task_root: str = LAMBDA_TASK_ROOT
) -> dict[str, str]:
    """The variables the project's function has in Lambda when its app is imported: Lambda's and apid.toml's.

    ``region`` is where the project deploys, if known (its link's region);
    ``task_root`` is where the code is (``/var/task`` in Lambda; a caller running the
    project's own folder passes that folder, so a file read relative to
    ``LAMBDA_TASK_ROOT`` is found).
    """
    runtime = project.runtime
    region = region or PLACEHOLDER_REGION
    function_name = f"{project.stack_name}-App"  # CloudFormation generates the real one at deploy time
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{runtime.python}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(runtime.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{'0' * 32}",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": LAMBDA_RUNTIME_DIR,
        "_HANDLER": f"{HANDLER_MODULE}.handler",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        # apid.toml's [env] and the stage's last: Lambda's reserved names are refused there, and the unreserved
        # ones it sets (TZ, LANG) a function's own variables replace, as Lambda lets them.
        **project.environment,
    }
