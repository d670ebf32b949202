"""Callback signatures (contract section 5). Pure functions: bytes in, header values out."""

import base64
import hashlib
import hmac
import secrets

from invoices.keys import WEBHOOK_SECRET_PREFIX


def legacy_signature(*, secret_key: str, body: bytes) -> str:
    """`X-Signature`: base64(SHA-1(secret_key + raw_body + secret_key)), the legacy scheme."""
    digest = hashlib.sha1(secret_key.encode() + body + secret_key.encode()).digest()  # noqa: S324
    return base64.b64encode(digest).decode()


def webhook_key(webhook_secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret."""
    return base64.b64decode(webhook_secret.removeprefix(WEBHOOK_SECRET_PREFIX))


def standard_webhook_signature(*, key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: v1,base64(HMAC-SHA256(key, id.timestamp.body)), Standard Webhooks."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)
