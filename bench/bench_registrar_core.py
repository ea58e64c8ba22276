"""The registrar's sans-IO core alone: µs per Registration and per Handle Resolution, bytes per PE.

No sockets, no Trio: encoded messages go into ``RegistrarCore.receive`` and every resulting
action is encoded, as the driver would before sending it; the events are drained. This is the
part of ``bench/bench_registrar.py``'s "registrar CPU per operation" that does not depend on
the transport or the driver. ``--profile`` prints the top functions under cProfile; the memory
figure is what tracemalloc sees allocated and kept per registered PE.

Run: ``.venv/bin/python bench/bench_registrar_core.py [--pes N] [--profile]`` (on the host).
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rserpool.proto.common import Endpoint, TransportAddress  # noqa: E402
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore  # noqa: E402
from rserpool.wire import (  # noqa: E402
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


def registration(handle: bytes, pe_id: int) -> bytes:
    user = SctpTransport(7000, (PE_ADDRESS,), TransportUse.DATA_PLUS_CONTROL)
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    pe = PoolElement(pe_id, 0, 300_000, user, policy)
    return Registration(pool_handle=handle, pool_element=pe).encode()


def run(pes: int, profile: bool) -> None:
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(1), 0)
    small = [registration(b"Small", i) for i in range(1, 11)]
    big = [registration(b"Big", i) for i in range(1, pes + 1)]
    hr_small = HandleResolution(pool_handle=b"Small", items=3).encode()
    hr_big = HandleResolution(pool_handle=b"Big", items=3).encode()

    def feed(assoc_id: int, data: bytes, now: int) -> None:
        core.receive(Endpoint.ASAP, assoc_id, ASAP_PPID, data, PEER, now)
        for action in core.outgoing():
            if hasattr(action, "encode"):
                action.encode()
        core.events()

    for data in small:
        feed(REG_ASSOC, data, 1000)
    profiler = cProfile.Profile() if profile else None
    gc.collect()
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    for data in big:
        feed(REG_ASSOC, data, 1000)
    registering = time.perf_counter() - start
    timings = {}
    for name, request in (("Small", hr_small), ("Big", hr_big)):
        start = time.perf_counter()
        for _ in range(pes):
            feed(PU_ASSOC, request, 2000)
        timings[name] = time.perf_counter() - start
    if profiler:
        profiler.disable()

    # memory on a fresh core (apart: tracing slows everything down)
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(1), 0)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for data in big:
        feed(REG_ASSOC, data, 1000)
    gc.collect()
    per_pe = (tracemalloc.get_traced_memory()[0] - before) / pes
    tracemalloc.stop()

    print(f"registration                      {1e6 * registering / pes:7.1f} µs")
    print(f"handle resolution, pool of 10     {1e6 * timings['Small'] / pes:7.1f} µs")
    print(f"handle resolution, pool of {pes:<6} {1e6 * timings['Big'] / pes:7.1f} µs")
    print(f"memory per registered PE          {per_pe:7.0f} bytes (tracemalloc)")
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pes", type=int, default=10_000, help="PEs in pool Big")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    run(args.pes, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
