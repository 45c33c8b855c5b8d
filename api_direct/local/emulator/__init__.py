"""moto's real server on loopback, with the fixes our CloudFormation templates need.

``apid sandbox`` and the end-to-end tests deploy the stacks the way ``apid`` deploys them against AWS:
change sets created, described and executed over HTTP. moto's CloudFormation
emulation has defects that stop correct templates from deploying, or deploy them
into something other than what AWS would build (an API URL ending in ``/None/``,
x86 functions, methods without their authorizer). Each defect is worked around by
one small, named patch, applied before the server starts, and each patch's
docstring says what moto does and what real CloudFormation does instead. A patch
only makes moto do what CloudFormation documents: none of them makes moto accept a
template AWS would reject. What moto still cannot show is listed in the README
("What the emulator cannot show") and pinned by tests.

The patches live one module per service (:mod:`.acm`, :mod:`.apigateway`, :mod:`.cloudformation`,
:mod:`.cognito`, :mod:`.dynamodb`, :mod:`.events`, :mod:`.iam`, :mod:`.lambda_`,
:mod:`.secretsmanager`) and are listed, in the order they apply, in one place:
:data:`.patches.PATCHES` (this package exports that list, not each patch). Importing this package
does not import moto; a patch imports what it patches when it is applied.

    python -m api_direct.local.emulator --host 127.0.0.1 --port 5000

:func:`running_moto_server` starts that module as a subprocess on a free port and
stops it afterwards; :func:`sent_emails` reads back the emails its SES accepted.
"""

from api_direct.local.emulator.outbox import SentEmail, sent_emails
from api_direct.local.emulator.patches import PATCHES, apply_patches
from api_direct.local.emulator.server import HOST, main, running_moto_server

__all__ = ["HOST", "PATCHES", "SentEmail", "apply_patches", "main", "running_moto_server", "sent_emails"]
