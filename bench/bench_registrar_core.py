"""The registrar's sans-IO core alone: µs per operation and bytes per PE, on the host.

No sockets, no Trio: encoded messages go into ``RegistrarCore.receive`` (timers into
``handle_timers``) and every resulting action is encoded, as the driver would before sending
it; the events are drained. This is the part of ``bench/bench_registrar.py``'s "registrar CPU
per operation" that does not depend on the transport or the driver.

Each operation runs in batches; a batch is timed with ``time.thread_time_ns`` (this thread's
CPU time, not the wall clock) and the figure is the minimum over the batches, per operation:
what the operation costs when nothing else on the machine gets in the way; ``--repeat`` runs
it all again on fresh cores and keeps the best of the runs. The operations:

* Registration: a new PE joins pool "Big" (which grows to ``--pes`` PEs);
* Re-registration: a PE of "Big" registers again, unchanged (what a PE does every
  registration life);
* Handle Resolution: three PEs of a pool of 10 ("Small") and of pool "Big";
* Keep Alive round: the transmission timer fires (Endpoint Keep Alive out) and the PE's
  Endpoint Keep Alive Ack comes back;
* Deregistration: a PE of "Big" leaves.

The memory figures are what tracemalloc sees allocated and kept per registered PE (a fresh
core, with its keep-alive timers), and the same once each PE was in a Handle Resolution
Response. ``--profile`` prints the top functions under cProfile.

Run: ``.venv/bin/python bench/bench_registrar_core.py [--pes N] [--batch N] [--repeat N]``
(``--profile``: one run under cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
import pstats
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rserpool.proto.common import Endpoint, TransportAddress  # noqa: E402
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore  # noqa: E402
from rserpool.wire import (  # noqa: E402
    Deregistration,
    EndpointKeepAliveAck,
    HandleResolution,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TransportUse,
)

PE_ADDRESS = ipaddress.IPv4Address("198.51.100.2")
PEER = TransportAddress((PE_ADDRESS,), 5000)
REG_ASSOC, PU_ASSOC, ASAP_PPID = 11, 12, 11
KEEP_ALIVE_INTERVAL = 5000  # ms (the configuration's default)
START = 1000  # ms


def registration(handle: bytes, pe_id: int) -> bytes:
    user = SctpTransport(7000, (PE_ADDRESS,), TransportUse.DATA_PLUS_CONTROL)
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    pe = PoolElement(pe_id, 0, 300_000, user, policy)
    return Registration(pool_handle=handle, pool_element=pe).encode()


def new_core() -> RegistrarCore:
    config = RegistrarConfig(
        server_id=0x101, endpoint_keep_alive_transmission_interval=KEEP_ALIVE_INTERVAL
    )
    return RegistrarCore(config, random.Random(1), 0)


class Bench:
    """One core, fed as the driver feeds it; ``timed`` keeps the minimum per operation."""

    def __init__(self, pes: int, batch: int) -> None:
        self.core = new_core()
        self.pes, self.batch = pes, batch
        self.results: dict[str, float] = {}

    def feed(self, assoc_id: int, data: bytes, now: int) -> None:
        core = self.core
        core.receive(Endpoint.ASAP, assoc_id, ASAP_PPID, data, PEER, now)
        self.drain()

    def drain(self) -> None:
        for action in self.core.outgoing():
            if hasattr(action, "encode"):
                action.encode()
        self.core.events()

    def timed(self, name: str, batches: Iterator[Callable[[], int]]) -> None:
        """Run each batch (it returns how many operations it did); keep the best µs/op."""
        best = float("inf")
        clock = time.thread_time_ns
        for run in batches:
            start = clock()
            count = run()
            elapsed = clock() - start
            if count:
                best = min(best, elapsed / count / 1000)
        self.results[name] = best

    def chunks(self, items: list[bytes]) -> Iterator[list[bytes]]:
        for i in range(0, len(items), self.batch):
            yield items[i : i + self.batch]

    def run(self) -> None:
        feed, batch = self.feed, self.batch
        small = [registration(b"Small", i) for i in range(1, 11)]
        big = [registration(b"Big", i) for i in range(1, self.pes + 1)]
        for data in small:  # a millisecond early: its keep-alives are answered untimed
            feed(REG_ASSOC, data, START - 1)

        # Registration: batch k registers at START + k ms, so its keep-alives fire together
        def registering(k: int, chunk: list[bytes]) -> Callable[[], int]:
            def go() -> int:
                for data in chunk:
                    feed(REG_ASSOC, data, START + k)
                return len(chunk)

            return go

        self.timed("Registration", (registering(k, c) for k, c in enumerate(self.chunks(big))))
        self.timed("Re-registration", (registering(k, c) for k, c in enumerate(self.chunks(big))))

        rounds = max(1, self.pes // batch)
        for pool in (b"Small", b"Big"):
            request = HandleResolution(pool_handle=pool, items=3).encode()

            def resolving(request: bytes = request) -> int:
                for _ in range(batch):
                    feed(PU_ASSOC, request, START + 2000)
                return batch

            size = 10 if pool == b"Small" else self.pes
            self.timed(f"Handle Resolution, pool of {size}", (resolving for _ in range(rounds)))

        # Keep Alive round: batch k's transmission timers fire at START + k + interval
        self.core.handle_timers(START - 1 + KEEP_ALIVE_INTERVAL)
        self.drain()
        for i in range(1, 11):
            ack = EndpointKeepAliveAck(pool_handle=b"Small", pe_id=i).encode()
            feed(REG_ASSOC, ack, START - 1 + KEEP_ALIVE_INTERVAL)
        acks = [
            EndpointKeepAliveAck(pool_handle=b"Big", pe_id=i).encode()
            for i in range(1, self.pes + 1)
        ]

        def keep_alive(k: int, chunk: list[bytes]) -> Callable[[], int]:
            def go() -> int:
                now = START + k + KEEP_ALIVE_INTERVAL
                self.core.handle_timers(now)
                self.drain()
                for data in chunk:
                    feed(REG_ASSOC, data, now)
                return len(chunk)

            return go

        self.timed("Keep Alive round", (keep_alive(k, c) for k, c in enumerate(self.chunks(acks))))

        later = START + KEEP_ALIVE_INTERVAL + self.pes  # no timer is due before it
        leaving = [
            Deregistration(pool_handle=b"Big", pe_id=i).encode() for i in range(1, self.pes + 1)
        ]

        def deregistering(chunk: list[bytes]) -> Callable[[], int]:
            def go() -> int:
                for data in chunk:
                    feed(REG_ASSOC, data, later)
                return len(chunk)

            return go

        self.timed("Deregistration", (deregistering(c) for c in self.chunks(leaving)))


def bytes_per_pe(pes: int) -> tuple[float, float]:
    """tracemalloc's count of what registering ``pes`` PEs allocates and keeps, per PE; then
    the same once every PE was in a Handle Resolution Response (which caches its bytes)."""
    bench = Bench(pes, pes)
    big = [registration(b"Big", i) for i in range(1, pes + 1)]
    request = HandleResolution(pool_handle=b"Big", items=1).encode()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for data in big:
        bench.feed(REG_ASSOC, data, START)
    gc.collect()
    registered = (tracemalloc.get_traced_memory()[0] - before) / pes
    for _ in range(pes):  # round robin: each PE once
        bench.feed(PU_ASSOC, request, START)
    gc.collect()
    resolved = (tracemalloc.get_traced_memory()[0] - before) / pes
    tracemalloc.stop()
    return registered, resolved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pes", type=int, default=10_000, help="PEs in pool Big")
    parser.add_argument("--batch", type=int, default=200, help="operations per timed batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs (fresh cores); best kept")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    best: dict[str, float] = {}
    for _ in range(1 if profiler else args.repeat):
        bench = Bench(args.pes, args.batch)
        gc.collect()
        if profiler:
            profiler.enable()
        bench.run()
        if profiler:
            profiler.disable()
        for name, value in bench.results.items():
            best[name] = min(value, best.get(name, value))
    registered, resolved = bytes_per_pe(args.pes)  # apart: tracing slows everything down

    print(f"| operation (min over batches of {args.batch}, thread time) | µs/op |")
    print("|---|---:|")
    for name, value in best.items():
        print(f"| {name} | {value:.1f} |")
    print(f"| memory per registered PE (tracemalloc) | {registered:.0f} B |")
    print(f"| ... once each PE was resolved | {resolved:.0f} B |")
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
