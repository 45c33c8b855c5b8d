"""AWS access for the deploy engine: one place for sessions, endpoints, retries and errors.

Every client uses botocore's ``standard`` retry mode (throttling and 5xx are
retried with backoff) and the same optional endpoint, so ``--endpoint-url``
redirects everything to an emulator. Each retry is announced as a warning on the
``api_direct`` logger (the CLI prints it as a progress line), so a throttled deploy
shows why it slowed down; one that stays throttled through every attempt ends in
one line saying to wait and rerun. AWS's failures that a creator can act on
become one-line :class:`~api_direct.errors.ApidError` s naming the likely cause;
credentials never appear in any message. Every botocore failure has a documented
exit code (:func:`aws_failure`), however malformed AWS's answer: none is a bug's 1.
"""

import getpass
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as AwsUnreachable
from botocore.parsers import ResponseParserError

from api_direct import __version__
from api_direct.deploy.aws_target import AwsTarget
from api_direct.errors import AccessError, ApidError, InputError, OperationFailed, StateError

#: The services the engine calls (boto3's own names): the stubs type a client per name.
Service = Literal[
    "acm",
    "apigateway",
    "ce",
    "cloudformation",
    "cognito-idp",
    "events",
    "iam",
    "lambda",
    "logs",
    "pricing",
    "route53",
    "s3",
    "secretsmanager",
    "ses",
    "sqs",
    "ssm",
    "sts",
]
MAX_ATTEMPTS = 8
_RETRIES = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, user_agent_extra=f"api-direct/{__version__}"
)
#: What standard mode retries, as AWS reports it: throttling by code, server trouble by status.
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
    "PriorRequestNotComplete",
}
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_INVALID = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"}
#: AWS's answers when another operation is changing the same stack or function: a deploy from another machine
#: (this machine's are refused by the stage lock), a change set executed or deleted by it, a Lambda update under
#: way. CloudFormation's state decides, so they are exit 5, with what to do.
_CONCURRENT = {
    "AlreadyExistsException",
    "ChangeSetNotFound",
    "ChangeSetNotFoundException",
    "InvalidChangeSetStatus",
    "InvalidChangeSetStatusException",
    "OperationInProgressException",
    "ResourceConflictException",
}
#: What to do then: the stack's state says when it is free.
BUSY_ADVICE = "another operation is changing it: wait for it to finish (`apid status` shows when) and rerun"
#: ``... is in UPDATE_IN_PROGRESS state and can not be updated`` (a ValidationError) and its kin.
IN_PROGRESS = re.compile(r"\b[A-Z]+(?:_[A-Z]+)*_IN_PROGRESS\b")
#: What botocore raises for AWS's refusals and for everything between here and AWS (a parser error is not a
#: BotoCoreError): each is one of the documented exit codes through :func:`aws_failure`.
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError)
#: Longest excerpt of a botocore message kept in an error line (a parser error quotes the whole answer).
_EXCERPT_CHARS = 200

logger = logging.getLogger(__name__)


@dataclass
class Aws:
    """boto3 clients for one identity, all on the same region, endpoint and retry policy."""

    session: boto3.Session
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def region(self) -> str:
        return self.session.region_name

    @classmethod
    def from_credentials(
        cls, access_key_id: str, secret_access_key: str, session_token: str, *, region: str, endpoint_url: str | None
    ) -> "Aws":
        """An identity from temporary credentials (an assumed role's)."""
        session = boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
        return cls(session, endpoint_url)

    def client(self, service: Service) -> Any:
        if service not in self._clients:
            client = self.session.client(service, endpoint_url=self.endpoint_url, config=_RETRIES)
            client.meta.events.register_last(
                f"needs-retry.{client.meta.service_model.service_id.hyphenize()}", _announce_retry
            )
            self._clients[service] = client
        return self._clients[service]

    def account_id(self) -> str:
        """The account these credentials act in (also proves the credentials work)."""
        return self.identity()[0]

    def identity(self) -> tuple[str, str]:
        """(account id, partition) of these credentials, e.g. ``("123456789012", "aws")``."""
        with aws_errors("checking your AWS credentials"):
            caller = self.client("sts").get_caller_identity()
        return str(caller["Account"]), str(caller["Arn"]).split(":")[1]


def _announce_retry(
    *,
    response: tuple[Any, dict[str, Any]] | None,
    attempts: int,
    operation: Any,
    caught_exception: Exception | None,
    **_: Any,
) -> None:
    """A ``needs-retry`` handler that decides nothing: it says what standard mode is about to retry."""
    if caught_exception is not None:
        reason = type(caught_exception).__name__
    elif response is not None:
        status, code = response[0].status_code, response[1].get("Error", {}).get("Code")
        if code not in _THROTTLED and status not in _TRANSIENT_STATUS:
            return
        reason = code or f"HTTP {status}"
    else:
        return
    if attempts < MAX_ATTEMPTS:
        logger.warning(
            "AWS %s %s: %s; retrying (attempt %d of %d)",
            operation.service_model.service_name,
            operation.name,
            reason,
            attempts + 1,
            MAX_ATTEMPTS,
        )


def creator_aws(target: AwsTarget) -> Aws:
    """The creator's own credentials: a profile, the environment or the default chain."""
    try:
        session = boto3.Session(profile_name=target.profile, region_name=target.region)
    except ProfileNotFound:
        raise InputError(f"AWS profile {target.profile!r} not found in your AWS config; check --profile") from None
    if not session.region_name:
        raise InputError("no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)")
    if not _known_region(session, session.region_name):
        raise InputError(
            f"AWS region {session.region_name!r} does not exist: check --region, AWS_REGION or your profile"
            " (regions look like us-east-1 or eu-west-2)"
        )
    return Aws(session, target.endpoint_url)


def _known_region(session: boto3.Session, region: str) -> bool:
    """Known to this botocore, in any partition: a typo fails here, in one line, not as an unreachable endpoint."""
    return any(
        region in session.get_available_regions("cloudformation", partition)
        for partition in session.get_available_partitions()
    )


def assume_role(aws: Aws, role_arn: str, external_id: str | None, *, purpose: str) -> Aws:
    """Assume ``role_arn`` passing ``external_id``, for at most an hour.

    A refusal is reported with the causes seen in practice: a wrong ExternalId, an
    account that is not (or no longer) linked, or stale local credentials. With no
    ExternalId the caller is the link's GitHub role (a CI deploy), which the deploy
    role trusts by name instead.
    """
    try:
        response = aws.client("sts").assume_role(
            RoleArn=role_arn,
            RoleSessionName=_session_name(),
            **({"ExternalId": external_id} if external_id else {}),
            DurationSeconds=3600,
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in _EXPIRED | _INVALID:
            raise _credential_error(code) from None
        if code == "AccessDenied" and external_id is None:
            raise AccessError(
                f"cannot assume {role_arn} for {purpose}: access denied. The deploy role trusts only the link's"
                " GitHub role: check that the workflow's role-to-assume is it (`apid ci github` writes it) and"
                " that the link admits this repository and branch (`apid aws link --github`)"
            ) from None
        if code == "AccessDenied":
            raise AccessError(
                f"cannot assume {role_arn} for {purpose}: access denied. Likely causes: the ExternalId in"
                " .apid/state.json does not match the link (run `apid aws link` again), the account is not"
                " linked in this region, or your credentials may not call sts:AssumeRole on it"
            ) from None
        raise AccessError(f"cannot assume {role_arn} for {purpose}: {_message(error)}") from None
    except (BotoCoreError, ResponseParserError) as error:
        raise aws_failure(error, f"assuming {role_arn} for {purpose}") from None
    credentials = response["Credentials"]
    return Aws.from_credentials(
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        region=aws.region,
        endpoint_url=aws.endpoint_url,
    )


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn botocore failures inside the block into one-line errors saying what we were doing.

    Errors already translated (:class:`ApidError`) pass through untouched.
    """
    try:
        yield
    except ApidError:
        raise
    except AWS_FAILURES as error:
        raise aws_failure(error, doing) from None


def aws_failure(error: Exception, doing: str) -> ApidError:
    """The one-line error, with its documented exit code, for what botocore raised while ``doing``.

    AWS refusing (a :class:`ClientError`) is told by its code. Otherwise the split
    is where the request got: not out of this machine (no network, proxy, TLS,
    connect timeout) is an access problem, exit 4, as nothing reached AWS and the
    fix is the connection; sent but its answer lost or unreadable (the connection
    closed, a read timeout, a truncated or garbled body) is exit 6, since AWS may
    have acted on it and the fix is to rerun once it answers properly.
    """
    if isinstance(error, ClientError):
        return _refused(error, doing)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return _no_credentials()
    if isinstance(error, (CredentialRetrievalError, TokenRetrievalError, SSOError)):
        return AccessError(f"{doing}: your AWS credentials could not be loaded ({_excerpt(error)})")
    if isinstance(error, NoRegionError):
        return InputError("no AWS region: pass --region or set AWS_REGION")
    if isinstance(error, ParamValidationError):
        return InputError(f"{doing}: AWS would not accept the request ({_excerpt(error)})")
    if isinstance(error, AwsUnreachable):
        return AccessError(f"{doing}: cannot reach AWS ({_excerpt(error)})")
    return OperationFailed(
        f"{doing}: AWS's answer was lost or unreadable ({type(error).__name__}: {_excerpt(error)}); rerun once it"
        " answers (every step is safe to repeat)"
    )


def _refused(error: ClientError, doing: str) -> ApidError:
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), _message(error)
    if code in _EXPIRED | _INVALID:
        return _credential_error(code)
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return AccessError(f"{doing}: access denied ({message})")
    if code in _THROTTLED or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in _TRANSIENT_STATUS:
        return OperationFailed(
            f"{doing}: AWS kept answering {code} through {MAX_ATTEMPTS} attempts; wait a minute"
            " and rerun (every step is safe to repeat)"
        )
    if code in _CONCURRENT or IN_PROGRESS.search(message):
        return StateError(f"{doing}: {message.rstrip('.')}; {BUSY_ADVICE}")
    return OperationFailed(f"{doing}: {message}")


def _excerpt(error: Exception) -> str:
    """The error's text on one line and cut short: a parser error quotes AWS's whole answer."""
    text = " ".join(str(error).split())
    return text if len(text) <= _EXCERPT_CHARS else f"{text[: _EXCERPT_CHARS - 1]}…"


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return (str(details.get("Message") or details.get("Code") or error).strip().splitlines() or [""])[0]


def _credential_error(code: str) -> AccessError:
    if code in _EXPIRED:
        return AccessError("your AWS credentials have expired: refresh them (e.g. `aws sso login`) and retry")
    return AccessError("your AWS credentials were rejected as invalid: check --profile or AWS_ACCESS_KEY_ID")


def _no_credentials() -> AccessError:
    return AccessError("no AWS credentials found: pass --profile, set AWS_PROFILE, or configure credentials")


def _session_name() -> str:
    """``apid-<user>``: shows in CloudTrail who deployed, restricted to STS's alphabet."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return re.sub(r"[^\w+=,.@-]", "-", f"apid-{user}")[:64]
