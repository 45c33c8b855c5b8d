"""CustomDomain on a REST API stage: a regional domain with the imported certificate, a root mapping, alias records."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk.assertions import Match, Template

from api_direct.constructs import CustomDomain

CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def domain_template(**props: str) -> Template:
    stack = cdk.Stack(cdk.App(), "apid-test", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    api = apigw.RestApi(stack, "Api", deploy_options=apigw.StageOptions(stage_name="v1"))
    api.root.add_method("GET")
    domain = CustomDomain(
        stack,
        "Domain",
        domain_name="api.example.com",
        certificate_arn=CERTIFICATE,
        rest_api=api,
        stage=api.deployment_stage,
        **props,
    )
    cdk.CfnOutput(stack, "Url", value=domain.url)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def with_zone() -> Template:
    return domain_template(hosted_zone_id="Z123EXAMPLE", zone_name="example.com")


def test_the_domain_is_regional_with_the_issued_certificate_and_tls_1_2(with_zone: Template) -> None:
    with_zone.has_resource_properties(
        "AWS::ApiGateway::DomainName",
        {
            "DomainName": "api.example.com",
            "RegionalCertificateArn": CERTIFICATE,
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
            "SecurityPolicy": "TLS_1_2",
        },
    )
    with_zone.resource_count_is("AWS::CertificateManager::Certificate", 0)  # imported, never created by the stack


def test_the_domain_root_maps_to_the_stage(with_zone: Template) -> None:
    (mapping,) = with_zone.find_resources("AWS::ApiGateway::BasePathMapping").values()
    (api_id,) = with_zone.find_resources("AWS::ApiGateway::RestApi")
    (stage_id,) = with_zone.find_resources("AWS::ApiGateway::Stage")
    (domain_id,) = with_zone.find_resources("AWS::ApiGateway::DomainName")
    assert mapping["Properties"] == {
        "DomainName": {"Ref": domain_id},
        "RestApiId": {"Ref": api_id},
        "Stage": {"Ref": stage_id},
    }  # no BasePath: the domain's root is the stage's, with no stage name in the URL


@pytest.mark.parametrize("record_type", ["A", "AAAA"])
def test_alias_records_point_the_name_at_the_regional_endpoint(with_zone: Template, record_type: str) -> None:
    (domain_id,) = with_zone.find_resources("AWS::ApiGateway::DomainName")
    with_zone.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "api.example.com.",
            "Type": record_type,
            "HostedZoneId": "Z123EXAMPLE",
            "AliasTarget": {
                "DNSName": {"Fn::GetAtt": [domain_id, "RegionalDomainName"]},
                "HostedZoneId": {"Fn::GetAtt": [domain_id, "RegionalHostedZoneId"]},
            },
        },
    )


def test_without_a_zone_there_are_no_records() -> None:
    template = domain_template()
    template.resource_count_is("AWS::ApiGateway::DomainName", 1)
    template.resource_count_is("AWS::ApiGateway::BasePathMapping", 1)
    template.resource_count_is("AWS::Route53::RecordSet", 0)


def test_the_url_is_the_domain_root(with_zone: Template) -> None:
    with_zone.has_output("Url", {"Value": {"Fn::Join": ["", ["https://", {"Ref": Match.any_value()}, "/"]]}})
