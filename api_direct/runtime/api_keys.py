"""Format and hashing of consumer API keys.

The control plane issues keys with :func:`generate_key` and shows the plaintext to
the consumer once; from then on only :func:`hash_key` of it travels (in events) or
is stored (in the key table), and the authorizer hashes what a caller sends to look
it up. The prefix makes a leaked key recognizable to secret scanners and lets every
boundary refuse to store something that looks like a plaintext key.
"""

import hashlib
import re
import secrets

KEY_PREFIX = "apid_"

_TOKEN_BYTES = 32
_WELL_FORMED = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
_KEY_HASH = re.compile(r"[0-9a-f]{64}")
USAGE_ID_PREFIX = "use_"
_USAGE_ID = re.compile(re.escape(USAGE_ID_PREFIX) + r"[0-9a-f]{32}")


def generate_key() -> str:
    """A new key: the prefix and 32 random bytes, URL-safe base64 without padding (43 chars)."""
    return KEY_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def is_well_formed(key: str) -> bool:
    """Whether ``key`` could have come from :func:`generate_key`.

    Checked before hashing so garbage never costs a table read.
    """
    return _WELL_FORMED.fullmatch(key) is not None


def contains_key(text: str) -> bool:
    """Whether anything shaped like a plaintext key occurs anywhere in ``text``.

    For boundaries that must refuse to store or forward a key, such as key_sync
    reading control-plane events, which must carry only hashes.
    """
    return _WELL_FORMED.search(text) is not None


def hash_key(key: str) -> str:
    """The lowercase hex SHA-256 of the key's UTF-8 bytes: the only form that is stored.

    An unsalted fast hash is enough here: keys carry 256 random bits, so there is
    nothing to brute-force, and a deterministic hash is what makes a lookup by hash work.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_key_hash(value: str) -> bool:
    """Whether ``value`` has the shape of :func:`hash_key`'s output (64 lowercase hex)."""
    return _KEY_HASH.fullmatch(value) is not None


def usage_id_of(consumer: str, api_id: str) -> str:
    """The name all of one subscription's keys are counted under in the API's account.

    API Gateway applies a usage plan's rate, burst and quota per API key, so every
    key of a subscription must present the same ``usageIdentifierKey`` or each key
    would get the whole plan again. It is derived rather than stored, so keys issued
    before it existed get the same one; a hash, so the creator's account learns
    neither the consumer's id nor anything it could call with (the API's key source
    is its authorizer: this value is never a credential).
    """
    digest = hashlib.sha256(f"{consumer}\n{api_id}".encode()).hexdigest()
    return USAGE_ID_PREFIX + digest[:32]


def is_usage_id(value: str) -> bool:
    """Whether ``value`` has the shape of :func:`usage_id_of`'s output."""
    return _USAGE_ID.fullmatch(value) is not None
