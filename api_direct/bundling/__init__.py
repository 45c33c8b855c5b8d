"""Lambda bundles without Docker: the creator's app and our handlers, for Lambda's platform, cached by content.

No CDK here (a test holds it to that): the deploy engine builds and hashes a bundle
on paths that never start jsii (a reused assembly, a code-only patch), and the
constructs wrap a built bundle in a ``lambda.Function``. ``build`` installs and
caches, ``slimming`` leaves out what Lambda never runs and checks the 250 MB limit,
``fastapi_code`` describes a creator's app as a bundle (``FastApiCode``).
"""
