"""Find secrets where none may be: synthesized templates, log lines, CLI output.

Two nets. Patterns catch any value of a kind that must never be written down
(Stripe secret keys, webhook signing secrets, AWS access keys and secret keys,
API-Direct API keys, bearer tokens), whoever made it. Known values catch the
secrets of the run itself (the Stripe key the control plane was given, the
webhook secret, an ExternalId), even where they match no pattern.

A finding names the kind, where it was, and the first characters only, so the
failure message does not leak what it found.
"""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

PATTERNS: Mapping[str, re.Pattern[str]] = {
    "Stripe secret key": re.compile(r"\b[sr]k_(?:test|live)_[0-9A-Za-z]{16,}"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[0-9A-Za-z_-]{16,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    ),
    "API-Direct API key": re.compile(r"\bapid_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    "bearer token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
}


def find_secrets(where: str, text: str, known: Mapping[str, str] | None = None) -> list[str]:
    """``"<kind> in <where>: <first 8 characters>…"`` for each secret in ``text``."""
    found = [
        f"{kind} in {where}: {match.group()[:8]}…"
        for kind, pattern in PATTERNS.items()
        for match in pattern.finditer(text)
    ]
    found += [f"{kind} in {where}: {value[:4]}…" for kind, value in (known or {}).items() if value and value in text]
    return found


def scan_files(paths: Iterable[Path], known: Mapping[str, str] | None = None) -> list[str]:
    return [finding for path in paths for finding in find_secrets(str(path), path.read_text(errors="replace"), known)]
