"""What an API costs its creator in AWS: published prices per region and the arithmetic on measured usage.

Pure (no AWS calls, no boto3), so the CLI, the deploy engine and the control plane
can all import it; the only I/O is reading the prices files shipped in the package.
"""
