"""Random strings from one system call each, every character equally likely.

`secrets.choice` in a loop reads the system's randomness once per character:
an invoice id, a CSRF secret and its mask were 16 to 32 system calls each, on
paths taken by every creation and every first visit. Bytes are drawn at once
instead, and those that would favour the alphabet's first characters are
thrown away (rejection sampling), so the result is as uniform as the loop's.
"""

import secrets


def random_string(length: int, alphabet: str) -> str:
    size = len(alphabet)
    if not 0 < size <= 256:
        raise ValueError("an alphabet of 1 to 256 characters")
    accepted_below = 256 - 256 % size  # larger bytes would favour the first characters
    characters: list[str] = []
    while len(characters) < length:
        # Twice the length: enough, nearly always, even when a quarter is thrown away.
        characters += [
            alphabet[byte % size]
            for byte in secrets.token_bytes(2 * length)
            if byte < accepted_below
        ]
    return "".join(characters[:length])
