"""Handlespace and policy benchmark: median µs per operation and bytes per PE.

    .venv/bin/python bench/bench_handlespace.py            # 10^3 .. 10^6 PEs (a few minutes)
    .venv/bin/python bench/bench_handlespace.py --quick    # 10^3 .. 10^5 PEs

For each size, PEs sit in one pool or are spread over min(10^4, N) pools; the handlespace runs
Round Robin (RSPLIB's default). Each operation is timed one call at a time on a sample of
``--samples`` calls around the full handlespace, and the median is reported:

* register: a new PE (the size then stays N: the same PEs are deregistered next);
* re-register: an existing PE again (an update: new deadline, same settings);
* deregister: an existing PE;
* select 1 / select 3: handle resolution of a random pool (RR);
* expire: ``expire(now)`` with exactly one PE due.

Memory: tracemalloc of everything the handlespace allocates while N PEs are registered, divided
by N (policy and transport objects are shared by the PEs here, i.e. not counted).

A second table selects 3 PEs from a 10^5-PE pool (10^4 with --quick) under every policy.
Targets: cost at 10^6 <= 3x cost at 10^3 per operation; select 3 from 10^5 <= 50 µs under every
policy; <= 1 KiB per PE. With 10^4 pools, 10^3 and 10^4 PEs leave one PE per pool, so "select 3"
returns 1 PE and bytes/PE include a whole pool; the targets section therefore also compares
"select 3" like for like (against the first size with >= 3 PEs per pool).
Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address

from rserpool.handlespace import PoolHandlespace
from rserpool.wire import SctpTransport
from rserpool.wire.constants import FULL_LOAD, ParamType, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy

TRANSPORT = SctpTransport(7000, (IPv4Address("10.0.0.1"),))  # the same for every PE
RR = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
LIFE = 90_000


def register(hs: PoolHandlespace, handle: bytes, pe_id: int, policy: PoolMemberSelectionPolicy,
             now: int, life: int = LIFE) -> None:  # fmt: skip
    hs.register(
        handle,
        pe_id,
        home_registrar_id=1 + pe_id % 8,  # 8 registrars own the PEs
        registration_life=life,
        policy=policy,
        user_transport=TRANSPORT,
        transport_protocol=ParamType.SCTP_TRANSPORT,
        control_channel=True,
        now=now,
    )


def median_us(calls: list[Callable[[], object]]) -> float:
    times = []
    clock = time.perf_counter_ns
    for call in calls:
        t0 = clock()
        call()
        times.append(clock() - t0)
    return statistics.median(times) / 1000.0


def build(n: int, pools: int, rng: random.Random) -> tuple[PoolHandlespace, list[bytes], int]:
    hs = PoolHandlespace(random.Random(rng.random()))
    handles = [b"pool-%06d" % i for i in range(pools)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for pe_id in range(1, n + 1):
        register(hs, handles[pe_id % pools], pe_id, RR, now=0)
    per_pe = (tracemalloc.get_traced_memory()[0] - before) // n
    tracemalloc.stop()
    return hs, handles, per_pe


def bench_size(n: int, pools: int, samples: int, rng: random.Random) -> dict[str, float]:
    hs, handles, per_pe = build(n, pools, rng)
    gc.collect()
    gc.disable()
    try:
        out: dict[str, float] = {"bytes/PE": per_pe}
        new_ids = [n + 1 + i for i in range(samples)]
        out["register"] = median_us(
            [partial(register, hs, handles[i % pools], i, RR, now=1) for i in new_ids]
        )
        out["deregister"] = median_us(
            [partial(hs.deregister, handles[i % pools], i) for i in new_ids]
        )
        olds = rng.sample(range(1, n + 1), min(samples, n))
        out["re-register"] = median_us(
            [partial(register, hs, handles[i % pools], i, RR, now=2) for i in olds]
        )
        picks = [handles[rng.randrange(pools)] for _ in range(samples)]
        out["select 1"] = median_us([partial(hs.select, h, 1) for h in picks])
        out["select 3"] = median_us([partial(hs.select, h, 3) for h in picks])
        # expire: `samples` PEs due at 10, 11, 12, ... ms; each call removes exactly one.
        due_ids = [n + 10 + samples + i for i in range(samples)]
        for k, i in enumerate(due_ids):
            register(hs, handles[i % pools], i, RR, now=0, life=10 + k)
        expired: list[int] = []

        def expire(k: int) -> None:
            expired.append(len(hs.expire(10 + k)))

        out["expire"] = median_us([partial(expire, k) for k in range(samples)])
        assert expired == [1] * samples, "expire() must remove exactly one PE per call"
        return out
    finally:
        gc.enable()


def policy_settings(policy_type: PolicyType, rng: random.Random) -> PoolMemberSelectionPolicy:
    return PoolMemberSelectionPolicy(
        policy_type,
        weight=rng.randrange(1, 100),
        priority=rng.randrange(0, 10),
        load=rng.randrange(0, FULL_LOAD // 2),
        load_degradation=rng.randrange(0, FULL_LOAD // 100),
        load_dpf=rng.randrange(0, FULL_LOAD // 1000),
        weight_dpf=rng.randrange(0, FULL_LOAD // 1000),
        distance=rng.randrange(0, 200),
    )


def bench_policies(n: int, samples: int, rng: random.Random) -> dict[str, float]:
    out = {}
    for policy_type in PolicyType:
        hs = PoolHandlespace(random.Random(rng.random()))
        for pe_id in range(1, n + 1):
            register(hs, b"P", pe_id, policy_settings(policy_type, rng), now=0)
        gc.collect()
        gc.disable()
        try:
            out[policy_type.name] = median_us([partial(hs.select, b"P", 3)] * samples)
        finally:
            gc.enable()
    return out


OPS = ["register", "re-register", "deregister", "select 1", "select 3", "expire", "bytes/PE"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^3..10^5 PEs only")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5356)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
    started = time.monotonic()

    results: dict[tuple[int, str], dict[str, float]] = {}
    for layout in ("1 pool", "10^4 pools"):
        for n in sizes:
            pools = 1 if layout == "1 pool" else min(10**4, n)
            results[(n, layout)] = bench_size(n, pools, args.samples, rng)
            print(f"  measured {n:>8} PEs, {layout} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)  # fmt: skip

    print(f"Python {sys.version.split()[0]}, {args.samples} samples per cell, median µs/op")
    for layout in ("1 pool", "10^4 pools"):
        print(f"\n### PEs in {layout}\n")
        header = "| operation | " + " | ".join(f"{n:,} PEs" for n in sizes) + " | ratio |"
        print(header)
        print("|" + "---|" * (len(sizes) + 2))
        for op in OPS:
            row = [results[(n, layout)][op] for n in sizes]
            ratio = row[-1] / row[0]
            cells = " | ".join(f"{v:.0f}" if op == "bytes/PE" else f"{v:.2f}" for v in row)
            print(f"| {op} | {cells} | {ratio:.2f}x |")

    pn = 10**4 if args.quick else 10**5
    per_policy = bench_policies(pn, args.samples, rng)
    print(f"\n### select 3 from one pool of {pn:,} PEs, median µs\n")
    print("| policy | µs |\n|---|---|")
    for name, us in per_policy.items():
        print(f"| {name} | {us:.2f} |")

    largest = sizes[-1]
    ratios = {
        (layout, op): results[(largest, layout)][op] / results[(sizes[0], layout)][op]
        for layout in ("1 pool", "10^4 pools")
        for op in OPS
        if op != "bytes/PE"
    }
    worst_ratio = max(ratios.values())
    # With 10^4 pools, 10^3 and 10^4 PEs mean one PE per pool: "select 3" returns 1 PE there.
    # Like for like, compare it with the smallest size whose pools hold >= 3 PEs.
    fair_base = next((n for n in sizes if n >= 3 * 10**4), sizes[0])
    fair = dict(ratios)
    fair[("10^4 pools", "select 3")] = (
        results[(largest, "10^4 pools")]["select 3"]
        / results[(fair_base, "10^4 pools")]["select 3"]
    )
    worst_fair = max(fair.values())
    worst_mem = max(r["bytes/PE"] for r in results.values())
    worst_select = max(per_policy.values())
    print("\n### Targets\n")
    worst_op = max(ratios, key=ratios.__getitem__)
    print(f"- cost at {largest:,} / cost at 1,000 PEs, worst operation: {worst_ratio:.2f}x "
          f"({worst_op[1]}, {worst_op[0]}) (target <= 3x): "
          f"{'met' if worst_ratio <= 3 else 'MISSED'}")  # fmt: skip
    print(f"- the same, like for like (10^4 pools select 3 against {fair_base:,} PEs, the first "
          f"size with >= 3 PEs per pool): {worst_fair:.2f}x: "
          f"{'met' if worst_fair <= 3 else 'MISSED'}")  # fmt: skip
    print(f"- select 3 from {pn:,} PEs, worst policy: {worst_select:.1f} µs "
          f"(target <= 50 µs): {'met' if worst_select <= 50 else 'MISSED'}")  # fmt: skip
    print(f"- memory, worst size: {worst_mem:.0f} bytes/PE (target <= 1024): "
          f"{'met' if worst_mem <= 1024 else 'MISSED'}")  # fmt: skip
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
