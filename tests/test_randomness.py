"""Random strings drawn at once are as uniform as a character-by-character draw."""

from collections import Counter

import pytest

from config.randomness import random_string
from invoices.keys import ALPHANUMERIC, new_invoice_id


@pytest.mark.parametrize("alphabet", ["abc", ALPHANUMERIC, "0123456789"])
def test_every_character_is_equally_likely(alphabet):
    drawn = "".join(random_string(50, alphabet) for _ in range(2000))
    assert len(drawn) == 100_000 and set(drawn) == set(alphabet)
    expected = len(drawn) / len(alphabet)
    counts = Counter(drawn).values()
    # Beyond chance (about five standard deviations at 62 characters, more for fewer),
    # and within what a plain `byte % 62` would show: its first 8 characters a quarter
    # more likely than the others.
    assert max(counts) < expected * 1.12 and min(counts) > expected * 0.88


def test_lengths_and_refused_alphabets():
    assert [len(random_string(n, "ab")) for n in (1, 7, 64, 1000)] == [1, 7, 64, 1000]
    for alphabet in ("", "x" * 257):
        with pytest.raises(ValueError):
            random_string(8, alphabet)


def test_invoice_ids_are_the_prefix_and_sixteen_alphanumerics_never_repeated():
    ids = [new_invoice_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(
        i.startswith("cpi_") and len(i) == 20 and set(i[4:]) <= set(ALPHANUMERIC) for i in ids
    )
