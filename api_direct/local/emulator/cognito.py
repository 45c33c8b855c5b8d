"""Patches to moto's Cognito: the user pool, app client and groups that moto's CloudFormation skips.

The control plane's sign-in rests on them; without them its template does not deploy.
"""

from typing import Any

from api_direct.local.emulator.moto_hooks import register_resource_type


_MOTO_COGNITO = "moto.cognitoidp.models"


def cognito_user_pool_resource() -> None:
    """Create ``AWS::Cognito::UserPool`` resources instead of skipping them.

    moto has no CloudFormation support for Cognito: it warns and skips the pool, so
    ``Ref`` (its id) and ``Fn::GetAtt`` (``Arn``, ``ProviderName``, ``ProviderURL``)
    give nothing and the control plane's template fails ("Fn::GetAtt references
    undefined resource"), while real CloudFormation creates the pool. The patch
    creates it through moto's own backend as ``CreateUserPool`` would: the
    template's properties are that call's parameters (username and auto-verified
    attributes, schema with its custom attributes, password policy, account
    recovery, deletion protection, ``LambdaConfig``, which moto stores but whose
    triggers it cannot run), but for the name (``UserPoolName``, else generated)
    and ``EnabledMfas``, which CloudFormation applies with ``SetUserPoolMfaConfig``.
    Deleting a pool whose ``DeletionProtection`` is ``ACTIVE`` fails, as in Cognito
    (moto's own ``DeleteUserPool`` ignores it); a ``DeletionPolicy: Retain`` pool,
    like ours, is never deleted (moto honours the policy). An update keeps the pool
    and its old properties (moto has no update handler for it; the README lists that).
    """
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpUserPool, cognitoidp_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnUserPool(EmulatedResource):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names
        TYPE = "AWS::Cognito::UserPool"
        NAME_PROPERTY = "UserPoolName"

        def __init__(self, pool: CognitoIdpUserPool) -> None:
            self.pool = pool

        @property
        def physical_resource_id(self) -> str:
            return self.pool.id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Arn", "ProviderName", "ProviderURL")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            provider = f"cognito-idp.{self.pool.region}.amazonaws.com/{self.pool.id}"
            attributes = {"Arn": self.pool.arn, "ProviderName": provider, "ProviderURL": f"https://{provider}"}
            if attribute_name not in attributes:
                raise UnformattedGetAttTemplateException()
            return attributes[attribute_name]

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnUserPool":
            properties = dict(properties)
            properties.pop("UserPoolName", None)
            enabled_mfas = properties.pop("EnabledMfas", [])
            backend = cognitoidp_backends[account_id][region]
            pool = backend.create_user_pool(name, properties)
            if "SOFTWARE_TOKEN_MFA" in enabled_mfas:
                # moto types sms_config a dict, yet its own handler passes None for "no SMS MFA", as here.
                backend.set_user_pool_mfa_config(pool.id, None, {"Enabled": True}, pool.mfa_config)  # type: ignore[arg-type]
            return cls(pool)

        def delete(self, account_id: str, region_name: str) -> None:
            if self.pool.extended_config.get("DeletionProtection") == "ACTIVE":
                raise InvalidParameterException(
                    "The user pool cannot be deleted because deletion protection is activated."
                )
            cognitoidp_backends[account_id][region_name].user_pools.pop(self.pool.id, None)

    register_resource_type(CfnUserPool)


def cognito_user_pool_client_resource() -> None:
    """Create ``AWS::Cognito::UserPoolClient`` resources instead of skipping them.

    moto skips app clients, so ``Ref`` to ours (the client id, which real
    CloudFormation gives) is ``None``: the control plane's ``AppClientId`` output
    and the API's ``APID_CP_APP_CLIENT_ID`` are empty and nobody can sign in. The
    patch creates the client through moto's own backend as
    ``CreateUserPoolClient`` would: the template's properties are that call's
    parameters (explicit auth flows, token validity and units, read and write
    attributes, ``GenerateSecret``, ``PreventUserExistenceErrors``, ...), with the
    name ``ClientName`` or a generated one. Deletion tolerates a pool already
    deleted, which takes its clients with it. An update keeps the client and its
    old properties.
    """
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import CognitoIdpUserPoolClient, cognitoidp_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnUserPoolClient(EmulatedResource):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names
        TYPE = "AWS::Cognito::UserPoolClient"
        NAME_PROPERTY = "ClientName"

        def __init__(self, client: CognitoIdpUserPoolClient) -> None:
            self.client = client

        @property
        def physical_resource_id(self) -> str:
            return str(self.client.id)

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnUserPoolClient":
            properties = dict(properties)
            pool_id = properties.pop("UserPoolId")
            generate_secret = properties.pop("GenerateSecret", False)
            client = cognitoidp_backends[account_id][region].create_user_pool_client(
                pool_id, generate_secret, {**properties, "ClientName": name}
            )
            return cls(client)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                cognitoidp_backends[account_id][region_name].delete_user_pool_client(
                    self.client.user_pool_id, self.client.id
                )
            except ResourceNotFoundError:
                pass

    register_resource_type(CfnUserPoolClient)


def cognito_user_pool_group_resource() -> None:
    """Create ``AWS::Cognito::UserPoolGroup`` resources instead of skipping them.

    moto skips user pool groups, so our ``creators`` and ``consumers`` groups do
    not exist and the post-confirmation step (which adds each new user to the group
    of the role they signed up for) fails. Real CloudFormation creates them, and
    ``Ref`` gives the group's name. The patch creates the group through moto's own
    backend as ``CreateGroup`` would, with name, description, precedence and role.
    Deletion tolerates a pool already deleted, which takes its groups with it. An
    update keeps the group and its old properties.
    """
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import CognitoIdpGroup, cognitoidp_backends
    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnUserPoolGroup(EmulatedResource):
        __module__ = _MOTO_COGNITO  # moto files every model under the service its module names
        TYPE = "AWS::Cognito::UserPoolGroup"
        NAME_PROPERTY = "GroupName"

        def __init__(self, group: CognitoIdpGroup) -> None:
            self.group = group

        @property
        def physical_resource_id(self) -> str:
            return self.group.group_name

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnUserPoolGroup":
            # moto types these str and int, yet its own CreateGroup handler passes None for each one left out, as here.
            group = cognitoidp_backends[account_id][region].create_group(
                properties["UserPoolId"],
                name,
                properties.get("Description"),  # type: ignore[arg-type]
                properties.get("RoleArn"),  # type: ignore[arg-type]
                properties.get("Precedence"),  # type: ignore[arg-type]
            )
            return cls(group)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                cognitoidp_backends[account_id][region_name].delete_group(
                    self.group.user_pool_id, self.group.group_name
                )
            except ResourceNotFoundError:
                pass

    register_resource_type(CfnUserPoolGroup)
