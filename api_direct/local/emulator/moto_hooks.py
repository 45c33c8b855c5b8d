"""How a patch reaches into moto: new CloudFormation resource types, and code after moto's handlers.

Several patches add a resource type moto skips (each an :class:`.EmulatedResource`,
registered here), and others (:mod:`.apigateway`, :mod:`.lambda_`) fix up what moto's
own CloudFormation handler built; both need the same two moves, kept here.
"""

import functools
from collections.abc import Callable
from typing import Any


#: The classes the patches add. moto finds resource types through ``CloudFormationModel.__subclasses__()``,
#: which holds only weak references and only direct subclasses (ours derive from :class:`.EmulatedResource`).
_ADDED_RESOURCE_TYPES: list[type] = []


def register_resource_type(model: type) -> None:
    """Make moto's (cached) resource-type lookup see a class defined by a patch; it wins over moto's own model of
    the same type (the lookup keeps the last class naming a type)."""
    from moto.cloudformation import parsing

    if not _ADDED_RESOURCE_TYPES:
        moto_models = parsing.get_model_list

        @functools.cache
        def get_model_list() -> list[type]:
            return [*moto_models(), *_ADDED_RESOURCE_TYPES]

        parsing.get_model_list = get_model_list
    _ADDED_RESOURCE_TYPES.append(model)
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def after_cloudformation_handlers(model: Any, apply: Callable[[Any, dict[str, Any]], None]) -> None:
    """Run ``apply(resource, properties)`` after moto's create (and, if it has one, update) handler."""
    original_create = model.create_from_cloudformation_json.__func__

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        resource = original_create(cls, resource_name, cloudformation_json, *args, **kwargs)
        apply(resource, cloudformation_json["Properties"])
        return resource

    model.create_from_cloudformation_json = classmethod(create)
    if getattr(model.update_from_cloudformation_json, "__isabstractmethod__", False):
        return
    original_update = model.update_from_cloudformation_json.__func__

    def update(
        cls: type,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        resource = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        apply(resource, cloudformation_json["Properties"])
        return resource

    model.update_from_cloudformation_json = classmethod(update)
