"""Webhook secrets encrypted at rest (AES-256-GCM) with a key only the webhooks service holds.

The dispatcher needs each subscription's shared secret in clear to sign deliveries, so the secrets
cannot be hashed; instead the ``secret`` columns hold ``enc1:<base64(nonce ‖ ciphertext ‖ tag)>``,
encrypted under the key in ``CORRIDOR_WEBHOOKS_SECRETS_KEY_FILE`` (``stack up`` makes
``<state dir>/credentials/webhooks-secrets.key``, 0600). A database dump, or another service's role,
reads only ciphertext. The subscription id is the associated data: a ciphertext copied onto another
subscription's row does not decrypt.

Rotating the key: the key file may hold several keys, one per line, the first one current. Put a new
key on the first line and restart the service: at startup it re-encrypts every secret sealed under an
older key (``WebhookStore.reseal``); then the old line can go.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1:"
_NONCE = 12


class SecretsKeyError(ValueError):
    """The key is missing or malformed, or a stored secret does not decrypt under it."""


def new_key() -> str:
    """A fresh key as its file holds it (base64url of 32 random bytes)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class SecretBox:
    """Seals with the first key; opens with any (the others are older keys during a key rotation)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys or any(len(k) != 32 for k in keys):
            raise SecretsKeyError(
                "the webhook secrets key must be 32 bytes (base64url-encoded, one per line)"
            )
        self._aeads = [AESGCM(k) for k in keys]

    @classmethod
    def from_text(cls, text: str) -> SecretBox:
        try:
            return cls([base64.urlsafe_b64decode(line.strip().encode()) for line in text.split() if line])
        except (binascii.Error, ValueError) as exc:
            raise SecretsKeyError(f"the webhook secrets key is not base64url: {exc}") from None

    def seal(self, secret: str, subscription_id: uuid.UUID) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[0].encrypt(nonce, secret.encode("utf-8"), subscription_id.bytes)
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, subscription_id: uuid.UUID) -> tuple[str, bool]:
        """(the secret, whether it is sealed under the current key)."""
        if not stored.startswith(PREFIX):
            return stored, False  # written before encryption existed: reseal() encrypts it at startup
        raw = base64.b64decode(stored[len(PREFIX) :])
        for index, aead in enumerate(self._aeads):
            try:
                plain = aead.decrypt(raw[:_NONCE], raw[_NONCE:], subscription_id.bytes).decode("utf-8")
            except InvalidTag:
                continue
            return plain, index == 0
        raise SecretsKeyError(f"the secret of subscription {subscription_id} does not decrypt with any key")
