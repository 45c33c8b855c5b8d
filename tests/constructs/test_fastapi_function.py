"""FastApiFunction: a lambda.Function with defaults, overrides, code objects, and a role that can
only write its own logs."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.constructs import FastApiFunction
from api_direct.constructs.bundled_function import BUNDLE_CACHE_CONTEXT
from api_direct.bundling.build import SourceTree
from api_direct.bundling.fastapi_code import HANDLER_MODULE, FastApiCode, SourceFile
from tests.example_project import EXAMPLE_DIR


@pytest.fixture(scope="module")
def templates(bundle_cache_dir: Path) -> dict[str, Template]:
    app = cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)})
    code = FastApiCode.from_project(EXAMPLE_DIR, app="weather.main:app")
    defaults = cdk.Stack(app, "Defaults")
    FastApiFunction(defaults, "Fn", code=code)
    custom = cdk.Stack(app, "Custom")
    FastApiFunction(
        custom,
        "Fn",
        code=code,
        architecture="x86_64",
        memory_size=1024,
        timeout=cdk.Duration.seconds(20),
        log_retention=cdk.aws_logs.RetentionDays.ONE_WEEK,
        environment={"WEATHER_UNITS": "metric"},
    )
    return {"defaults": Template.from_stack(defaults), "custom": Template.from_stack(custom)}


def test_defaults_are_arm64_python312_behind_mangum(templates: dict[str, Template]) -> None:
    templates["defaults"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "apid_handler.handler",
            "MemorySize": 512,
            "Timeout": 10,
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("^FnLogs")}},
        },
    )
    templates["defaults"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_every_default_is_a_prop(templates: dict[str, Template]) -> None:
    templates["custom"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "MemorySize": 1024,
            "Timeout": 20,
            "Environment": {"Variables": {"WEATHER_UNITS": "metric"}},
        },
    )
    templates["custom"].has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


def test_role_has_no_managed_policy_and_writes_only_its_log_group(templates: dict[str, Template]) -> None:
    template = templates["defaults"]
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    [log_group_id] = template.find_resources("AWS::Logs::LogGroup")
    assert statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_code_asset_is_named_by_bundle_hash(templates: dict[str, Template], bundle_cache_dir: Path) -> None:
    [function] = templates["defaults"].find_resources("AWS::Lambda::Function").values()
    key = function["Properties"]["Code"]["S3Key"]
    # CDK names a custom-hashed asset by the SHA-256 of the hash it was given.
    bundles = {hashlib.sha256(path.name.encode()).hexdigest() for path in (bundle_cache_dir / "bundles").iterdir()}
    assert key.removesuffix(".zip") in bundles


@pytest.fixture(scope="module")
def explicit(tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path) -> tuple[Template, FastApiFunction]:
    """A function from chosen files of a code base with its own Lambda handler, as the control plane is built."""
    code = tmp_path_factory.mktemp("code")
    (code / "service").mkdir()
    (code / "service" / "__init__.py").write_text("")
    (code / "service" / "entry.py").write_text("def handler(event, context):\n    return {}\n")
    (code / "service" / "cdk_only.py").write_text("import aws_cdk\n")
    (code / "version.py").write_text("VERSION = '1'\n")
    (code / "setup.py").write_text("raise SystemExit\n")
    stack = cdk.Stack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)}), "Explicit")
    function = FastApiFunction(
        stack,
        "Fn",
        code=FastApiCode.from_sources(
            [
                SourceTree(code / "service", "service", exclude=("cdk_only.py",)),
                SourceFile(code / "version.py", "version.py"),
            ],
            handler="service.entry:handler",
        ),
    )
    return Template.from_stack(stack), function


def test_explicit_sources_ship_only_what_was_chosen(explicit: tuple[Template, FastApiFunction]) -> None:
    """Chosen files, less their excludes; no dependencies beyond the (empty) requirements."""
    _, function = explicit
    root = function.bundle.path
    shipped = sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file())
    sources = [path.as_posix() for path in shipped if path.parent.name != "__pycache__"]
    assert sources == ["service/__init__.py", "service/entry.py", "version.py"]
    compiled = {
        (path.parent.parent / path.name.split(".")[0]).as_posix() + ".py"
        for path in shipped
        if path.parent.name == "__pycache__"
    }
    assert compiled <= set(sources)  # byte-code of the chosen files only


def test_an_existing_handler_is_used_as_is(explicit: tuple[Template, FastApiFunction]) -> None:
    """No generated Mangum shim, and no Mangum added to requirements the caller did not ask for."""
    template, function = explicit
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "service.entry.handler",
            "Description": "Lambda handler service.entry:handler",
            "Architectures": ["arm64"],
        },
    )
    assert not (function.bundle.path / f"{HANDLER_MODULE}.py").exists()
    assert not (function.bundle.path / "mangum").exists()


def test_it_is_a_lambda_function(bundle_cache_dir: Path) -> None:
    """An IFunction: add_environment and grant_invoke reach the template with no unwrapping."""
    stack = cdk.Stack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(bundle_cache_dir)}), "Direct")
    function = FastApiFunction(stack, "Fn", code=FastApiCode.from_project(EXAMPLE_DIR, app="weather.main:app"))
    assert isinstance(function, cdk.aws_lambda.Function)
    function.add_environment("MODE", "direct")
    caller = cdk.aws_iam.Role(stack, "Caller", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    function.grant_invoke(caller)
    function.metric_errors()
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": {"MODE": "direct"}}})
    [function_id] = template.find_resources("AWS::Lambda::Function")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Caller")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "lambda:InvokeFunction",
                                "Resource": Match.array_with([{"Fn::GetAtt": [function_id, "Arn"]}]),
                            }
                        )
                    ]
                )
            },
        },
    )


@pytest.fixture(scope="module")
def handler_only(tmp_path_factory: pytest.TempPathFactory) -> FastApiCode:
    """Code with its own handler and no requirements: bundled for any runtime without pip."""
    code = tmp_path_factory.mktemp("handler")
    (code / "entry.py").write_text("def handler(event, context):\n    return {}\n")
    return FastApiCode.from_sources([SourceTree(code)], handler="entry:handler")


def test_the_cdks_own_architecture_and_runtime_are_accepted(handler_only: FastApiCode, tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(tmp_path)}), "CdkTypes")
    function = FastApiFunction(
        stack,
        "Fn",
        code=handler_only,
        architecture=cdk.aws_lambda.Architecture.X86_64,
        runtime=cdk.aws_lambda.Runtime.PYTHON_3_11,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"Architectures": ["x86_64"], "Runtime": "python3.11"}
    )
    assert function.bundle.content_hash == handler_only.bundle_spec("3.11", "x86_64").bundle_hash()


def test_the_bundle_cache_comes_from_context_else_the_environment(
    handler_only: FastApiCode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APID_CACHE_DIR", str(tmp_path / "env"))
    from_context = FastApiFunction(
        cdk.Stack(cdk.App(context={BUNDLE_CACHE_CONTEXT: str(tmp_path / "context")}), "Context"),
        "Fn",
        code=handler_only,
    )
    from_env = FastApiFunction(cdk.Stack(cdk.App(), "Env"), "Fn", code=handler_only)
    assert from_context.bundle.path.parent == tmp_path / "context" / "bundles"
    assert from_env.bundle.path.parent == tmp_path / "env" / "bundles"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: FastApiCode.from_sources([], app="main:app", handler="main:handler"),
            "takes app (run behind Mangum) or handler (used as is), not both",
        ),
        (
            lambda: FastApiCode.from_sources([], handler="main.handler"),
            "handler must be module:attribute, got 'main.handler'",
        ),
        (lambda: FastApiCode.from_project(EXAMPLE_DIR, app="weather.main"), "app must be module:attribute"),
        (lambda: FastApiCode.from_project(EXAMPLE_DIR / "missing"), "is not a folder"),
        (lambda: FastApiCode.from_sources([], requirements="fastapi"), "a sequence of requirement lines"),
    ],
)
def test_conflicting_or_malformed_code_is_one_clear_error(make: Callable[[], FastApiCode], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        make()
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"architecture": "amd64"}, "architecture must be arm64 or x86_64, got 'amd64'"),
        (
            {"runtime": cdk.aws_lambda.Runtime.PYTHON_3_9},
            "runtime must be one of Python 3.11, 3.12, 3.13, got python3.9",
        ),
        ({"runtime": "3.10"}, "got '3.10'"),
    ],
)
def test_an_unsupported_runtime_or_architecture_is_one_clear_error(props: dict[str, object], message: str) -> None:
    code = FastApiCode.from_project(EXAMPLE_DIR, app="weather.main:app")
    with pytest.raises(ValueError, match=re.escape(message)):
        FastApiFunction(cdk.Stack(cdk.App(), "Bad"), "Fn", code=code, **props)  # type: ignore[arg-type]


def test_code_is_immutable() -> None:
    code = FastApiCode.from_project(EXAMPLE_DIR)
    with pytest.raises(AttributeError):
        code.entry = "other:app"  # type: ignore[misc]
    assert code.bundle_spec() == code.bundle_spec()
