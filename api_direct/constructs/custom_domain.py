"""A REST API stage on its own domain: the regional custom domain, its mapping, and its DNS records."""

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct


class CustomDomain(Construct):
    """Serve ``stage`` of ``rest_api`` at ``https://<domain_name>/``.

    The certificate is imported by ARN, not created here: a certificate
    CloudFormation creates keeps the stack waiting (for up to days) on a DNS
    record nobody may have created yet, while one issued before the deploy cannot.
    It must be ISSUED and in the stack's region (a REGIONAL endpoint serves the
    certificate from its own region). The endpoint is REGIONAL, like the API it
    fronts, and accepts TLS 1.2 or later only.

    The mapping has no base path, so the domain's root is the stage's root and the
    stage's name is not in the URL. With ``hosted_zone_id`` (the public zone that
    holds ``domain_name``), A and AAAA alias records point the name at the
    regional endpoint; without it the creator's DNS provider must have a CNAME to
    :attr:`target_domain_name`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        certificate_arn: str,
        rest_api: apigw.IRestApi,
        stage: apigw.Stage,
        hosted_zone_id: str | None = None,
        zone_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.domain = apigw.DomainName(
            self,
            "Domain",
            domain_name=domain_name,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn),
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        self.mapping = self.domain.add_base_path_mapping(rest_api, stage=stage)
        self.records: list[route53.RecordSet] = []
        if hosted_zone_id is not None:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=zone_name or domain_name
            )
            alias = route53.RecordTarget.from_alias(targets.ApiGatewayDomain(self.domain))
            self.records = [
                route53.ARecord(self, "Alias", zone=zone, record_name=f"{domain_name}.", target=alias),
                route53.AaaaRecord(self, "AliasIpv6", zone=zone, record_name=f"{domain_name}.", target=alias),
            ]

    @property
    def url(self) -> str:
        """The base URL consumers call: the domain's root, with no stage in it."""
        return f"https://{self.domain.domain_name}/"

    @property
    def target_domain_name(self) -> str:
        """Where the domain's DNS record must point (a token until deploy)."""
        return self.domain.domain_name_alias_domain_name
