"""CSRF secrets and tokens made outside Django are Django's own: the same format, the same
uniform characters, and a token Django unmasks to its secret."""

from collections import Counter

from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CSRF_SECRET_LENGTH,
    _does_token_match,
    _unmask_cipher_token,
)

from config.csrf_tokens import masked, new_secret, visitor_secret


def _uniform(drawn: list[str]) -> None:
    counts = Counter("".join(drawn))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    # 64,000 characters over 62: about 1,032 each; a biased draw would stand out.
    assert max(counts.values()) < 1200 and min(counts.values()) > 870


def test_a_secret_is_as_django_makes_them():
    drawn = [new_secret() for _ in range(2000)]
    assert all(len(secret) == CSRF_SECRET_LENGTH for secret in drawn)
    assert len(set(drawn)) == len(drawn)
    _uniform(drawn)


def test_a_token_unmasks_to_its_secret_and_no_two_are_alike():
    secret = new_secret()
    tokens = [masked(secret) for _ in range(2000)]
    assert all(len(token) == 2 * CSRF_SECRET_LENGTH for token in tokens)
    assert len(set(tokens)) == len(tokens)
    assert all(_unmask_cipher_token(token) == secret for token in tokens)
    assert all(_does_token_match(token, secret) for token in tokens[:10])
    assert not _does_token_match(masked(new_secret()), secret)
    # The masked half hides the secret: its characters are as uniform as the mask's.
    _uniform([token[CSRF_SECRET_LENGTH:] for token in tokens])


def test_the_secret_a_visitor_gets_is_the_one_django_would_give():
    theirs = new_secret()
    assert visitor_secret(theirs) == theirs
    for malformed in ("", "short", theirs + "!", "é" * 32, theirs[:-1] + "-"):
        given = visitor_secret(malformed)
        assert given != malformed and len(given) == CSRF_SECRET_LENGTH
    assert visitor_secret(None) != visitor_secret(None)
    # A pre-4.0 (masked) cookie: left to Django, which unmasks and rewrites it.
    assert visitor_secret(masked(theirs)) is None
