"""Signatures against published vectors and the contract's formulas."""

import base64
import hashlib

from invoices.signing import legacy_signature, standard_webhook_signature, webhook_key


def test_the_standard_webhooks_published_vector():
    # From the Standard Webhooks specification's reference implementations.
    key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = standard_webhook_signature(
        key=key,
        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_legacy_signature_is_sha1_of_key_body_key():
    body = b'{"data":{"id":"cpi_0123456789abcdef"}}'
    expected = base64.b64encode(hashlib.sha1(b"sk_test_abc" + body + b"sk_test_abc").digest())
    assert legacy_signature(secret_key="sk_test_abc", body=body) == expected.decode()
    assert legacy_signature(secret_key="sk_test_abd", body=body) != expected.decode()
