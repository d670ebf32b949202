"""CSRF secrets and form tokens in Django's own format, for pages made without Django's stack.

A checkout page is rendered once with a placeholder where its form's CSRF
token goes (`checkout.rendering`), and a first visit to it may be answered
by `config.replay` without running Django. Both then need what Django's
`get_token` gives a visitor: their secret (kept in the csrftoken cookie,
renewed on every page) and a token that is that secret masked with a fresh
random mask, so that no two pages carry the same token (BREACH). Django
draws each of the 32 characters of a secret and of a mask with a system call
of its own; here one call gives all of them (`config.randomness`), with the
same distribution.
Django's CsrfViewMiddleware checks the result on the POST as it checks its own.
"""

import secrets

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, CSRF_TOKEN_LENGTH

from config.randomness import random_string

# Random per process: no merchant or provider text can contain it by accident or design.
PLACEHOLDER = "csrf" + secrets.token_hex(16)

_ALPHABET_SIZE = len(CSRF_ALLOWED_CHARS)
_INDEX = {character: index for index, character in enumerate(CSRF_ALLOWED_CHARS)}


def new_secret() -> str:
    """A CSRF secret as Django's own: CSRF_SECRET_LENGTH characters, each equally likely."""
    return random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)


def masked(secret: str) -> str:
    """The form token for `secret`: a new mask, then the secret shifted by it character by
    character (what Django's middleware unmasks and compares with the cookie)."""
    mask = new_secret()
    cipher = "".join(
        CSRF_ALLOWED_CHARS[(_INDEX[plain] + _INDEX[shift]) % _ALPHABET_SIZE]
        for plain, shift in zip(secret, mask, strict=True)
    )
    return mask + cipher


def visitor_secret(cookie: str | None) -> str | None:
    """The secret Django's middleware would give a visitor with this csrftoken cookie:
    theirs when it is a well-formed secret, a new one when they have none or a malformed
    one. None for a token-shaped cookie of Django before 4.0, which Django unmasks and
    writes back: such a visitor is left to Django."""
    if cookie is None:
        return new_secret()
    well_formed = all(character in _INDEX for character in cookie)
    if well_formed and len(cookie) == CSRF_SECRET_LENGTH:
        return cookie
    if well_formed and len(cookie) == CSRF_TOKEN_LENGTH:
        return None
    return new_secret()
