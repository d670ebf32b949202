"""A connector's secret settings, encrypted at rest with the keys of CONNECTOR_SECRETS_KEY.

The secrets of a service are kept as one Fernet token of their JSON in
`Service.connector_secrets`. The first key encrypts and every key decrypts
(MultiFernet), so keys rotate without a moment when stored secrets cannot be read.
"""

import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MASK = "••••"


def _fernet() -> MultiFernet:
    # Built per call, from the settings of the moment: cheap, and a test or a
    # rotation that changes the key list is obeyed at once.
    return MultiFernet([Fernet(key) for key in settings.CONNECTOR_SECRETS_KEYS])


def secrets_seal(values: Mapping[str, str]) -> str:
    """The token to store for these secrets; empty for none."""
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(dict(values), sort_keys=True).encode()).decode()


def secrets_open(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        opened: dict[str, str] = json.loads(_fernet().decrypt(token.encode()))
        return opened
    except InvalidToken:
        # A key was dropped from CONNECTOR_SECRETS_KEY before every row was re-encrypted.
        raise ImproperlyConfigured(
            "A service's connector secrets cannot be decrypted with any key of"
            " CONNECTOR_SECRETS_KEY: put back the key they were encrypted with."
        ) from None


def secrets_reseal(token: str) -> str:
    """The same secrets, encrypted with the first key."""
    return _fernet().rotate(token.encode()).decode() if token else ""


def masked(secret: str) -> str:
    """What an operator may see of a secret: enough to tell two apart, never enough to use."""
    return MASK + secret[-4:] if len(secret) >= 12 else MASK
