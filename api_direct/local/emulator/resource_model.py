"""The base of the CloudFormation resource types the patches add to moto, with moto's calling convention written once.

Imported by a patch when it is applied (it imports moto, which only the emulator's
process and the tests have). A resource type says its ``TYPE``, the property
CloudFormation generates a name into (``NAME_PROPERTY``, if any) and its
``Fn::GetAtt`` attributes (``ATTRIBUTES``: attribute -> instance attribute), sets
``physical_id`` (what ``Ref`` answers), and implements :meth:`create` and, when
CloudFormation updates it in place, :meth:`update` (or sets ``REPLACED_ON_UPDATE``);
``delete`` is moto's own hook.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from moto.core.common_models import CloudFormationModel


class EmulatedResource(CloudFormationModel):
    #: Empty on this base, which moto lists among its models too (a type no template names).
    TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[Mapping[str, str]] = {}
    #: An update deletes the resource and creates it again from the new properties (its name kept).
    REPLACED_ON_UPDATE: ClassVar[bool] = False
    physical_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        """Whether an output may read ``attr``; a type listing no attributes answers as moto's base does (yes)."""
        return not cls.ATTRIBUTES or attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return getattr(self, type(self).ATTRIBUTES[attribute_name])

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "EmulatedResource":
        return cls.create(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        return cls.update(
            original_resource, new_resource_name, cloudformation_json["Properties"], account_id, region_name
        )

    @classmethod
    def create(cls, name: str, properties: dict[str, Any], account_id: str, region: str) -> "EmulatedResource":
        """The resource CloudFormation creates from ``properties`` (``name``: the generated name, if it needs one)."""
        raise NotImplementedError

    @classmethod
    def update(
        cls, original: Any, name: str, properties: dict[str, Any], account_id: str, region: str
    ) -> "EmulatedResource | None":
        """The resource after an update: a new one in its place for a type ``REPLACED_ON_UPDATE``, else None, as
        moto's types without an update handler answer (the emulator then keeps the original:
        :func:`~.cloudformation.resources_without_update_handler_are_kept`)."""
        if not cls.REPLACED_ON_UPDATE:
            return None
        original.delete(account_id, region)
        return cls.create(name, properties, account_id, region)
