import hashlib

import pytest

from api_direct.runtime.api_keys import (
    KEY_PREFIX,
    contains_key,
    generate_key,
    hash_key,
    is_key_hash,
    is_well_formed,
)

WELL_FORMED = KEY_PREFIX + "A" * 20 + "b-_9" + "z" * 19


def test_generated_keys_are_well_formed_unique_and_48_chars() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("apid_")
        assert len(key) == 48
        assert is_well_formed(key)


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "apid_",
        WELL_FORMED[:-1],
        WELL_FORMED + "x",
        WELL_FORMED + "\n",
        " " + WELL_FORMED,
        "APID_" + WELL_FORMED[5:],
        "sk_" + WELL_FORMED[5:],
        WELL_FORMED[:-1] + "=",
        WELL_FORMED[:-1] + "+",
        WELL_FORMED[:-1] + "é",
    ],
)
def test_malformed_keys_are_rejected(candidate: str) -> None:
    assert not is_well_formed(candidate)


def test_well_formed_accepts_the_whole_alphabet() -> None:
    assert is_well_formed(WELL_FORMED)


def test_hash_is_sha256_hex_of_utf8() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_key(WELL_FORMED) == hashlib.sha256(WELL_FORMED.encode()).hexdigest()


def test_hash_output_is_a_key_hash_and_the_key_is_not() -> None:
    key = generate_key()
    assert is_key_hash(hash_key(key))
    assert not is_key_hash(key)


@pytest.mark.parametrize(
    "candidate",
    ["", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 64 + "\n", " " + "a" * 63],
)
def test_not_key_hashes(candidate: str) -> None:
    assert not is_key_hash(candidate)


def test_contains_key_finds_a_key_anywhere_but_not_a_bare_prefix() -> None:
    key = generate_key()
    assert contains_key(f'{{"note": "oops {key} pasted"}}')
    assert not contains_key('{"key_id": "apid_k1", "key_hash": "' + hash_key(key) + '"}')
