"""Serial number arithmetic (RFC 9260 §1.6) by unwrapping: TSNs (32 bits) and SSNs (16 bits)
become unbounded integers near a reference, so plain ``<`` compares them."""

from __future__ import annotations

TSN_MOD = 1 << 32
SSN_MOD = 1 << 16


def unwrap(value: int, reference: int, modulus: int = TSN_MOD) -> int:
    """The integer congruent to ``value`` modulo ``modulus`` closest to ``reference``."""
    half = modulus >> 1
    return reference + ((value - reference + half) % modulus) - half


def wrap(value: int, modulus: int = TSN_MOD) -> int:
    return value % modulus
