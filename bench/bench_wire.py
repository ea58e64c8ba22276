"""Codec throughput: encode+decode round trips per second (median of several runs).

Run: ``.venv/bin/python bench/bench_wire.py``. A script, not a test.
"""

from __future__ import annotations

import statistics
import time
from ipaddress import IPv4Address

from rserpool.wire import (
    HandleResolutionResponse,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    decode_message_untrusted,
    encode_message,
    ppid_of,
)

POLICY = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=0x20000000)


def pe(i: int) -> PoolElement:
    transport = SctpTransport(20000 + i, (IPv4Address(f"10.0.{i // 250}.{i % 250 + 1}"),))
    return PoolElement(0x10000000 + i, 0x0A0A0A0A, 90000, transport, POLICY)


def rate(message: Message, runs: int = 7, seconds: float = 0.3) -> tuple[float, float, float]:
    """Median encodes/s, decodes/s and round trips/s."""
    ppid = ppid_of(message)
    data = encode_message(message)

    def per_second(fn: object) -> float:
        results = []
        for _ in range(runs):
            n, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                for _ in range(10):
                    fn()  # type: ignore[operator]
                n += 10
            results.append(n / elapsed)
        return statistics.median(results)

    return (
        per_second(lambda: encode_message(message)),
        per_second(lambda: decode_message_untrusted(ppid, data)),
        per_second(lambda: decode_message_untrusted(ppid, encode_message(message))),
    )


def main() -> None:
    cases = {
        "Registration": Registration(pool_handle=b"EchoPool", pool_element=pe(0)),
        "HR Response, 128 PEs": HandleResolutionResponse(
            pool_handle=b"EchoPool", policy=POLICY, pool_elements=tuple(pe(i) for i in range(128))
        ),
    }
    print(f"{'message':<22} {'bytes':>6} {'encode/s':>12} {'decode/s':>12} {'enc+dec/s':>12}")
    for name, message in cases.items():
        enc, dec, both = rate(message)
        size = len(encode_message(message))
        print(f"{name:<22} {size:>6} {enc:>12,.0f} {dec:>12,.0f} {both:>12,.0f}")


if __name__ == "__main__":
    main()
