"""The patch to moto's Secrets Manager: the secret that moto's CloudFormation skips.

The control plane keeps its Stripe key in one; without it the functions are told
the secret's ARN is "None".
"""

import json
from typing import Any

from api_direct.local.emulator.moto_hooks import register_resource_type


_MOTO_SECRETSMANAGER = "moto.secretsmanager.models"


def secret_resource() -> None:
    """Create ``AWS::SecretsManager::Secret`` resources instead of skipping them.

    moto skips secrets, so ``Ref`` to our Stripe secret (its ARN, in real
    CloudFormation) is ``None``: the ``StripeSecretArn`` output is empty, the
    functions' ``APID_CP_STRIPE_SECRET_ARN`` says "None" and the grants to read it
    name no resource. The patch creates the secret through moto's own backend as
    CloudFormation does: ``GenerateSecretString`` through ``GetRandomPassword``
    (the password alone, or set as ``GenerateStringKey`` of
    ``SecretStringTemplate``), then ``CreateSecret`` with name (``Name``, else
    generated), description, KMS key and tags. ``SecretString`` and
    ``GenerateSecretString`` together are rejected, as CloudFormation rejects
    them. Deletion deletes without a recovery window, so a redeploy may reuse the
    name; a ``DeletionPolicy: Retain`` secret, like ours, is kept. An update keeps
    the secret and its old value.
    """
    from moto.cloudformation.exceptions import ValidationError
    from moto.secretsmanager.models import secretsmanager_backends

    from api_direct.local.emulator.resource_model import EmulatedResource

    def secret_string(backend: Any, properties: dict[str, Any]) -> str | None:
        if "SecretString" in properties and "GenerateSecretString" in properties:
            raise ValidationError(message="SecretString and GenerateSecretString cannot both be specified")
        generate = properties.get("GenerateSecretString")
        if generate is None:
            return properties.get("SecretString")
        password: str = json.loads(
            backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=generate.get("ExcludeNumbers", False),
                exclude_punctuation=generate.get("ExcludePunctuation", False),
                exclude_uppercase=generate.get("ExcludeUppercase", False),
                exclude_lowercase=generate.get("ExcludeLowercase", False),
                include_space=generate.get("IncludeSpace", False),
                require_each_included_type=generate.get("RequireEachIncludedType", True),
            )
        )["RandomPassword"]
        if "GenerateStringKey" not in generate:
            return password
        return json.dumps({**json.loads(generate["SecretStringTemplate"]), generate["GenerateStringKey"]: password})

    class CfnSecret(EmulatedResource):
        __module__ = _MOTO_SECRETSMANAGER  # moto files every model under the service its module names
        TYPE = "AWS::SecretsManager::Secret"
        NAME_PROPERTY = "Name"

        def __init__(self, arn: str) -> None:
            self.physical_id = arn

        @classmethod
        def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "CfnSecret":
            backend = secretsmanager_backends[account_id][region]
            created = json.loads(
                backend.create_secret(
                    name=name,
                    secret_string=secret_string(backend, properties),
                    secret_binary=None,
                    description=properties.get("Description", ""),
                    tags=properties.get("Tags", []),
                    kms_key_id=properties.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            return cls(created["ARN"])

        def delete(self, account_id: str, region_name: str) -> None:
            secretsmanager_backends[account_id][region_name].delete_secret(
                self.physical_id, recovery_window_in_days=None, force_delete_without_recovery=True
            )

    register_resource_type(CfnSecret)
