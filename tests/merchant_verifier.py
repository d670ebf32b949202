"""How a merchant checks a callback, written from contract section 5 alone.

Deliberately independent of the project's code: if this accepts what the
platform sends, a merchant following the contract will too.
"""

import base64
import hashlib
import hmac


def verify_legacy(*, secret_key: str, body: bytes, x_signature: str) -> bool:
    # X-Signature = base64( SHA-1( secret_key + raw_body + secret_key ) )
    expected = base64.b64encode(
        hashlib.sha1(secret_key.encode() + body + secret_key.encode()).digest()
    ).decode()
    return hmac.compare_digest(expected, x_signature)


def verify_standard_webhook(*, webhook_secret: str, headers: dict[str, str], body: bytes) -> bool:
    # webhook-signature = "v1," + base64( HMAC-SHA256( key, id + "." + timestamp + "." + body ) ),
    # where webhook_secret = "whsec_" + base64(key).
    lower = {name.lower(): value for name, value in headers.items()}
    key = base64.b64decode(webhook_secret.removeprefix("whsec_"))
    signed = f"{lower['webhook-id']}.{lower['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in lower["webhook-signature"].split() if "," in part]
    return any(hmac.compare_digest(expected, signature) for signature in offered)
