"""The stacks API-Direct deploys into a creator's account, built from :mod:`api_direct.constructs`."""

from api_direct.user_stack.api_stack import UserApiStack
from api_direct.user_stack.link_stack import AccountLinkStack

__all__ = ["AccountLinkStack", "UserApiStack"]
