"""Custom domains through the real CLI, moto in process: the certificate before the stack, the zone or the record to
create, the domain's URL as the API's.

How a certificate gets issued here: the emulator's ACM patch
(``certificate_issued_once_its_record_is_found``) issues a pending DNS-validated
certificate on the check after one that found its validation CNAME in a public
hosted zone of the account, as ACM's next look at DNS would; moto alone would issue
any certificate after a timer, whatever DNS holds. So a zone the test creates is
what validates a domain, and a domain without one stays pending. The deploy's
pause between checks is cut to a millisecond (``fast_checks``); what is waited for is the
same.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api_direct.client.publishing import listing
from api_direct.control_plane.api.listings import ListingIn
from api_direct.deploy import domains
from api_direct.project import load_project
from tests.cli_aws import ACCOUNT, REGION, aws, linked, remove_stack, run, stacks
from tests.errors import one_line_error

__all__ = ["aws", "linked"]  # fixtures

STACK = "apid-weather-api"
STAGES = ("dev", "prod")
OPENAPI = {"openapi": "3.1.0", "info": {"title": "weather", "version": "1"}, "paths": {}}


@pytest.fixture
def project(linked: Path, aws: Any) -> Iterator[Path]:
    """The linked example, undeployed in every stage, its ``apid.toml`` as it was once the test ends."""
    toml = linked / "apid.toml"
    original = toml.read_text()
    for stack in (STACK, *(f"{STACK}-{stage}" for stage in STAGES)):
        remove_stack(aws, stack)
    yield linked
    toml.write_text(original)


@pytest.fixture(autouse=True)
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domains, "VALIDATION_POLL_SECONDS", 0.001)
    monkeypatch.setattr(domains, "RECORD_POLL_SECONDS", 0.001)


def with_domain(project: Path, domain: str, stages: str = "") -> Path:
    toml = project / "apid.toml"
    toml.write_text(toml.read_text().replace("[gateway]\n", f'[gateway]\ndomain = "{domain}"\n', 1) + stages)
    return project


def zone(aws: Any, name: str) -> str:
    created = aws("route53").create_hosted_zone(Name=name, CallerReference=name)
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def certificates(aws: Any, domain: str) -> list[str]:
    listed = aws("acm").list_certificates()["CertificateSummaryList"]
    return [c["CertificateArn"] for c in listed if c["DomainName"] == domain]


def deployed(project: Path, *args: str) -> dict[str, Any]:
    result = run(project, "--json", "deploy", "--yes", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def records(aws: Any, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    listed = aws("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"].rstrip("."), r["Type"]): r for r in listed}


def test_with_the_zone_the_certificate_is_issued_and_the_api_is_served_on_the_domain(project: Path, aws: Any) -> None:
    zone_id = zone(aws, "zoned.test")
    outputs = deployed(with_domain(project, "api.zoned.test"))["outputs"]

    assert outputs["ApiUrl"] == "https://api.zoned.test/"
    assert ".execute-api." in outputs["GatewayUrl"] and outputs["GatewayUrl"].endswith("/v1/")
    [arn] = certificates(aws, "api.zoned.test")
    certificate = aws("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert certificate["Status"] == "ISSUED" and certificate["Type"] == "AMAZON_ISSUED"
    assert {"Key": "api-direct:managed", "Value": "true"} in aws("acm").list_tags_for_certificate(CertificateArn=arn)[
        "Tags"
    ]
    apigateway = aws("apigateway")
    domain = apigateway.get_domain_name(domainName="api.zoned.test")
    assert domain["regionalCertificateArn"] == arn and domain["securityPolicy"] == "TLS_1_2"
    assert domain["endpointConfiguration"] == {"types": ["REGIONAL"]}
    [mapping] = apigateway.get_base_path_mappings(domainName="api.zoned.test")["items"]
    assert (mapping["restApiId"], mapping["stage"], mapping["basePath"]) == (outputs["RestApiId"], "v1", "(none)")
    in_zone = records(aws, zone_id)
    validation = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    assert in_zone[(validation["Name"].rstrip("."), "CNAME")]["ResourceRecords"] == [{"Value": validation["Value"]}]
    for record_type in ("A", "AAAA"):
        alias = in_zone[("api.zoned.test", record_type)]["AliasTarget"]
        assert alias["DNSName"].rstrip(".") == domain["regionalDomainName"]
    status = json.loads(run(project, "--json", "status").stdout)
    assert status["outputs"]["ApiUrl"] == "https://api.zoned.test/"
    # What `apid publish` sends the control plane, which accepts it: the marketplace shows the domain's URL.
    body = listing(load_project(project), account_id=ACCOUNT, region=REGION, outputs=outputs, openapi=OPENAPI)
    assert str(ListingIn.model_validate(body).base_url) == "https://api.zoned.test/"

    assert run(project, "destroy", "--yes").exit_code == 0  # the domain and its aliases go with the stack ...
    assert "api.zoned.test" not in {d["domainName"] for d in apigateway.get_domain_names().get("items", [])}
    left = records(aws, zone_id)
    assert ("api.zoned.test", "A") not in left and ("api.zoned.test", "AAAA") not in left
    assert certificates(aws, "api.zoned.test") == [arn]  # ... the certificate and its record stay, for the next deploy
    assert (validation["Name"].rstrip("."), "CNAME") in left


def test_plan_shows_the_certificate_and_changes_nothing(project: Path, aws: Any) -> None:
    zone(aws, "planned.test")
    result = run(with_domain(project, "api.planned.test"), "--json", "plan")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["domain"] == {
        "name": "api.planned.test",
        "certificate_arn": None,
        "certificate_status": None,
        "hosted_zone": "planned.test",
    }
    assert "AWS::ApiGateway::DomainName" not in {change["type"] for change in plan["changes"]}
    assert certificates(aws, "api.planned.test") == [] and STACK not in stacks(aws)

    deployed(project)
    plan = json.loads(run(project, "--json", "plan").stdout)
    assert plan["domain"]["certificate_status"] == "ISSUED" and plan["no_changes"]


def test_without_a_zone_the_deploy_names_the_record_and_the_next_one_picks_up(project: Path, aws: Any) -> None:
    with_domain(project, "api.elsewhere.test")
    first = one_line_error(run(project, "deploy", "--yes"), 5, "api.elsewhere.test", "no Route 53 hosted zone")
    [arn] = certificates(aws, "api.elsewhere.test")
    record = aws("acm").describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"][0]
    name, value = record["ResourceRecord"]["Name"], record["ResourceRecord"]["Value"]
    assert f"CNAME {name} -> {value}" in first and "rerun `apid deploy`" in first
    assert STACK not in stacks(aws)

    second = one_line_error(run(project, "deploy", "--yes"), 5, "no Route 53 hosted zone")
    assert arn in second and certificates(aws, "api.elsewhere.test") == [arn]  # the same certificate, still waiting

    zone(aws, "elsewhere.test")  # the creator moves the domain's DNS to Route 53
    assert deployed(project)["outputs"]["ApiUrl"] == "https://api.elsewhere.test/"
    assert certificates(aws, "api.elsewhere.test") == [arn]


def test_a_stage_is_told_to_rerun_its_own_deploy(project: Path, aws: Any) -> None:
    with_domain(project, "api.nozone.test", '\n[stages.qa]\ndomain = "qa.nozone.test"\n')
    one_line_error(run(project, "deploy", "--yes", "--stage", "qa"), 5, "qa.nozone.test", "`apid deploy --stage qa`")
    assert "apid-weather-api-qa" not in stacks(aws)


def test_validation_still_pending_after_the_wait_stops_the_deploy(
    project: Path, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone(aws, "slow.test")
    wait = domains.VALIDATION_WAIT_SECONDS
    monkeypatch.setattr(domains, "VALIDATION_WAIT_SECONDS", 0.0)  # a single look, before ACM's next one
    one_line_error(
        run(with_domain(project, "api.slow.test"), "deploy", "--yes"), 5, "still pending validation", "rerun"
    )
    assert STACK not in stacks(aws)
    [arn] = certificates(aws, "api.slow.test")
    monkeypatch.setattr(domains, "VALIDATION_WAIT_SECONDS", wait)
    assert deployed(project)["outputs"]["ApiUrl"] == "https://api.slow.test/"
    assert certificates(aws, "api.slow.test") == [arn]


def test_a_domain_another_api_serves_is_refused_before_anything_is_requested(project: Path, aws: Any) -> None:
    aws("apigateway").create_domain_name(
        domainName="taken.example.org",
        regionalCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/other",
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    one_line_error(
        run(with_domain(project, "taken.example.org"), "deploy", "--yes"), 5, "taken.example.org is already used by"
    )
    assert certificates(aws, "taken.example.org") == [] and STACK not in stacks(aws)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[gateway]\ndomain = "https://api.example.com"\n', "gateway.domain"),
        ('[gateway]\ndomain = "api.example.com/v1"\n', "gateway.domain"),
        ('[gateway]\ndomain = "localhost"\n', "gateway.domain"),
        ('[gateway]\ndomain = "API.Example.com"\n', "gateway.domain"),
        ('[gateway]\n[stages.prod]\ndomain = "*.example.com"\n', "stages.prod.domain"),
        ('[gateway]\n[stages.dev]\ndomain = "a.example.com"\n[stages.prod]\ndomain = "a.example.com"\n', "stages"),
    ],
    ids=["scheme", "path", "one-label", "uppercase", "wildcard", "shared-by-two-stages"],
)
def test_a_bad_domain_is_one_line_naming_the_key(project: Path, aws: Any, toml: str, key: str) -> None:
    path = project / "apid.toml"
    path.write_text(path.read_text().replace("[gateway]\n", toml, 1))
    one_line_error(run(project, "deploy", "--yes"), 3, f"apid.toml: {key}")
    assert STACK not in stacks(aws)


def test_each_stage_serves_on_its_own_domain(project: Path, aws: Any) -> None:
    zone(aws, "staged.test")
    stages = '\n[stages.dev]\ndomain = "dev.staged.test"\n\n[stages.prod]\ndomain = "api.staged.test"\n'
    with_domain(project, "unused.staged.test", stages)
    dev = deployed(project, "--stage", "dev")["outputs"]
    prod = deployed(project, "--stage", "prod")["outputs"]
    assert (dev["ApiUrl"], prod["ApiUrl"]) == ("https://dev.staged.test/", "https://api.staged.test/")
    assert dev["RestApiId"] != prod["RestApiId"]
    mapped = {
        name: aws("apigateway").get_base_path_mappings(domainName=name)["items"][0]["restApiId"]
        for name in ("dev.staged.test", "api.staged.test")
    }
    assert mapped == {"dev.staged.test": dev["RestApiId"], "api.staged.test": prod["RestApiId"]}
    assert certificates(aws, "unused.staged.test") == []
