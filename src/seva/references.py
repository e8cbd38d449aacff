"""References citizens read out, type and key: an issuer's prefix and a random part.

Application references (``FOOD-4F7K2M9Q``) and locker document URIs (``FOOD-RATCR-4F7K2M9Q``)
are shown to anyone who holds them, so the part that tells one from another must not be
guessable: eight characters drawn by ``secrets`` from Crockford's base32 alphabet, 40 bits,
which makes a guessed reference about one chance in a million even for a department with a
million applications. Sequential numbers (``FOOD-000042``) told a stranger every neighbour's.

Crockford's alphabet leaves out I, L, O and U: a reference read aloud or copied from a
printout has no letter that passes for a digit, and what a citizen types in their place is
read the way Crockford's decoding reads it (O as 0, I and L as 1). Eight characters keep a
reference short enough for an SMS, a USSD screen and a phone keypad (letters are keyed as
``*``, key, place; digits as themselves, and 10 of the 32 symbols are digits).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: digits, and the capitals without I, L, O and U."""
LENGTH = 8
"""Characters in the random part: 8 × 5 = 40 bits."""
BITS = LENGTH * 5

_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def random_part() -> str:
    """Eight characters from ``ALPHABET``, each chosen by ``secrets``."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def compose(prefix: str) -> str:
    """A new reference: ``prefix``, a dash, and a random part."""
    return f"{prefix}-{random_part()}"


def forms_of(text: str) -> list[str]:
    """What a reference the citizen typed may be stored as, most literal first.

    Case and white space never matter (``food 4f7k 2m9q``). When the text ends in a random
    part's worth of characters, the letters people put for digits are read as those digits,
    and a missing dash before it is supplied (``FOOD4F7K2M9Q``, ``FOOD-4F7K2M9O``). Older
    references (``FOOD-000042``, ``TEST-0001``) come back unchanged, as the first form.
    """
    typed = "".join(text.split()).upper()
    found = [typed]
    head, dash, tail = typed.rpartition("-")
    if not dash:
        head, tail = typed[:-LENGTH], typed[-LENGTH:]
    if head and len(tail) == LENGTH:
        read = tail.translate(_READ_AS)
        if all(ch in ALPHABET for ch in read):
            found.append(f"{head}-{read}")
    return list(dict.fromkeys(found))
