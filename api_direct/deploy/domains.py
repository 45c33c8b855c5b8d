"""A stage's custom domain, made ready with the deploy role before its stack is synthesized.

Why outside CloudFormation: a certificate the stack itself created would hold the
stack in progress until DNS validation succeeds, which for a domain whose DNS
lives elsewhere means until the creator adds a record, or for days, and then a
rollback. Here the certificate is requested before anything in the stack changes;
its validation record is written when the account holds the domain's public
hosted zone; and the stack is given the domain only once the certificate is
ISSUED. Otherwise the deploy stops (nothing deployed) and says which record to
create. Every step finds what an earlier run left: the same certificate (by domain
and API-Direct's tag, and ACM's idempotency token for a retry within its hour), the
same record (an UPSERT), so the next deploy picks up where this one stopped.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from api_direct.contracts import CustomDomainTarget
from api_direct.deploy.aws import Aws, aws_errors, error_code
from api_direct.deploy.executor import Observer
from api_direct.deploy.planner import STACK_TAGS
from api_direct.errors import StateError

ISSUED = "ISSUED"
PENDING = "PENDING_VALIDATION"
#: How long a deploy waits for ACM to validate a certificate whose record it just wrote, and how often it looks.
VALIDATION_WAIT_SECONDS = 300.0
VALIDATION_POLL_SECONDS = 10.0
#: ACM fills a new certificate's validation record a few seconds after the request.
RECORD_ATTEMPTS = 15
RECORD_POLL_SECONDS = 2.0
_VALIDATION_TTL = 300


@dataclass(frozen=True)
class ValidationRecord:
    """The CNAME ACM looks up to validate a domain."""

    name: str
    value: str

    def __str__(self) -> str:
        return f"CNAME {self.name} -> {self.value}"


@dataclass(frozen=True)
class HostedZone:
    """A public Route 53 zone of the linked account."""

    zone_id: str
    name: str


@dataclass(frozen=True)
class DomainState:
    """Where a stage's domain stands: its certificate (if any yet) and the zone that holds it (if any)."""

    name: str
    certificate_arn: str | None
    certificate_status: str | None
    zone: HostedZone | None

    @property
    def target(self) -> CustomDomainTarget | None:
        """What the stack needs to serve on the domain, once the certificate is issued."""
        if self.certificate_arn is None or self.certificate_status != ISSUED:
            return None
        zone = self.zone
        return CustomDomainTarget(
            self.name, self.certificate_arn, zone.zone_id if zone else None, zone.name if zone else None
        )

    def describe(self) -> str:
        """One line: what the next deploy does about the domain."""
        where = (
            f"records in the Route 53 zone {self.zone.name}"
            if self.zone
            else "no Route 53 zone in this account (the DNS records are yours to create)"
        )
        if self.certificate_status == ISSUED:
            return f"domain {self.name}: certificate issued; {where}"
        if self.certificate_arn is None:
            return f"domain {self.name}: `apid deploy` requests a certificate before the stack changes; {where}"
        return f"domain {self.name}: certificate pending DNS validation; {where}"


def inspect_domain(aws: Aws, domain: str, stack_name: str) -> DomainState:
    """Read, and change nothing: the domain's certificate and zone; refuses a domain another API already uses."""
    ensure_domain_is_ours(aws, domain, stack_name)
    certificate = find_certificate(aws.client("acm"), domain)
    return DomainState(
        domain,
        certificate[0] if certificate else None,
        certificate[1] if certificate else None,
        find_hosted_zone(aws.client("route53"), domain),
    )


def prepare_domain(
    aws: Aws,
    domain: str,
    stack_name: str,
    observer: Observer,
    *,
    rerun: str = "apid deploy",
    sleep: Callable[[float], None] = time.sleep,
) -> CustomDomainTarget:
    """An issued certificate for ``domain``: found, or requested and validated through the account's zone.

    Raises :class:`StateError` (nothing deployed) when the domain is another's, when
    there is no zone to write the validation record to (the message names the record),
    and when ACM has not validated it within :data:`VALIDATION_WAIT_SECONDS`; each
    says to run ``rerun`` (the command, with its stage) once the creator has acted.
    """
    state = inspect_domain(aws, domain, stack_name)
    if state.target is not None:
        return state.target
    acm = aws.client("acm")
    arn = state.certificate_arn or request_certificate(acm, domain, observer)
    record = validation_record(acm, arn, rerun=rerun, sleep=sleep)
    if state.zone is None:
        raise StateError(
            f"{domain}: this account has no Route 53 hosted zone for it; create the DNS record {record} at your"
            f" DNS provider, then rerun `{rerun}` (it goes on with certificate {arn})"
        )
    upsert_record(aws.client("route53"), state.zone, record)
    observer.note(f"  validation record {record} written to the zone {state.zone.name}")
    if not wait_until_issued(acm, arn, domain, observer, rerun=rerun, sleep=sleep):
        raise StateError(
            f"{domain}: certificate {arn} is still pending validation after {VALIDATION_WAIT_SECONDS:.0f} s (its"
            f" record {record} is in the zone {state.zone.name}); rerun `{rerun}` in a few minutes, and if it"
            f" stays pending, check that the domain's registrar delegates to that zone (its NS records)"
        )
    return CustomDomainTarget(domain, arn, state.zone.zone_id, state.zone.name)


def ensure_domain_is_ours(aws: Aws, domain: str, stack_name: str) -> None:
    """Refuse a domain API Gateway already serves for something other than this stack."""
    with aws_errors(f"looking up the custom domain {domain}"):
        try:
            existing = aws.client("apigateway").get_domain_name(domainName=domain)
        except ClientError as error:
            if error_code(error) == "NotFoundException":
                return
            raise
    cloudformation = aws.client("cloudformation")
    with aws_errors(f"listing resources of {stack_name}"):
        try:
            resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        except ClientError as error:
            if error_code(error) != "ValidationError":  # no such stack
                raise
            resources = []
    if any(
        r.get("ResourceType") == "AWS::ApiGateway::DomainName" and r.get("PhysicalResourceId") == domain
        for r in resources
    ):
        return
    owner = (existing.get("tags") or {}).get("aws:cloudformation:stack-name")
    raise StateError(
        f"{domain} is already used by {f'the stack {owner}' if owner else 'another API'} as an API Gateway custom"
        f" domain in {aws.region}; pick another domain, or remove it there first"
    )


def find_certificate(acm: Any, domain: str) -> tuple[str, str] | None:
    """API-Direct's certificate for exactly ``domain`` (ARN, status): an issued one before a pending one."""
    found: list[tuple[str, str]] = []
    with aws_errors("listing ACM certificates"):
        for page in acm.get_paginator("list_certificates").paginate(CertificateStatuses=[ISSUED, PENDING]):
            for summary in page["CertificateSummaryList"]:
                if summary.get("DomainName") != domain:
                    continue
                arn = summary["CertificateArn"]
                tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
                if all({"Key": key, "Value": value} in tags for key, value in STACK_TAGS.items()):
                    found.append((arn, summary.get("Status") or _status(acm, arn)))
    found.sort(key=lambda certificate: certificate[1] != ISSUED)
    return found[0] if found else None


def request_certificate(acm: Any, domain: str, observer: Observer) -> str:
    """Request a public DNS-validated certificate, tagged as API-Direct's (the tag is how it is found again)."""
    with aws_errors(f"requesting a certificate for {domain}"):
        arn = acm.request_certificate(
            DomainName=domain,
            ValidationMethod="DNS",
            IdempotencyToken=hashlib.sha256(domain.encode()).hexdigest()[:32],
            Tags=[{"Key": key, "Value": value} for key, value in STACK_TAGS.items()],
        )["CertificateArn"]
    observer.note(f"  requested certificate {arn} for {domain}")
    return str(arn)


def validation_record(acm: Any, arn: str, *, rerun: str, sleep: Callable[[float], None]) -> ValidationRecord:
    """The certificate's validation CNAME, once ACM has filled it in."""
    for attempt in range(RECORD_ATTEMPTS):
        with aws_errors(f"describing certificate {arn}"):
            certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
        for option in certificate.get("DomainValidationOptions", []):
            record = option.get("ResourceRecord")
            if record:
                return ValidationRecord(record["Name"], record["Value"])
        if attempt + 1 < RECORD_ATTEMPTS:
            sleep(RECORD_POLL_SECONDS)
    raise StateError(f"ACM has not given certificate {arn} its validation record yet; rerun `{rerun}`")


def find_hosted_zone(route53: Any, domain: str) -> HostedZone | None:
    """The public hosted zone that holds ``domain``: the one of the longest name that ends it."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        suffix = ".".join(labels[start:])
        with aws_errors(f"looking up the Route 53 zone of {suffix}"):
            zones = route53.list_hosted_zones_by_name(DNSName=suffix, MaxItems="10")["HostedZones"]
        for zone in zones:
            if zone["Name"].rstrip(".").lower() == suffix and not zone.get("Config", {}).get("PrivateZone"):
                return HostedZone(zone["Id"].rsplit("/", 1)[-1], suffix)
    return None


def upsert_record(route53: Any, zone: HostedZone, record: ValidationRecord) -> None:
    with aws_errors(f"writing the validation record to the zone {zone.name}"):
        route53.change_resource_record_sets(
            HostedZoneId=zone.zone_id,
            ChangeBatch={
                "Comment": "API-Direct: ACM certificate validation",
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": record.name,
                            "Type": "CNAME",
                            "TTL": _VALIDATION_TTL,
                            "ResourceRecords": [{"Value": record.value}],
                        },
                    }
                ],
            },
        )


def wait_until_issued(
    acm: Any, arn: str, domain: str, observer: Observer, *, rerun: str, sleep: Callable[[float], None]
) -> bool:
    """Whether ACM issues the certificate within :data:`VALIDATION_WAIT_SECONDS`; a line each time it is checked."""
    checks = max(1, int(VALIDATION_WAIT_SECONDS // VALIDATION_POLL_SECONDS) + 1)
    for check in range(checks):
        status = _status(acm, arn)
        if status == ISSUED:
            observer.note(f"  certificate for {domain} issued")
            return True
        if status != PENDING:
            raise StateError(
                f"{domain}: ACM reports certificate {arn} {status}; check it in the ACM console, delete it,"
                f" and rerun `{rerun}` to request a new one"
            )
        if check + 1 < checks:
            observer.note(f"  certificate for {domain}: waiting for ACM to validate it ({status})")
            sleep(VALIDATION_POLL_SECONDS)
    return False


def _status(acm: Any, arn: str) -> str:
    with aws_errors(f"describing certificate {arn}"):
        return str(acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"])
