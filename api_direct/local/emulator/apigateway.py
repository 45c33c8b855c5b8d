"""Patches to moto's API Gateway: the stage, authorizer and usage plan it skips, the settings it drops.

Without them our REST API deploys as an open API at a URL ending in ``/None/``,
with no usage plans; each patch's docstring says what moto does and what
CloudFormation does instead.
"""

from typing import Any

from api_direct.local.emulator.moto_hooks import after_cloudformation_handlers, register_resource_type


_MOTO_APIGATEWAY = "moto.apigateway.models"


def api_deployment_ref_is_its_id() -> None:
    """``Ref`` to an ``AWS::ApiGateway::Deployment`` gives the deployment id.

    moto's ``Deployment`` has no ``physical_resource_id`` either, so ``Ref`` gives
    the Python object (and ``list_stack_resources`` an empty physical id). Real
    CloudFormation documents ``Ref`` of a deployment as its id; our stage's
    ``DeploymentId: {"Ref": deployment}`` is CDK's standard output and correct.
    """
    from moto.apigateway.models import Deployment

    Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]


def api_stage_resource() -> None:
    """Create ``AWS::ApiGateway::Stage`` resources instead of skipping them.

    moto has no CloudFormation support for stages: it warns and skips them, so
    ``Ref`` to our ``v1`` stage is ``None`` and the stack's ``ApiUrl`` output ends
    in ``/None/``, while real CloudFormation creates the stage and ``Ref`` gives
    its name. The patch creates it through moto's own API Gateway backend (as the
    ``CreateStage`` call would), with the properties our template uses: name,
    deployment, description, variables, tags, tracing and access log settings.
    An update replaces the stage under the same name; deletion of a stage whose
    API is already gone is a no-op (moto deletes a stack's resources in no order).
    """
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend, Stage, apigateway_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnStage(EmulatedResource):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names
        TYPE = "AWS::ApiGateway::Stage"
        NAME_PROPERTY = "StageName"
        REPLACED_ON_UPDATE = True

        def __init__(self, rest_api_id: str, stage: Stage) -> None:
            self.rest_api_id = rest_api_id
            self.stage = stage

        @property
        def physical_resource_id(self) -> str:
            return str(self.stage.name)

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnStage":
            backend: APIGatewayBackend = apigateway_backends[account_id][region]
            stage = backend.create_stage(
                function_id=properties["RestApiId"],
                stage_name=properties.get("StageName", name),
                deploymentId=properties["DeploymentId"],
                variables=properties.get("Variables"),
                description=properties.get("Description", ""),
                tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])} or None,
                tracing_enabled=properties.get("TracingEnabled"),
            )
            if "AccessLogSetting" in properties:
                setting = properties["AccessLogSetting"]
                stage.access_log_settings = {"destinationArn": setting["DestinationArn"], "format": setting["Format"]}
            return cls(properties["RestApiId"], stage)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_stage(self.rest_api_id, str(self.stage.name))
            except NotFoundException:
                pass

    register_resource_type(CfnStage)


def api_authorizer_resource() -> None:
    """Create ``AWS::ApiGateway::Authorizer`` resources instead of skipping them.

    moto skips authorizers, so ``Ref`` to ours is ``None`` and our methods are
    created without ``authorizerId``: the API would look open. Real CloudFormation
    creates the authorizer and ``Ref`` gives its id. The patch creates it through
    moto's own backend (as ``CreateAuthorizer`` would) with name, type, URI,
    credentials, identity source and result TTL, updates it in place through
    moto's own patch operations (the id is kept, as in AWS), and tolerates an API
    already deleted, like :func:`api_stage_resource`.
    """
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend, Authorizer, apigateway_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnAuthorizer(EmulatedResource):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names
        TYPE = "AWS::ApiGateway::Authorizer"
        NAME_PROPERTY = "Name"

        def __init__(self, rest_api_id: str, authorizer: Authorizer) -> None:
            self.rest_api_id = rest_api_id
            self.authorizer = authorizer

        @property
        def physical_resource_id(self) -> str:
            return str(self.authorizer.id)

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnAuthorizer":
            backend: APIGatewayBackend = apigateway_backends[account_id][region]
            authorizer = backend.create_authorizer(
                properties["RestApiId"],
                properties.get("Name", name),
                properties["Type"],
                authorizer_uri=properties.get("AuthorizerUri"),
                authorizer_credentials=properties.get("AuthorizerCredentials"),
                identity_source=properties.get("IdentitySource"),
                authorizer_result_ttl=properties.get("AuthorizerResultTtlInSeconds", 300),
                provider_arns=properties.get("ProviderARNs"),
                auth_type=properties.get("AuthType"),
            )
            return cls(properties["RestApiId"], authorizer)

        @classmethod
        def update(
            cls, original: "CfnAuthorizer", name: str, properties: dict[str, Any], account_id: str, region: str
        ) -> "CfnAuthorizer":
            paths = {
                "/name": properties.get("Name", name),
                "/type": properties["Type"],
                "/authorizerUri": properties.get("AuthorizerUri"),
                "/authorizerCredentials": properties.get("AuthorizerCredentials"),
                "/identitySource": properties.get("IdentitySource"),
                "/authorizerResultTtlInSeconds": properties.get("AuthorizerResultTtlInSeconds", 300),
            }
            original.authorizer.apply_operations(
                [{"op": "replace", "path": path, "value": value} for path, value in paths.items()]
            )
            return original

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_authorizer(
                    self.rest_api_id, str(self.authorizer.id)
                )
            except NotFoundException:
                pass

    register_resource_type(CfnAuthorizer)


def api_usage_plan_resource() -> None:
    """Create ``AWS::ApiGateway::UsagePlan`` resources instead of skipping them.

    moto skips usage plans, so ``Ref`` to ours is ``None``: the key-sync function's
    ``USAGE_PLANS`` variable becomes ``{"free":"None","pro":"None"}`` and no plan
    carries our per-tier throttle and quota. Real CloudFormation creates each plan
    and ``Ref`` gives its id. The patch creates it through moto's own backend (as
    ``CreateUsagePlan`` would) from name, description, API stages, throttle, quota
    and tags; an update replaces the plan's settings under the same id (so keys
    already bound to it stay bound, as in AWS).
    """
    from moto.apigateway.models import APIGatewayBackend, UsagePlan, apigateway_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    def settings(properties: dict[str, Any], resource_name: str) -> dict[str, Any]:
        """The plan as the REST API's ``CreateUsagePlan`` body spells it (lower camel case)."""
        body = _lower_camel_keys({key: value for key, value in properties.items() if key != "Tags"})
        body["name"] = body.pop("usagePlanName", resource_name)
        body["tags"] = {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}
        return body

    class CfnUsagePlan(EmulatedResource):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names
        TYPE = "AWS::ApiGateway::UsagePlan"
        NAME_PROPERTY = "UsagePlanName"

        def __init__(self, plan: UsagePlan) -> None:
            self.plan = plan

        @property
        def physical_resource_id(self) -> str:
            return self.plan.id

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnUsagePlan":
            backend: APIGatewayBackend = apigateway_backends[account_id][region]
            return cls(backend.create_usage_plan(settings(properties, name)))

        @classmethod
        def update(
            cls, original: "CfnUsagePlan", name: str, properties: dict[str, Any], account_id: str, region: str
        ) -> "CfnUsagePlan":
            plan_id = original.plan.id
            plan = UsagePlan(plan_id, **settings(properties, name))
            apigateway_backends[account_id][region].usage_plans[plan_id] = plan
            return cls(plan)

        def delete(self, account_id: str, region_name: str) -> None:
            apigateway_backends[account_id][region_name].usage_plans.pop(self.plan.id, None)

    register_resource_type(CfnUsagePlan)


def api_method_authorizer_applied() -> None:
    """``AWS::ApiGateway::Method`` gets the ``AuthorizerId`` and request parameters of its template.

    moto's CloudFormation handler for methods passes only the HTTP method,
    authorization type, ``ApiKeyRequired`` and the integration, so our methods
    have no authorizer and do not require the ``x-api-key`` header. Real
    CloudFormation applies both (``PutMethod``). The patch sets them on moto's
    method after moto creates it; with :func:`api_authorizer_resource` the id is
    the authorizer's.
    """
    from moto.apigateway.models import Method

    def apply(method: Method, properties: dict[str, Any]) -> None:
        method.authorizer_id = properties.get("AuthorizerId")
        method.request_parameters = properties.get("RequestParameters")

    after_cloudformation_handlers(Method, apply)


def api_mock_integration_method() -> None:
    """``AWS::ApiGateway::Method`` with a ``MOCK`` integration (a CORS preflight) is created.

    moto's CloudFormation handler reads the integration's ``IntegrationHttpMethod``
    and ``Uri`` unconditionally, so a mock integration, which has neither (AWS
    requires them only of integrations that call a backend), fails the stack with
    a KeyError. The patch passes both as absent, as ``PutIntegration`` takes a
    ``MOCK``; the integration's responses stay in the template, where
    ``apid sandbox``'s gateway reads them.
    """
    from moto.apigateway.models import Method

    original = Method.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        integration = cloudformation_json["Properties"].get("Integration") or {}
        if integration.get("Type") == "MOCK":
            filled = {"IntegrationHttpMethod": None, "Uri": None, **integration}
            properties = {**cloudformation_json["Properties"], "Integration": filled}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, cloudformation_json, *args, **kwargs)

    Method.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


def rest_api_settings_applied() -> None:
    """``AWS::ApiGateway::RestApi`` gets the API key source, endpoint types and tags of its template.

    moto's handler passes only name, description and ``EndpointConfiguration``
    (whose ``Types`` it then does not read, expecting the REST API's ``types``),
    so our API reports ``apiKeySource: HEADER``, no endpoint types and no tags.
    Real CloudFormation applies all three; ``AUTHORIZER`` is what lets our
    authorizer pick the usage-plan key per consumer. The patch sets them after
    moto creates the API.
    """
    from moto.apigateway.models import RestAPI

    def apply(api: RestAPI, properties: dict[str, Any]) -> None:
        api.api_key_source = properties.get("ApiKeySourceType", "HEADER")
        api.endpoint_configuration = _lower_camel_keys(properties.get("EndpointConfiguration", {"Types": ["EDGE"]}))
        api.tags = {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}

    after_cloudformation_handlers(RestAPI, apply)


def rest_api_deleted_with_its_stack() -> None:
    """Deleting the stack deletes its ``AWS::ApiGateway::RestApi``.

    moto's ``RestAPI`` model has neither ``delete`` nor
    ``delete_from_cloudformation_json``, and moto's stack deletion silently skips
    such resources, so the REST API (with its resources, methods and stages)
    outlives ``delete_stack``; real CloudFormation deletes it. The patch deletes
    it through moto's own backend, as ``DeleteRestApi`` would.
    """
    from moto.apigateway.models import RestAPI, apigateway_backends

    def delete(self: RestAPI, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].apis.pop(self.id, None)

    RestAPI.delete = delete  # type: ignore[attr-defined]


def _lower_camel_keys(node: Any) -> Any:
    """CloudFormation's ``UpperCamel`` property names as API Gateway's ``lowerCamel`` ones."""
    if isinstance(node, dict):
        return {key[:1].lower() + key[1:]: _lower_camel_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_lower_camel_keys(item) for item in node]
    return node


def api_domain_name_resource() -> None:
    """Create ``AWS::ApiGateway::DomainName`` resources instead of skipping them, as API Gateway checks them.

    moto has no CloudFormation support for custom domains: it skips them, so
    ``Ref`` is ``None``, ``Fn::GetAtt`` of ``RegionalDomainName`` fails, and a
    stack that maps its stage to a domain has none. Real CloudFormation creates the
    domain (``Ref`` is its name) and API Gateway refuses a regional certificate
    that is not an ISSUED ACM certificate of the domain's region. The patch creates
    the domain through moto's own backend, after that check against moto's ACM,
    with its endpoint type, security policy and tags; ``RegionalDomainName`` and
    ``RegionalHostedZoneId`` are the backend's. The domain name cannot change in
    place (a new name is a new resource), and deletion tolerates a domain already gone.
    """
    from moto.acm.models import acm_backends
    from moto.apigateway.exceptions import BadRequestException, NotFoundException
    from moto.apigateway.models import APIGatewayBackend, DomainName, apigateway_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    attributes = {
        "RegionalDomainName": "regional_domain_name",
        "RegionalHostedZoneId": "regional_hosted_zone_id",
        "DistributionDomainName": "distribution_domain_name",
        "DistributionHostedZoneId": "distribution_hosted_zone_id",
    }

    def require_issued(certificate_arn: str, domain_name: str, account_id: str, region_name: str) -> None:
        certificates = acm_backends[account_id][region_name]._certificates
        certificate = certificates.get(certificate_arn)
        if certificate is None:
            raise BadRequestException(f"Certificate {certificate_arn} not found in {region_name}")
        certificate.check()
        if certificate.status != "ISSUED" or domain_name not in (certificate.common_name, *certificate.sans):
            raise BadRequestException(f"Certificate {certificate_arn} is not an issued certificate for {domain_name}")

    class CfnDomainName(EmulatedResource):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names
        TYPE = "AWS::ApiGateway::DomainName"
        NAME_PROPERTY = "DomainName"
        REPLACED_ON_UPDATE = True

        def __init__(self, domain: DomainName) -> None:
            self.domain = domain

        @property
        def physical_resource_id(self) -> str:
            return str(self.domain.domain_name)

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in attributes

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            return getattr(self.domain, attributes[attribute_name])

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnDomainName":
            name = properties["DomainName"]
            regional_certificate = properties.get("RegionalCertificateArn")
            if regional_certificate:
                require_issued(regional_certificate, name, account_id, region)
            backend: APIGatewayBackend = apigateway_backends[account_id][region]
            domain = backend.create_domain_name(
                domain_name=name,
                certificate_name="",
                tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])},  # type: ignore[arg-type]
                certificate_arn=properties.get("CertificateArn", ""),
                certificate_body="",
                certificate_private_key="",
                certificate_chain="",
                regional_certificate_name="",
                regional_certificate_arn=regional_certificate or "",
                endpoint_configuration={"types": properties.get("EndpointConfiguration", {}).get("Types", ["EDGE"])},
                security_policy=properties.get("SecurityPolicy", ""),
            )
            return cls(domain)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_domain_name(str(self.domain.domain_name))
            except NotFoundException:
                pass

    register_resource_type(CfnDomainName)


def api_base_path_mapping_resource() -> None:
    """Create ``AWS::ApiGateway::BasePathMapping`` resources instead of skipping them.

    moto skips base path mappings, so a custom domain maps to nothing. Real
    CloudFormation creates the mapping; without ``BasePath`` it maps the domain's
    root to the stage. The patch creates it through moto's own backend (which
    checks the domain, the API and the stage exist, as API Gateway does), replaces
    it on update, and tolerates a domain already deleted (moto deletes a stack's
    resources in no order).
    """
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend, BasePathMapping, apigateway_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnBasePathMapping(EmulatedResource):
        __module__ = _MOTO_APIGATEWAY  # moto files every model under the service its module names
        TYPE = "AWS::ApiGateway::BasePathMapping"
        REPLACED_ON_UPDATE = True

        def __init__(self, mapping: BasePathMapping) -> None:
            self.mapping = mapping

        @property
        def physical_resource_id(self) -> str:
            return f"{self.mapping.domain_name}/{self.mapping.base_path}"

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnBasePathMapping":
            backend: APIGatewayBackend = apigateway_backends[account_id][region]
            mapping = backend.create_base_path_mapping(
                properties["DomainName"],
                properties["RestApiId"],
                properties.get("BasePath", ""),
                properties.get("Stage", ""),
            )
            return cls(mapping)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                apigateway_backends[account_id][region_name].delete_base_path_mapping(
                    str(self.mapping.domain_name), str(self.mapping.base_path)
                )
            except NotFoundException:
                pass

    register_resource_type(CfnBasePathMapping)
