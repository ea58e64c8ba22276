"""The ENRP PE checksum (RFC 5353 §2.3.2 and §3.1, as RSPLIB 3.4.4 computes it).

RSPLIB (``poolhandlespacechecksum.c``, ``poolelementnode-template_impl.h``) sums, per PE, the
16-bit words of the pool handle (an odd last byte zero-padded) and then of the PE id in network
byte order, into a **32-bit** accumulator; per registrar it adds the PE accumulators with 32-bit
wrap-around, and finally folds the carries and takes the one's complement. The words are read
in host order and the 16-bit result is written to the wire unconverted, which on a little-endian
host (every RSPLIB deployment we know of) equals the RFC 1071 big-endian one's-complement sum as
long as the 32-bit accumulator does not wrap. So that our checksums match an RSPLIB peer's even
for registrars owning tens of thousands of PEs, this module reproduces the little-endian
computation, wrap-around included, and returns the value as read big-endian off the wire.

Test vectors: ``("EchoPool", 0x12345678)`` → 0x29a5; plus
``("EchoPool", 1)`` → 0xbbf5; ``("Odd", 0x01020304)`` → 0x4895; no PEs → 0xffff.
"""

from __future__ import annotations

from collections.abc import Iterable

ACCUMULATOR_MASK = 0xFFFFFFFF  # RSPLIB HandlespaceChecksumAccumulatorType = uint32_t
INITIAL_CHECKSUM = 0


def handle_accumulator(pool_handle: bytes) -> int:
    """The pool handle's contribution to each of its PEs' accumulators."""
    if len(pool_handle) % 2:
        pool_handle += b"\x00"
    return sum(
        int.from_bytes(pool_handle[i : i + 2], "little") for i in range(0, len(pool_handle), 2)
    )


def pe_accumulator(handle_acc: int, pe_id: int) -> int:
    """One PE's accumulator, from :func:`handle_accumulator` of its pool and its PE id."""
    b = pe_id.to_bytes(4, "big")
    return (handle_acc + (b[1] << 8 | b[0]) + (b[3] << 8 | b[2])) & ACCUMULATOR_MASK


def checksum_add(acc: int, pe_acc: int) -> int:
    return (acc + pe_acc) & ACCUMULATOR_MASK


def checksum_sub(acc: int, pe_acc: int) -> int:
    return (acc - pe_acc) & ACCUMULATOR_MASK


def checksum_finish(acc: int) -> int:
    """Fold, complement: the 16-bit PE Checksum parameter value (big-endian on the wire)."""
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    host = ~acc & 0xFFFF
    return ((host & 0xFF) << 8) | (host >> 8)


def compute_checksum(elements: Iterable[tuple[bytes, int]]) -> int:
    """The checksum of a set of ``(pool handle, PE id)`` pairs, from scratch."""
    acc = INITIAL_CHECKSUM
    for pool_handle, pe_id in elements:
        acc = checksum_add(acc, pe_accumulator(handle_accumulator(pool_handle), pe_id))
    return checksum_finish(acc)
