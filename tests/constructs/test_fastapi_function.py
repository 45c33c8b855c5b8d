"""FastApiFunction: defaults, overrides, explicit sources, and a role that can only write its own logs."""

import hashlib
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from api_direct.constructs import FastApiFunction
from api_direct.constructs.bundling import SourceTree
from api_direct.constructs.function_code import HANDLER_MODULE, SourceFile
from tests.conftest import EXAMPLE_DIR


@pytest.fixture(scope="module")
def templates(bundle_cache_dir: Path) -> dict[str, Template]:
    app = cdk.App()
    defaults = cdk.Stack(app, "Defaults")
    FastApiFunction(defaults, "Fn", project_dir=EXAMPLE_DIR, app="weather.main:app", bundle_cache_dir=bundle_cache_dir)
    custom = cdk.Stack(app, "Custom")
    FastApiFunction(
        custom,
        "Fn",
        project_dir=EXAMPLE_DIR,
        app="weather.main:app",
        architecture="x86_64",
        memory_size=1024,
        timeout=cdk.Duration.seconds(20),
        log_retention=cdk.aws_logs.RetentionDays.ONE_WEEK,
        environment={"WEATHER_UNITS": "metric"},
        bundle_cache_dir=bundle_cache_dir,
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
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("^FnAppLogs")}},
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
    stack = cdk.Stack(cdk.App(), "Explicit")
    function = FastApiFunction(
        stack,
        "Fn",
        sources=[
            SourceTree(code / "service", "service", exclude=("cdk_only.py",)),
            SourceFile(code / "version.py", "version.py"),
        ],
        requirements=(),
        handler="service.entry:handler",
        bundle_cache_dir=bundle_cache_dir,
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


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "project_dir or sources"),
        ({"project_dir": EXAMPLE_DIR, "sources": []}, "project_dir or sources"),
        ({"sources": [], "exclude": ["*.md"]}, "exclude applies to project_dir"),
        (
            {"project_dir": EXAMPLE_DIR, "requirements": [], "requirements_file": "r.txt"},
            "requirements or requirements_file",
        ),
        (
            {"project_dir": EXAMPLE_DIR, "app": "main:app", "handler": "main.handler"},
            "app (run behind Mangum) or handler",
        ),
        ({"sources": [], "handler": "main.handler"}, "handler must be module:attribute, got 'main.handler'"),
        ({"project_dir": EXAMPLE_DIR, "app": "weather.main"}, "app must be module:attribute"),
    ],
)
def test_conflicting_or_malformed_props_are_one_clear_error(props: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        FastApiFunction(cdk.Stack(cdk.App(), "Bad"), "Fn", **props)  # type: ignore[arg-type]
