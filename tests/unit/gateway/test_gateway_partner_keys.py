"""The pure parts of partner API keys: format, parsing, hashing."""

from __future__ import annotations

import hashlib

import pytest

from corridor.core import partners


def test_new_key_format_and_round_trip() -> None:
    key = partners.new_api_key("tianjin-rongda-smelting")
    prefix = "cor_tianjin-rongda-smelting_"
    assert key.startswith(prefix) and len(key) == len(prefix) + 43  # 32 random bytes, url-safe base64
    assert partners.partner_id_of_key(key) == "tianjin-rongda-smelting"
    assert partners.key_id_of(key) == key[len(prefix) :][:8]
    assert partners.new_api_key("tdap") != partners.new_api_key("tdap")


def test_hash_is_sha256_of_the_whole_key() -> None:
    key = partners.new_api_key("tdap")
    assert partners.hash_key(key) == hashlib.sha256(key.encode()).digest()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "Bearer x",
        "cor_",
        "cor_tdap",
        "cor_tdap_",
        "cor_tdap_short",
        "cor_TDAP_" + "a" * 43,  # partner ids are lower case
        "cor_tdap_" + "a" * 42 + "!",
        "xyz_tdap_" + "a" * 43,
    ],
)
def test_malformed_keys_name_no_partner(key: str) -> None:
    assert partners.partner_id_of_key(key) is None


def test_random_part_may_contain_underscores() -> None:
    key = "cor_sgs-pakistan_" + "ab_cd-" * 7 + "x"
    assert partners.partner_id_of_key(key) == "sgs-pakistan"
    assert partners.key_id_of(key) == "ab_cd-ab"


def test_partner_serialises_without_secrets() -> None:
    partner = partners.Partner("tdap", "ISSUING_AUTHORITY", "TDAP", "active", key_id="abcd1234")
    assert partner.active
    assert partner.to_dict() == {
        "partner_id": "tdap",
        "role": "ISSUING_AUTHORITY",
        "name": "TDAP",
        "status": "active",
        "key_id": "abcd1234",
        "created_at": None,
        "rotated_at": None,
    }
    assert not partners.Partner("tdap", "ISSUING_AUTHORITY", "TDAP", "disabled").active
