"""Identifiers and merchant credentials.

Every identifier comes from `secrets`. Merchant secret keys and webhook
secrets are *derived*: the database keeps only a random salt per key and the
SHA-256 of the key, and the key itself is recomputed from the salt with
`settings.MERCHANT_KEY_SECRET` when a callback has to be signed with it. A
leaked database therefore leaks no usable key, and rotating a key is a new salt.
"""

import base64
import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import get_random_string

ALPHANUMERIC = string.ascii_letters + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

ACCOUNT_ID_PREFIX = "coma_"
INVOICE_ID_PREFIX = "cpi_"
SECRET_KEY_PREFIXES = {True: "sk_test_", False: "sk_live_"}
PUBLIC_KEY_PREFIXES = {True: "pk_test_", False: "pk_live_"}
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105


def random_alphanumeric(length: int) -> str:
    return get_random_string(length, ALPHANUMERIC)


def new_invoice_id() -> str:
    return INVOICE_ID_PREFIX + random_alphanumeric(16)


def new_account_id() -> str:
    return ACCOUNT_ID_PREFIX + random_alphanumeric(16)


def new_public_key(*, test_mode: bool) -> str:
    return PUBLIC_KEY_PREFIXES[test_mode] + random_alphanumeric(24)


def new_salt() -> str:
    return secrets.token_hex(16)


def _derive(purpose: str, salt: str) -> bytes:
    message = f"{purpose}:{salt}".encode()
    return hmac.new(settings.MERCHANT_KEY_SECRET.encode(), message, hashlib.sha256).digest()


def _base62(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits)) or "0"


def derive_secret_key(*, salt: str, test_mode: bool) -> str:
    # 32 base62 characters carry 190 bits: far beyond guessing.
    return SECRET_KEY_PREFIXES[test_mode] + _base62(_derive("secret_key", salt))[:32]


def derive_webhook_key(*, salt: str) -> bytes:
    """The raw HMAC key of the Standard Webhooks signature."""
    return _derive("webhook_secret", salt)


def webhook_secret_text(*, salt: str) -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(derive_webhook_key(salt=salt)).decode()


def key_hash(key: str) -> str:
    # Keys are long random strings, so a fast hash is enough; a slow password
    # hash would only make every API request slower.
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(key), stored_hash)


@dataclass(frozen=True)
class IssuedCredentials:
    """What a merchant is shown once, at creation or rotation."""

    account_id: str
    secret_key_test: str
    secret_key_live: str
    public_key_test: str
    public_key_live: str
    webhook_secret: str

    def as_dict(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "secret_key_test": self.secret_key_test,
            "secret_key_live": self.secret_key_live,
            "public_key_test": self.public_key_test,
            "public_key_live": self.public_key_live,
            "webhook_secret": self.webhook_secret,
        }
