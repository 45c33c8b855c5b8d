"""The patches to moto's IAM: a stack's managed policy goes with the stack, OIDC providers are created,
and a role's trust follows its template.

Without the first the link's permissions boundary outlives ``delete_stack`` and
linking again fails; without the others a link admitting GitHub Actions cannot be
deployed, or updated to admit another branch.
"""

import json
from typing import Any

from api_direct.local.emulator.moto_hooks import register_resource_type


def managed_policy_deleted_with_its_stack() -> None:
    """Deleting the stack deletes its ``AWS::IAM::ManagedPolicy``.

    moto's ``ManagedPolicy`` has no delete handler, so the link's permissions
    boundary outlives ``delete_stack`` and linking the account again fails with
    ``EntityAlreadyExists``; real CloudFormation deletes the policy. The patch
    removes it from moto's IAM backend, as ``DeletePolicy`` would.
    """
    from moto.iam.models import ManagedPolicy

    def delete(self: ManagedPolicy, account_id: str, region_name: str) -> None:
        self.backend.managed_policies.pop(self.arn, None)

    ManagedPolicy.delete = delete  # type: ignore[attr-defined]


def oidc_provider_resource() -> None:
    """Create ``AWS::IAM::OIDCProvider`` resources instead of skipping them.

    moto skips the type, so ``Fn::GetAtt`` of its ``Arn`` fails and a link that
    admits GitHub Actions cannot be deployed; real CloudFormation creates the
    provider, whose ``Ref`` and ``Arn`` are its ARN (``oidc-provider/<url without
    scheme>``), and fails with ``EntityAlreadyExists`` when the account already has
    one for that URL. The patch creates it through moto's own IAM backend (which
    refuses a second provider for a URL as IAM does), with its audiences,
    thumbprints and tags; an update replaces those in place, and deletion deletes it.
    """
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    from api_direct.local.emulator.resource_model import EmulatedResource

    class CfnOIDCProvider(EmulatedResource):
        __module__ = "moto.iam.models"  # moto files every model under the service its module names
        TYPE = "AWS::IAM::OIDCProvider"
        ATTRIBUTES = {"Arn": "physical_id"}

        def __init__(self, arn: str) -> None:
            self.physical_id = arn

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnOIDCProvider":
            provider = iam_backends[account_id][get_partition(region)].create_open_id_connect_provider(
                url=properties["Url"],
                thumbprint_list=properties.get("ThumbprintList", []),
                client_id_list=properties.get("ClientIdList", []),
                tags=properties.get("Tags", []),
            )
            return cls(provider.arn)

        @classmethod
        def update(
            cls, original: "CfnOIDCProvider", name: str, properties: dict[str, Any], account_id: str, region: str
        ) -> "CfnOIDCProvider":
            provider = iam_backends[account_id][get_partition(region)].get_open_id_connect_provider(
                original.physical_id
            )
            provider.client_id_list = properties.get("ClientIdList", [])
            provider.thumbprint_list = properties.get("ThumbprintList", [])
            return original

        def delete(self, account_id: str, region_name: str) -> None:
            iam_backends[account_id][get_partition(region_name)].delete_open_id_connect_provider(self.physical_id)

    register_resource_type(CfnOIDCProvider)


def role_trust_policy_updated() -> None:
    """A stack update that changes a role's ``AssumeRolePolicyDocument`` changes the role's trust.

    moto's update handler for ``AWS::IAM::Role`` applies the description alone, so
    a link rerun that admits another GitHub branch leaves the role trusting only
    the first; real CloudFormation calls ``UpdateAssumeRolePolicy``. The patch does
    that through moto's backend (which validates the document as IAM does) after
    moto's own update handler. Creation is left as moto does it.
    """
    from moto.iam.models import Role, iam_backends

    original = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update(
        cls: type,
        original_resource: Role,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Role:
        role: Role = original(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        document = cloudformation_json["Properties"]["AssumeRolePolicyDocument"]
        iam_backends[role.account_id][role.partition].update_assume_role_policy(
            role.name, document if isinstance(document, str) else json.dumps(document)
        )
        return role

    Role.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign,assignment]
