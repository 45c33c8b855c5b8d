"""What a synthesis depends on, as one hash: equal fingerprints give the same cloud assembly.

Synthesizing a stack costs seconds (jsii starts Node.js and loads aws-cdk-lib),
while nothing but these inputs decide what it produces: the project's validated
``apid.toml``, the bytes of every file its bundle takes, its requirements, how it
is linked (control plane, data retention), API-Direct's own code and the versions
of the CDK libraries. :func:`synthesis_fingerprint` hashes them in milliseconds,
so ``apid plan`` and ``apid deploy`` can reuse the assembly of the last synthesis
when none of them changed (:func:`api_direct.deploy.synthesis.synthesize_project`).
"""

import functools
import hashlib
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import api_direct
from api_direct.bundling.build import SourceTree, byte_compiler, hash_part, hash_tree
from api_direct.project import Project

#: Bumped whenever what the fingerprint covers changes, so older records never match.
FINGERPRINT_FORMAT = "1"
#: The libraries whose code runs during synthesis, beside API-Direct's own.
SYNTHESIS_LIBRARIES = ("aws-cdk-lib", "constructs", "cdk-nag", "jsii")
#: CDK reads context from this variable when the CLI runs an app; in process it may be set too.
CONTEXT_VARIABLE = "CDK_CONTEXT_JSON"


@dataclass(frozen=True)
class SynthesisFingerprint:
    """``full`` covers every input; ``structure`` all but the app's source files.

    Two syntheses with the same ``structure`` give templates that differ only in
    the app's code asset: what a code-only change can patch without the CDK.
    """

    full: str
    structure: str


def synthesis_fingerprint(project: Project, *, settings: Iterable[str]) -> SynthesisFingerprint:
    """The hashes of what ``project``'s synthesis reads; ``settings`` are the call's own options, as text."""
    digest = hashlib.sha256()
    compiler = byte_compiler(project.runtime.python)
    for part in (
        FINGERPRINT_FORMAT,
        code_fingerprint(),
        os.environ.get(CONTEXT_VARIABLE, ""),
        *settings,
        project.stack_name,
        project.config.model_dump_json(),
        f"byte-compiled {compiler is not None}",
    ):
        hash_part(digest, part.encode())
    hash_part(digest, project.requirements_file.read_bytes())
    structure = digest.hexdigest()
    hash_tree(digest, SourceTree(project.root, exclude=project.excludes))
    return SynthesisFingerprint(full=digest.hexdigest(), structure=structure)


@functools.cache
def code_fingerprint() -> str:
    """API-Direct's own files (an editable install changes without a new version) and the CDK libraries' versions."""
    digest = hashlib.sha256()
    for library in SYNTHESIS_LIBRARIES:
        try:
            hash_part(digest, f"{library}=={version(library)}".encode())
        except PackageNotFoundError:
            hash_part(digest, f"{library} absent".encode())
    hash_part(digest, platform.python_version().encode())
    package = Path(api_direct.__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            hash_part(digest, path.relative_to(package).as_posix().encode())
            hash_part(digest, path.read_bytes())
    return digest.hexdigest()
