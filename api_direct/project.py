"""A creator's project: the ``apid.toml`` beside their FastAPI code.

Every command and both stacks read the project through :func:`load_project`, so a
mistake in ``apid.toml`` is reported once, the same way everywhere, as one line
naming the field (``apid.toml: plans[1].burst: ...``) before anything is built.
"""

import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from api_direct.contracts import api_stack_name
from api_direct.errors import InputError

CONFIG_FILE = "apid.toml"

#: API names become the stack name ``apid-<name>`` and prefix every generated
#: resource name, so they are kept short, lowercase and DNS-safe.
API_NAME_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
PLAN_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
APP_REFERENCE_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
#: A stage's name ends the stack name (``apid-<api>-<stage>``) and the names made from it, so it is as
#: short and DNS-safe as an API's.
STAGE_NAME_PATTERN = r"^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$"
#: A custom domain: lowercase DNS labels (1-63 letters, digits, inner hyphens), at least two, the last (the
#: top-level domain) starting with a letter, so an IP address is not one.
DOMAIN_PATTERN = r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
#: A variable name Lambda accepts: letters, digits and underscores, not starting with a digit.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: Names Lambda sets itself and will not let a function set ("Defined runtime environment variables",
#: the Lambda Developer Guide), and the prefixes of the names it reserves.
RESERVED_ENV_NAMES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
RESERVED_ENV_PREFIXES = ("AWS_LAMBDA_", "APID_")
#: Lambda's limit on a function's environment: all names and values together, in bytes.
ENV_LIMIT_BYTES = 4096

#: Never shipped to Lambda: local state, VCS, caches, tests, and the files secrets live in
#: (a dotenv file or a private key in the bundle would be readable by anyone who can read the function).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    ".apid",
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    "cdk.out",
    "tests",
    "conftest.py",
    CONFIG_FILE,
)


class ProjectError(InputError):
    """``apid.toml`` is missing, unreadable or invalid; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Marketplace categories a listing may name.
CATEGORIES = ("ai", "data", "developer", "finance", "media", "weather", "other")


class ApiSettings(_Strict):
    """What the API is called, where its ASGI app lives, and how the marketplace shows it."""

    name: Annotated[str, Field(pattern=API_NAME_PATTERN)]
    description: Annotated[str, Field(min_length=1, max_length=1024)]
    app: Annotated[str, Field(pattern=APP_REFERENCE_PATTERN)] = "main:app"
    #: Display name on the marketplace (defaults to ``name``).
    title: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    category: Literal[CATEGORIES] = "other"  # type: ignore[valid-type]
    tags: Annotated[tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,23}$")], ...], Field(max_length=10)] = ()


class RuntimeSettings(_Strict):
    """How the app is bundled and run in Lambda."""

    python: Literal["3.11", "3.12", "3.13"] = "3.12"
    architecture: Literal["arm64", "x86_64"] = "arm64"
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 512
    timeout_seconds: Annotated[int, Field(ge=1, le=29)] = 10
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = 30
    requirements: str = "requirements.txt"
    exclude: tuple[str, ...] = ()
    #: Import the app before it ships (in another interpreter, with the variables Lambda sets, as
    #: placeholders), so an app that cannot import fails ``apid synth``, ``plan`` and ``deploy`` instead
    #: of answering 502 to every call; the same import finds the WebSocket routes API Gateway REST
    #: cannot serve. Turn it off only for an app whose import cannot run outside Lambda (it reaches a
    #: resource only the deployed function can); the commands then warn that nothing was checked.
    check_import: bool = True
    #: The Python that runs the app on this machine, for ``apid dev`` and the import check (a path,
    #: relative to the project): the project's own environment, with the app's FastAPI and pydantic,
    #: so apid can live in another (pipx, ``uv tool``). Default: ``.venv/bin/python`` when the project
    #: has one, else the Python apid runs in. Lambda runs ``python`` above, whatever this says.
    interpreter: str | None = None
    #: Leave out the test suites installed packages ship (``tests``/``test`` folders no module imports):
    #: Lambda never runs them, and they count against its 250 MB limit. False bundles every package whole.
    slim_dependencies: bool = True


def _check_domain(domain: str) -> str:
    if not re.fullmatch(DOMAIN_PATTERN, domain):
        raise ValueError(
            f"{domain!r} is not a domain name: give lowercase DNS labels only, at least two"
            " (api.example.com), no scheme, path, port or wildcard"
        )
    return domain


#: A custom domain's name, as ``[gateway]`` and ``[stages.<name>]`` take it.
DomainName = Annotated[str, AfterValidator(_check_domain)]


class GatewaySettings(_Strict):
    """API Gateway behaviour shared by every plan."""

    #: How long API Gateway caches the authorizer's answer for a key. Longer is
    #: cheaper and faster; a revoked key keeps working for at most this long.
    key_cache_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    stage: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] = "v1"
    #: The API's own domain (``api.example.com``): a certificate, a regional custom domain and, when the
    #: account has the Route 53 zone, its records; a stage's ``domain`` is used in that stage instead.
    domain: DomainName | None = None


class McpSettings(_Strict):
    """The API's MCP server at ``<API URL>/mcp``: its operations as tools for AI agents."""

    #: Off: no ``/mcp`` resource and no MCP function (an app that serves MCP at ``/mcp`` itself needs this).
    enabled: bool = True
    #: Operations that are not tools: operation ids, paths or ``"METHOD /path"``, ``*`` globs (``"/admin/*"``).
    exclude: tuple[Annotated[str, Field(min_length=1, max_length=300)], ...] = ()
    #: Stage-wide throttle of ``/mcp`` itself (listing tools); each tool call is limited by the caller's plan.
    rate_limit: Annotated[float, Field(gt=0, le=10000)] = 50
    burst: Annotated[int, Field(ge=1, le=5000)] = 100


def is_reserved_env_name(name: str) -> bool:
    """Whether Lambda or API-Direct sets ``name`` itself: the rule for ``[env]`` and for secrets' names."""
    return name in RESERVED_ENV_NAMES or name.startswith(RESERVED_ENV_PREFIXES)


def _check_environment(variables: Mapping[str, str]) -> Mapping[str, str]:
    for name in variables:
        if is_reserved_env_name(name):
            raise ValueError(f"{name} is set by Lambda or API-Direct and cannot be set here; rename it")
    return variables


EnvironmentVariables = Annotated[
    dict[Annotated[str, Field(pattern=ENV_NAME_PATTERN)], str], AfterValidator(_check_environment)
]


class StageSettings(_Strict):
    """What one stage changes: its function's size and time limit, and variables added to ``[env]``'s."""

    memory_mb: Annotated[int, Field(ge=128, le=10240)] | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=29)] | None = None
    env: EnvironmentVariables = {}
    #: This stage's own domain, in place of ``[gateway] domain``.
    domain: DomainName | None = None


class DeploySettings(_Strict):
    """Which stage a command acts on when it is given no ``--stage``."""

    #: None: the stack ``apid-<api>``, as projects made before stages existed have it.
    default_stage: Annotated[str, Field(pattern=STAGE_NAME_PATTERN)] | None = None


StatusClass = Literal["2xx", "3xx", "4xx", "5xx"]
_Status = TypeVar("_Status", bound=str)


def billable_calls(status_counts: Mapping[_Status, int], billable_statuses: Collection[str]) -> int:
    """How many of the calls counted per status class (``{"2xx": 5, "4xx": 2}``) a plan bills.

    The one rule, for the control plane's aggregator and ``apid dev``'s usage line alike.
    """
    return sum(count for status, count in status_counts.items() if status in billable_statuses)


#: Stripe's longest trial (``trial_period_days``).
MAX_TRIAL_DAYS = 730
#: A route's path as the app declares it: ``/``-separated segments, each literal or one ``{name}`` parameter
#: (``{name:path}``, FastAPI's rest-of-path parameter, only last), as API Gateway can make a resource of it.
ROUTE_PATH_PATTERN = r"^/(?:(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\})(?:/(?:[A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))*(?:/\{[A-Za-z_][A-Za-z0-9_]*:path\})?|\{[A-Za-z_][A-Za-z0-9_]*:path\})?$"
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class RouteWeight(_Strict):
    """How many units one call of a route counts, for quota, rate and billing alike.

    An expensive route (a model run, a large export) costs its consumer more than a
    cheap one without a plan per route: ``weight = 5`` makes each call 5 units of
    the plan's quota, price and (where API Gateway can) rate. ``0`` makes a route free.
    """

    path: Annotated[str, Field(pattern=ROUTE_PATH_PATTERN, max_length=512)]
    #: The methods the weight applies to; every method of the path when empty.
    methods: tuple[HttpMethod, ...] = ()
    weight: Annotated[int, Field(ge=0, le=1000)] = 1

    @model_validator(mode="after")
    def _distinct_methods(self) -> "RouteWeight":
        require_distinct(list(self.methods), f"methods of route {self.path}")
        return self

    def applies_to(self, method: str) -> bool:
        return not self.methods or method.upper() in self.methods


class CreditPack(_Strict):
    """What a prepaid plan sells: ``calls`` units for ``price`` USD, spent as calls are made."""

    calls: Annotated[int, Field(ge=1, le=10**9)]
    price: Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2)]
    #: Credits bought expire this many days after the purchase (unused units are lost); never when absent.
    expires_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class PricingPlan(_Strict):
    """One tier a consumer can subscribe to, enforced by API Gateway and billed by Stripe.

    Three shapes: a free plan; a subscription (``monthly_fee`` and/or ``price_per_1000``
    units, optionally after ``trial_days`` free); a prepaid plan (``prepaid``: packs of
    units bought up front, spent by calls). Every count here is in units: a call is as
    many units as its route's weight (:class:`RouteWeight`), one by default.
    """

    name: Annotated[str, Field(pattern=PLAN_NAME_PATTERN)]
    description: str = ""
    rate_limit: Annotated[float, Field(gt=0, le=10000)]
    burst: Annotated[int, Field(ge=1, le=5000)]
    monthly_quota: Annotated[int, Field(ge=1)] | None = None
    free_calls: Annotated[int, Field(ge=0)] = 0
    price_per_1000: Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=4)] = Decimal(0)
    monthly_fee: Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)] = Decimal(0)
    #: Which responses count as billable calls: successful ones unless the plan says otherwise
    #: (an API whose 404 is an answer, a lookup that found nothing, may bill ``4xx`` too).
    billable_statuses: Annotated[tuple[StatusClass, ...], Field(min_length=1, max_length=4)] = ("2xx",)
    #: Days a new subscriber uses the plan before paying, their card taken up front; one trial per consumer per API.
    trial_days: Annotated[int, Field(ge=1, le=MAX_TRIAL_DAYS)] | None = None
    #: Packs of units bought up front instead of a monthly bill: makes the plan prepaid.
    prepaid: CreditPack | None = None
    #: Existing subscribers keep the plan; nobody can newly subscribe or move to it.
    deprecated: bool = False
    #: Subscribable only through an invite link the creator shares (``apid invite``); not shown on the API page.
    private: bool = False

    @classmethod
    def of(cls, values: Mapping[str, object]) -> "PricingPlan":
        """The plan among other attributes (a stored item also holds its Stripe ids and counters)."""
        return cls.model_validate({name: values[name] for name in cls.model_fields if name in values})

    @property
    def is_paid(self) -> bool:
        """Whether consumers of this plan are ever charged (a base fee, a price per unit, or packs)."""
        return self.monthly_fee > 0 or self.price_per_1000 > 0 or self.prepaid is not None

    @property
    def is_prepaid(self) -> bool:
        return self.prepaid is not None

    @property
    def is_subscription(self) -> bool:
        """Billed monthly in arrears by a Stripe subscription (a fee or a price per unit), as against prepaid."""
        return self.monthly_fee > 0 or self.price_per_1000 > 0

    @model_validator(mode="after")
    def _one_shape(self) -> "PricingPlan":
        if self.prepaid is not None:
            monthly = [
                name
                for name in ("monthly_fee", "price_per_1000", "free_calls", "trial_days")
                if getattr(self, name) not in (None, 0)
            ]
            if monthly:
                raise ValueError(f"a prepaid plan is paid by its packs: remove {', '.join(monthly)} or remove prepaid")
        elif self.trial_days is not None and not self.is_subscription:
            raise ValueError("trial_days needs a paid plan (monthly_fee or price_per_1000 above 0)")
        return self

    @model_validator(mode="after")
    def _quota_fits_rate(self) -> "PricingPlan":
        if self.monthly_quota is not None:
            if self.monthly_quota < self.rate_limit:
                raise ValueError(
                    f"monthly_quota ({self.monthly_quota}) is below rate_limit ({self.rate_limit}/s);"
                    " raise the quota or lower the rate"
                )
            if self.free_calls > self.monthly_quota:
                raise ValueError(f"free_calls ({self.free_calls}) exceeds monthly_quota ({self.monthly_quota})")
        return self


class ProjectConfig(_Strict):
    """The whole of ``apid.toml``."""

    api: ApiSettings
    runtime: RuntimeSettings = RuntimeSettings()
    gateway: GatewaySettings = GatewaySettings()
    mcp: McpSettings = McpSettings()
    plans: Annotated[tuple[PricingPlan, ...], Field(min_length=1, max_length=20)]
    #: Routes that count other than one unit per call (``[[routes]]``); the first that matches a call wins.
    routes: Annotated[tuple[RouteWeight, ...], Field(max_length=50)] = ()
    deploy: DeploySettings = DeploySettings()
    #: Plain variables the app's function gets in every stage (never a secret: they are in the template).
    env: EnvironmentVariables = {}
    #: Per stage: what it changes. A stage needs no entry here to be deployed (``--stage anything``).
    stages: dict[Annotated[str, Field(pattern=STAGE_NAME_PATTERN)], StageSettings] = {}

    @model_validator(mode="after")
    def _unique_plan_names(self) -> "ProjectConfig":
        require_distinct([plan.name for plan in self.plans], "plan names")
        return self

    @model_validator(mode="after")
    def _unique_routes(self) -> "ProjectConfig":
        require_distinct(
            [f"{method} {route.path}" for route in self.routes for method in route.methods or ("*",)], "routes"
        )
        return self

    @model_validator(mode="after")
    def _environments_fit(self) -> "ProjectConfig":
        for stage in (None, *self.stages):
            size = sum(len(k.encode()) + len(v.encode()) for k, v in self.environment(stage).items())
            if size > ENV_LIMIT_BYTES:
                where = f"stage {stage}'s variables" if stage else "[env]"
                raise ValueError(f"{where} come to {size} bytes; Lambda allows {ENV_LIMIT_BYTES} in all")
        return self

    @model_validator(mode="after")
    def _one_domain_per_stage(self) -> "ProjectConfig":
        require_distinct([s.domain for s in self.stages.values() if s.domain], "stages' domains")
        return self

    def domain_for(self, stage: str | None) -> str | None:
        """The stage's own domain, else ``[gateway] domain``."""
        own = self.stages[stage].domain if stage in self.stages else None
        return own or self.gateway.domain

    def environment(self, stage: str | None) -> dict[str, str]:
        """``[env]``, with the stage's own variables over it."""
        own = self.stages[stage].env if stage in self.stages else {}
        return {**self.env, **own}

    def runtime_for(self, stage: str | None) -> RuntimeSettings:
        """``[runtime]``, with the stage's settings over it."""
        settings = self.stages.get(stage) if stage else None
        if settings is None:
            return self.runtime
        overrides = {
            name: value for name in ("memory_mb", "timeout_seconds") if (value := getattr(settings, name)) is not None
        }
        return self.runtime.model_copy(update=overrides)


def require_distinct(values: Sequence[str], what: str) -> None:
    """Refuse repeated values, naming them: the rule for plan names here and in marketplace listings."""
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")


@dataclass(frozen=True)
class Project:
    """A loaded project: its validated configuration (``apid.toml`` as written), where it lives, and the stage
    it is in, which :attr:`runtime` and :attr:`environment` read the configuration for."""

    root: Path
    config: ProjectConfig
    #: The stage commands act on: ``--stage``, else ``[deploy] default_stage``; None is the unnamed one.
    stage: str | None = None

    @property
    def stack_name(self) -> str:
        return api_stack_name(self.config.api.name, self.stage)

    @property
    def stage_option(self) -> str:
        """What names this stage on a command line: `` --stage <name>``, or nothing for the unnamed stage."""
        return f" --stage {self.stage}" if self.stage else ""

    @property
    def runtime(self) -> RuntimeSettings:
        """How the app runs in this stage: ``[runtime]`` and the stage's settings."""
        return self.config.runtime_for(self.stage)

    @property
    def environment(self) -> dict[str, str]:
        """The variables the app's function gets: ``[env]`` and the stage's."""
        return self.config.environment(self.stage)

    @property
    def domain(self) -> str | None:
        """The custom domain this stage serves on, if any: the stage's, else ``[gateway]``'s."""
        return self.config.domain_for(self.stage)

    @property
    def assembly_dir(self) -> Path:
        """Where this stage's synthesis goes: ``.apid/cdk.out``, or ``.apid/stages/<stage>/cdk.out`` (each stage
        keeps its own, so switching stages reuses each one's synthesis)."""
        apid = self.root / ".apid"
        return apid / "stages" / self.stage / "cdk.out" if self.stage else apid / "cdk.out"

    def in_stage(self, stage: str | None) -> "Project":
        """The project as ``stage`` deploys it (None: the default stage); one line if the name is not one."""
        chosen = stage or self.config.deploy.default_stage
        if chosen is not None and not re.fullmatch(STAGE_NAME_PATTERN, chosen):
            raise ProjectError(
                f"stage {chosen!r}: use 1-16 lowercase letters, digits and hyphens, starting with a letter"
            )
        return Project(self.root, self.config, chosen)

    @property
    def requirements_file(self) -> Path:
        return self.root / self.runtime.requirements

    @property
    def excludes(self) -> tuple[str, ...]:
        return DEFAULT_EXCLUDES + self.runtime.exclude


def load_project(root: Path | str, stage: str | None = None) -> Project:
    """Read and validate ``<root>/apid.toml`` and check the files it names exist; the project in ``stage``
    (None: ``[deploy] default_stage``, if any).

    Raises :class:`ProjectError` with a single line naming the file, the field
    and what to do about it.
    """
    root = Path(root).resolve()
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ProjectError(f"{path}: not found; run `apid init` to create a project")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ProjectError(f"{CONFIG_FILE}: not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ProjectError(f"{CONFIG_FILE}: cannot be read: {err}") from None
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as err:
        raise ProjectError(f"{CONFIG_FILE}: {describe_validation_error(err)}") from None
    project = Project(root=root, config=config)
    _check_files(project)
    return project.in_stage(stage)


def describe_validation_error(err: ValidationError) -> str:
    """Render pydantic's errors as ``field.path: problem`` joined on one line."""
    parts = []
    for error in err.errors():
        location = _format_location(error["loc"])
        message = _plain_message(error)
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def _format_location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _plain_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field; check the spelling (see `apid init` for a full example)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} is not allowed (must match {error['ctx']['pattern']})"
    message = str(error["msg"])
    return re.sub(r"^Value error, ", "", message)


def _check_files(project: Project) -> None:
    module = project.config.api.app.split(":", 1)[0]
    module_path = project.root.joinpath(*module.split("."))
    if not (module_path.with_suffix(".py").is_file() or (module_path / "__init__.py").is_file()):
        raise ProjectError(
            f"{CONFIG_FILE}: api.app: module {module!r} not found under {project.root}"
            f" (expected {module_path.relative_to(project.root)}.py)"
        )
    if not project.requirements_file.is_file():
        raise ProjectError(
            f"{CONFIG_FILE}: runtime.requirements: {project.runtime.requirements} not found;"
            " create it (it may be empty)"
        )
