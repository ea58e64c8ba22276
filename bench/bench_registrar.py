"""Our registrar against RSPLIB 3.4.4's rspregistrar, driven by one load generator of ours.

Namespace hosts: ``ours`` runs ``python -m rserpool registrar``, ``rsplib`` runs
``rspregistrar``, ``gen`` (the load generator, this process; :mod:`registrar_load`) reaches each
over its own veth link, and ``ours2`` holds the second of our registrars for the scale-out row.
Each registrar runs alone (the other is not started yet or already stopped), with announces
off, the same Endpoint Keep Alive interval, a 1 s startup phase (waited out before measuring)
and the same log level: warnings (``--log-level warning``, RSPLIB ``-loglevel=2``), or both
one level up with ``--log-level info`` (RSPLIB 3). The rounds alternate who goes first
(ours, RSPLIB, RSPLIB, ours, ...). Per round and registrar, the same generator code measures:

* Registrations/s: 10,000 PEs in pool "Big", 10 in "Small" and 3 in "Three", sent over
  ``--channels`` associations with up to ``--window`` requests outstanding on each;
* Handle Resolutions/s (items=3, Round Robin) of "Small" and "Big" for ``--seconds`` each over
  ``--channels`` further associations, same window;
* latency: one Handle Resolution at a time (window 1) of "Three" with items=1 on one more
  association, each round trip timed, for ``--seconds`` (median and 90th percentile);
* registering "Big" on up to ``--more-pes`` PEs (10^5): RSS and bytes per PE there too;
* per phase: the registrar's user and system CPU (/proc/PID/stat), the generator's (os.times),
  and the generator namespace's SCTP packets and control chunks (/proc/net/sctp/snmp) per
  operation, its select() calls per operation and the reply bytes: what the generator's CPU
  per operation depends on.

With ``--cpus 2`` (the default) the guest has two vCPUs: the rounds above pin the registrar
and the generator to vCPU 0 (one vCPU, as the other benchmarks), and the scale-out rows then
let two generator workers drive two of our registrars peered over ENRP (each worker its own
registrar, half the PEs each, the other half arriving as ENRP Handle Updates) against the same
two workers driving one rspregistrar, nothing pinned.

``--callgrind`` adds instruction counts (valgrind's callgrind, user space only: the kernel's
SCTP is not in them) per Registration, Handle Resolution and window-1 Handle Resolution for
both registrars, measured in a run of their own (``callgrind_control`` switches the
instrumentation on after the startup and dumps after each phase).

``--memory-only`` keeps only the registrations: each round fills "Big" to ``--pes``, then to
``--more-pes`` PEs, and the table has RSS and bytes per PE at both (with
``--keep-alive-timeout 60000``, so that the generator keeps its associations through the fill).

``--profile`` runs our registrar under cProfile and prints its top functions (combine it with
``--only ours --rounds 1``).

Run: ``.venv/bin/python bench/bench_registrar.py --guest`` (boots the test guest: about 15
minutes with the defaults), or without ``--guest`` where the kernel has SCTP and we are root.
Logs go to build/bench-registrar/logs/. A script, not a test: it prints side-by-side tables
(medians over ``--rounds``); nothing is timed against a limit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.registrar_load import (  # noqa: E402
    ASAP_PORT,
    ENRP_PORT,
    Channel,
    PhaseResult,
    drive,
    idle,
    in_workers,
    measured,
    open_channel,
    program_name,
    registration_maker,
    rss_kib,
)
from interop.processes import Process  # noqa: E402
from interop.topology import Host, Topology  # noqa: E402
from rserpool.wire import HandleResolution  # noqa: E402
from rserpool.wire.constants import AsapType  # noqa: E402

MENTOR_MS = 1000  # startup phase (no peers to find): the least both accept; we wait it out
SMALL, BIG, THREE = b"Small", b"Big", b"Three"
SMALL_PES, THREE_PES = 10, 3
FIRST_BIG_ID = 100  # Small and Three take ids 1..13
# a guest of its own: its script lives here (another directory for a second guest at once)
RWDIR = Path(os.environ.get("RSERPOOL_BENCH_RWDIR", REPO / "build" / "bench-registrar"))
LOGDIR = RWDIR / "logs"
STEPS = Path(__file__).resolve().parent / "trio_steps.py"
RSPLIB_LEVEL = {"warning": 2, "info": 3}  # RSPLIB's -loglevel for our --log-level


# ------------------------------------------------------------------------------ one round


@dataclass
class Target:
    """A registrar under test: how to start it in its host, and where it listens."""

    label: str
    host: Host
    address: str  # the registrar's veth address
    local: str  # the generator's address on the same link
    start: Callable[[str, Sequence[str]], Process]  # (log name, argv prefix) -> the program


@dataclass
class RoundResult:
    label: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)  # KiB
    log_bytes: int = 0
    steps: dict[str, Any] = field(default_factory=dict)  # --steps: trio_steps' counts


def requests_for(local: str, ids: Iterator[int], handle: bytes) -> list[bytes]:
    make = registration_maker(handle, local)
    return [make(i) for i in ids]


def split(requests: Sequence[bytes], channels: Sequence[Channel]) -> dict[str, Iterator[bytes]]:
    return {c.name: iter(requests[i :: len(channels)]) for i, c in enumerate(channels)}


def run_round(
    target: Target, gen: Host, args: argparse.Namespace, number: int, prefix: Sequence[str]
) -> RoundResult:
    """Start the registrar, register, resolve, time single resolutions, register up to
    ``--more-pes`` (in the last round), sampling its RSS; stop it again."""
    result = RoundResult(target.label)
    process = target.start(f"{target.label.lower()}-{number}", prefix)
    channels: list[Channel] = []
    try:
        for role in ("reg", "pu"):  # the first connect waits until the registrar listens
            for i in range(args.channels):
                channels.append(open_channel(gen, target.local, target.address, f"{role}{i}"))
        latency = open_channel(gen, target.local, target.address, "lat")
        channels.append(latency)
        reg_channels = channels[: args.channels]
        pu_channels = channels[args.channels : 2 * args.channels]
        pid = process.popen.pid  # ip netns exec, taskset and stdbuf exec: the registrar itself
        print(f"-- {target.label} round {number}: pid {pid} ({program_name(pid)})", flush=True)
        idle(channels, 1.5 * MENTOR_MS / 1000)  # past the startup phase
        result.rss["before"] = rss_kib(pid)

        def phase(run: Callable[[], PhaseResult], key: str) -> None:
            done = measured(gen, [pid], run)
            result.phases[key] = done
            print(done.line(), flush=True)

        requests = requests_for(target.local, iter(range(1, SMALL_PES + 1)), SMALL)
        requests += requests_for(target.local, iter(range(11, 11 + THREE_PES)), THREE)
        requests += requests_for(
            target.local, iter(range(FIRST_BIG_ID, FIRST_BIG_ID + args.pes)), BIG
        )
        total = len(requests)
        register = partial(drive, f"register {total} PEs", channels,
                           split(requests, reg_channels), AsapType.REGISTRATION_RESPONSE, 1,
                           args.window)  # fmt: skip
        phase(register, "register")
        idle(channels, 1.0)
        result.rss["registered"] = rss_kib(pid)

        def resolve(handle: bytes) -> PhaseResult:
            request = HandleResolution(pool_handle=handle, items=3).encode()
            sources = {c.name: itertools.repeat(request) for c in pu_channels}
            return drive(f"resolve {handle.decode()}", channels, sources,
                         AsapType.HANDLE_RESOLUTION_RESPONSE, 3, args.window,
                         deadline=args.seconds)  # fmt: skip

        if not args.memory_only:
            phase(partial(resolve, SMALL), "hr_small")
            phase(partial(resolve, BIG), "hr_big")

        single = HandleResolution(pool_handle=THREE, items=1).encode()
        counting = args.steps and target.label != "RSPLIB"
        if counting:
            os.kill(pid, signal.SIGUSR2)  # trio_steps: start counting
        if not args.memory_only:
            phase(lambda: drive("resolve Three, window 1", channels,
                                {"lat": itertools.repeat(single)},
                                AsapType.HANDLE_RESOLUTION_RESPONSE, 1, 1,
                                deadline=args.seconds), "latency")  # fmt: skip
        if counting:
            result.steps = read_steps(process, pid)

        last = number == args.rounds or args.memory_only  # once: RSS is not noisy
        if args.more_pes > args.pes and last:
            more = requests_for(
                target.local,
                iter(range(FIRST_BIG_ID + args.pes, FIRST_BIG_ID + args.more_pes)),
                BIG,
            )
            phase(lambda: drive(f"register {len(more)} more", channels, split(more, reg_channels),
                                AsapType.REGISTRATION_RESPONSE, 1, args.window),
                  "register_more")  # fmt: skip
            idle(channels, 1.0)
            result.rss["more"] = rss_kib(pid)
        rss = result.rss
        print(f"  RSS (KiB): {rss}", flush=True)
    finally:
        for channel in channels:
            channel.close()
        if process.popen.poll() is not None:  # it died under us: say how
            print(f"  {target.label} exited with {process.popen.returncode}", flush=True)
            print(subprocess.run(["dmesg"], capture_output=True, text=True).stdout[-1500:])
        process.stop()
    result.log_bytes = sum(
        p.stat().st_size for p in LOGDIR.glob(f"*{target.label.lower()}-{number}*")
    )
    return result


def scale_round(
    label: str,
    starts: Sequence[tuple[Process, str, str]],
    gen: Host,
    args: argparse.Namespace,
    number: int,
) -> dict[str, PhaseResult]:
    """Two generator workers, each with its own associations to ``starts[k]`` (the running
    registrar, its address, the generator's address on its link): half the PEs each, then
    both resolve pool "Small" for ``--seconds``. Returns the summed phases."""
    workers: list[tuple[list[Channel], list[Channel], str]] = []
    phases: dict[str, PhaseResult] = {}
    try:
        for k in range(2):
            _process, address, local = starts[k % len(starts)]
            reg = [open_channel(gen, local, address, f"w{k}reg{i}") for i in range(args.channels)]
            pu = [open_channel(gen, local, address, f"w{k}pu{i}") for i in range(args.channels)]
            workers.append((reg, pu, local))
        pids = [process.popen.pid for process, _, _ in starts]
        everything = [c for reg, pu, _ in workers for c in reg + pu]
        idle(everything, 3.0)  # startup phase, and our two registrars find each other
        print(f"-- scale-out {label} round {number}: pids {pids}", flush=True)

        def register(k: int) -> Callable[[], PhaseResult]:
            reg, pu, local = workers[k]
            half = args.pes // 2
            ids = range(FIRST_BIG_ID + k * half, FIRST_BIG_ID + (k + 1) * half)
            requests = requests_for(local, iter(ids), BIG)
            if k == 0:
                requests += requests_for(local, iter(range(1, SMALL_PES + 1)), SMALL)
            return lambda: drive(f"register {len(requests)} PEs", reg + pu, split(requests, reg),
                                 AsapType.REGISTRATION_RESPONSE, 1, args.window)  # fmt: skip

        def resolve(k: int) -> Callable[[], PhaseResult]:
            reg, pu, _ = workers[k]
            request = HandleResolution(pool_handle=SMALL, items=3).encode()
            sources = {c.name: itertools.repeat(request) for c in pu}
            return lambda: drive("resolve Small", reg + pu, sources,
                                 AsapType.HANDLE_RESOLUTION_RESPONSE, 3, args.window,
                                 deadline=args.seconds)  # fmt: skip

        for key, make in (("register", register), ("hr_small", resolve)):
            done = measured(gen, pids, partial(in_workers, [make(0), make(1)]))
            phases[key] = done
            print(done.line(), flush=True)
            idle(everything, 2.0)  # Handle Updates reach the peer before anyone resolves
    finally:
        for reg, pu, _ in workers:
            for channel in reg + pu:
                channel.close()
        for process, _, _ in starts:
            process.stop()
    return phases


def read_steps(process: Process, pid: int) -> dict[str, Any]:
    """Ask trio_steps for its counts since the last SIGUSR2; the line it writes to the log."""
    seen = process.output().count("trio-steps ")
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [ln for ln in process.output().splitlines() if ln.startswith("trio-steps ")]
        if len(lines) > seen:
            found: dict[str, Any] = json.loads(lines[-1].split(" ", 1)[1])
            return found
        time.sleep(0.1)
    raise RuntimeError("trio_steps did not report")


def steps_table(steps: dict[str, Any], ops: int) -> str:
    """Per operation: scheduler passes, task steps and their time, time waiting for I/O."""
    per = max(ops, 1)
    inside = sum(steps["step_seconds"].values())
    lines = [
        f"  run loop passes (I/O waits) / op   {steps['io_waits'] / per:8.2f}",
        f"  waiting in epoll / op (µs)         {1e6 * steps['io_wait_seconds'] / per:8.0f}",
        f"  in task steps / op (µs)            {1e6 * inside / per:8.0f}",
        f"  run loop itself / op (µs)          "
        f"{1e6 * (steps['wall'] - steps['io_wait_seconds'] - inside) / per:8.0f}",
    ]
    for name, count in sorted(steps["steps"].items(), key=lambda kv: -kv[1]):
        seconds = steps["step_seconds"][name]
        lines.append(f"  task {name[:40]:<40} {count / per:6.2f} steps/op"
                     f" {1e6 * seconds / per:7.0f} µs/op")  # fmt: skip
    return "\n".join(lines)


def callgrind_round(
    target: Target, gen: Host, args: argparse.Namespace, prefix: Sequence[str]
) -> dict[str, float]:
    """Instructions per operation (user space) of the registrar run under callgrind: the
    instrumentation goes on after the startup and a warm-up, each phase ends with a dump."""
    out = LOGDIR / f"callgrind-{target.label.lower()}"
    for old in LOGDIR.glob(f"{out.name}.*"):
        old.unlink()
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
                f"--callgrind-out-file={out}.%p"]  # fmt: skip
    process = target.start(f"callgrind-{target.label.lower()}", [*prefix, *valgrind])
    channels: list[Channel] = []
    ops: dict[str, int] = {}
    try:
        for i in range(args.channels):  # the first connect waits until the registrar listens
            channels.append(open_channel(gen, target.local, target.address, f"reg{i}", 600))
        latency = open_channel(gen, target.local, target.address, "lat", 600)
        channels.append(latency)
        reg_channels = channels[: args.channels]
        pid = process.popen.pid
        print(f"-- callgrind {target.label}: pid {pid} ({program_name(pid)})", flush=True)
        idle(channels, 1.5 * MENTOR_MS / 1000)

        def control(*what: str) -> None:
            subprocess.run(["callgrind_control", *what, str(pid)], check=True,
                           capture_output=True, timeout=300)  # fmt: skip

        def register(first: int, count: int, name: str) -> None:
            requests = requests_for(target.local, iter(range(first, first + count)), BIG)
            if first == FIRST_BIG_ID:
                requests += requests_for(target.local, iter(range(11, 11 + THREE_PES)), THREE)
            done = drive(name, channels, split(requests, reg_channels),
                         AsapType.REGISTRATION_RESPONSE, 1, args.window)  # fmt: skip
            ops[name] = done.count

        def resolve(window: int, handle: bytes, items: int, name: str) -> None:
            request = HandleResolution(pool_handle=handle, items=items).encode()
            chans = reg_channels if window > 1 else [latency]
            sources = {c.name: itertools.repeat(request, args.callgrind_ops // len(chans))
                       for c in chans}  # fmt: skip
            done = drive(name, channels, sources, AsapType.HANDLE_RESOLUTION_RESPONSE, items,
                         window)  # fmt: skip
            ops[name] = done.count

        warm = 200
        register(FIRST_BIG_ID, warm, "warm-up")
        resolve(args.window, BIG, 3, "warm-up resolutions")
        control("--instr=on")
        control("--dump=start")
        register(FIRST_BIG_ID + warm, args.callgrind_ops, "register")
        control("--dump=register")
        resolve(args.window, BIG, 3, "resolve")
        control("--dump=resolve")
        resolve(1, THREE, 1, "resolve, window 1")
        control("--dump=single")
    finally:
        for channel in channels:
            channel.close()
        process.stop(timeout=120)
    found: dict[str, int] = {}
    for path in LOGDIR.glob(f"{out.name}.*"):
        text = path.read_text(errors="replace")
        trigger = next(
            (ln.split()[-1] for ln in text.splitlines() if ln.startswith("desc: Trigger")), ""
        )
        totals = next(
            (ln.split()[1] for ln in text.splitlines() if ln.startswith(("totals:", "summary:"))),
            "0",
        )
        found[trigger] = int(totals)
    counts = {
        "register": found.get("register", 0) / max(ops["register"], 1),
        "resolve": found.get("resolve", 0) / max(ops["resolve"], 1),
        "single": found.get("single", 0) / max(ops["resolve, window 1"], 1),
    }
    print(f"  {target.label}: instructions per op {counts} (ops {ops})", flush=True)
    return counts


# ------------------------------------------------------------------------------ report


Row = tuple[str, float, str, str]  # metric, value, format, goal ("<= 2", ">= 0.7", "")


def metrics(r: RoundResult, args: argparse.Namespace) -> list[Row]:
    if args.memory_only:
        return memory_metrics(r, args)
    total = args.pes + SMALL_PES + THREE_PES
    reg, small, big, lat = (r.phases[k] for k in ("register", "hr_small", "hr_big", "latency"))
    ordered = sorted(lat.rtts)

    def pct(q: float) -> float:
        return 1e3 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def snmp(p: PhaseResult, name: str) -> float:
        return p.snmp.get(name, 0) / max(p.count, 1)

    w = args.window * args.channels
    rows: list[Row] = [
        (f"Registrations/s ({total:,} PEs, window {w})", reg.rate, ".0f", ">= 0.7"),
        (f"Handle Resolutions/s, pool of {SMALL_PES}, window {w}", small.rate, ".0f", ">= 0.7"),
        (f"Handle Resolutions/s, pool of {args.pes:,}", big.rate, ".0f", ">= 0.7"),
        ("Handle Resolutions/s, window 1", lat.rate, ".0f", ""),
        ("HR round trip, window 1, median (ms)", pct(0.5), ".2f", "<= 2"),
        ("HR round trip, window 1, 90th pct (ms)", pct(0.9), ".2f", ""),
        ("registrar user CPU / registration (µs)", reg.per_op(reg.reg_user), ".0f", ""),
        ("registrar sys CPU / registration (µs)", reg.per_op(reg.reg_sys), ".0f", ""),
        ("registrar CPU / registration (µs)", reg.per_op(reg.reg_user + reg.reg_sys), ".0f",
         "<= 2"),
        ("registrar user CPU / resolution (µs)", small.per_op(small.reg_user), ".0f", ""),
        ("registrar sys CPU / resolution (µs)", small.per_op(small.reg_sys), ".0f", ""),
        ("registrar CPU / resolution (µs)", small.per_op(small.reg_user + small.reg_sys), ".0f",
         "<= 2"),
        (f"registrar CPU / resolution, {args.pes:,} (µs)",
         big.per_op(big.reg_user + big.reg_sys), ".0f", "<= 2"),
        ("registrar user CPU / res., window 1 (µs)", lat.per_op(lat.reg_user), ".0f", ""),
        ("registrar sys CPU / res., window 1 (µs)", lat.per_op(lat.reg_sys), ".0f", ""),
        ("generator CPU / registration (µs)", reg.per_op(reg.gen_user + reg.gen_sys), ".0f", ""),
        ("generator CPU / resolution (µs)", small.per_op(small.gen_user + small.gen_sys), ".0f",
         ""),
        ("  of which system (µs)", small.per_op(small.gen_sys), ".0f", ""),
        ("generator CPU / res., window 1 (µs)", lat.per_op(lat.gen_user + lat.gen_sys), ".0f",
         ""),
        ("gen. select() calls / resolution", small.selects / max(small.count, 1), ".2f", ""),
        ("gen. sleeps (voluntary switches) / res.", small.gen_switches / max(small.count, 1),
         ".2f", ""),
        ("gen. preempted (involuntary) / res.", small.gen_preempted / max(small.count, 1), ".2f",
         ""),
        ("gen. preempted / res., window 1", lat.gen_preempted / max(lat.count, 1), ".2f", ""),
        ("gen. packets in / resolution", snmp(small, "SctpInSCTPPacks"), ".2f", ""),
        ("gen. packets out / resolution", snmp(small, "SctpOutSCTPPacks"), ".2f", ""),
        ("gen. control chunks in / resolution", snmp(small, "SctpInCtrlChunks"), ".2f", ""),
        ("gen. control chunks out / resolution", snmp(small, "SctpOutCtrlChunks"), ".2f", ""),
        ("gen. packets in / registration", snmp(reg, "SctpInSCTPPacks"), ".2f", ""),
        ("gen. packets in / res., window 1", snmp(lat, "SctpInSCTPPacks"), ".2f", ""),
        ("reply bytes / resolution (items=3)", small.reply_bytes / max(small.count, 1), ".0f",
         ""),
        ("RSS before registration (MiB)", r.rss["before"] / 1024, ".1f", ""),
        (f"RSS at {total:,} PEs (MiB)", r.rss["registered"] / 1024, ".1f", ""),
        (f"bytes per PE at {total:,} PEs", per_pe(r, "registered", total), ".0f", "<= 1"),
    ]  # fmt: skip
    rows += more_rows(r, args)
    rows.append(("log bytes written", float(r.log_bytes), ".0f", ""))
    return rows


def per_pe(r: RoundResult, key: str, pes: int) -> float:
    """Bytes of RSS per PE: what the registrar grew by since before the first PE."""
    return 1024 * (r.rss[key] - r.rss["before"]) / pes


def more_rows(r: RoundResult, args: argparse.Namespace) -> list[Row]:
    """The rows of the step to ``--more-pes`` PEs (none if it did not run)."""
    if "more" not in r.rss:
        return []
    more = args.more_pes + SMALL_PES + THREE_PES
    reg_more = r.phases["register_more"]
    return [
        (f"RSS at {more:,} PEs (MiB)", r.rss["more"] / 1024, ".1f", ""),
        (f"bytes per PE at {more:,} PEs", per_pe(r, "more", more), ".0f", "<= 1"),
        (f"Registrations/s up to {more:,} PEs", reg_more.rate, ".0f", ">= 0.7"),
        ("registrar CPU / registration there (µs)",
         reg_more.per_op(reg_more.reg_user + reg_more.reg_sys), ".0f", "<= 2"),
    ]  # fmt: skip


def memory_metrics(r: RoundResult, args: argparse.Namespace) -> list[Row]:
    """``--memory-only``: the two fills, their RSS and bytes per PE."""
    total = args.pes + SMALL_PES + THREE_PES
    reg = r.phases["register"]
    return [
        ("RSS before registration (MiB)", r.rss["before"] / 1024, ".1f", ""),
        (f"RSS at {total:,} PEs (MiB)", r.rss["registered"] / 1024, ".1f", ""),
        (f"bytes per PE at {total:,} PEs", per_pe(r, "registered", total), ".0f", "<= 1"),
        (f"Registrations/s ({total:,} PEs)", reg.rate, ".0f", ">= 0.7"),
        ("registrar CPU / registration (µs)", reg.per_op(reg.reg_user + reg.reg_sys), ".0f",
         "<= 2"),
        *more_rows(r, args),
    ]  # fmt: skip


def table(columns: dict[str, list[list[Row]]], header: tuple[str, str] = ("ours", "RSPLIB")) -> str:
    """metric | ours | RSPLIB | ours/RSPLIB | goal, medians over the rounds."""
    ours, theirs = columns[header[0]], columns[header[1]]
    lines = [
        f"{'metric':<44} {header[0]:>10} {header[1]:>10} {'ratio':>7} {'goal':>7}",
        "-" * 82,
    ]
    rows = max(ours, key=len)  # the round that measured the most (10^5 PEs: the last one)
    for metric, _, fmt, goal in rows:
        mine = statistics.median(v for m in ours for name, v, _, _ in m if name == metric)
        found = [v for m in theirs for name, v, _, _ in m if name == metric]
        other = statistics.median(found) if found else 0.0
        shown = float(f"{other:{fmt}}")  # a ratio to what prints as 0.00 says nothing
        ratio = f"{mine / other:.2f}" if shown else "-"
        lines.append(f"{metric:<44} {mine:>10{fmt}} {other:>10{fmt}} {ratio:>7} {goal:>7}")
    return "\n".join(lines)


def scale_metrics(phases: dict[str, PhaseResult], args: argparse.Namespace) -> list[Row]:
    reg, small = phases["register"], phases["hr_small"]
    return [
        (f"Registrations/s, {args.pes + SMALL_PES:,} PEs", reg.rate, ".0f", ">= 1"),
        (f"Handle Resolutions/s, pool of {SMALL_PES}", small.rate, ".0f", ">= 1"),
        ("registrars' CPU / registration (µs)", reg.per_op(reg.reg_user + reg.reg_sys), ".0f",
         ""),
        ("registrars' CPU / resolution (µs)", small.per_op(small.reg_user + small.reg_sys),
         ".0f", ""),
        ("generator CPU / resolution (µs)", small.per_op(small.gen_user + small.gen_sys), ".0f",
         ""),
        ("bad replies", float(reg.bad + small.bad), ".0f", ""),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ main


def pin(cpus: set[int] | None) -> None:
    """Pin this process (the generator) to ``cpus``, or let it run anywhere (None)."""
    os.sched_setaffinity(0, cpus if cpus is not None else set(range(os.cpu_count() or 1)))


def run(args: argparse.Namespace) -> int:
    import rserpool

    print(f"rserpool from {Path(rserpool.__file__).parent}, cwd {Path.cwd()}", flush=True)
    began = time.monotonic()
    LOGDIR.mkdir(parents=True, exist_ok=True)
    ka = args.keep_alive_interval
    ncpu = os.cpu_count() or 1
    one_cpu = ["taskset", "-c", "0"] if ncpu > 1 else []
    with Topology() as topology:
        gen, ours_host, rsp_host, ours2_host = (
            topology.add_host(n) for n in ("gen", "ours", "rsplib", "ours2")
        )
        ours_link, rsp_link = topology.link(ours_host, gen), topology.link(rsp_host, gen)
        ours2_link, peer_link = topology.link(ours2_host, gen), topology.link(ours_host, ours2_host)

        def our_argv(asap: str, enrp: str, ident: int, peers: Sequence[str]) -> list[str]:
            return ["-m", "rserpool", "registrar",
                    "--asap", f"{asap}:{ASAP_PORT}", "--enrp", f"{enrp}:{ENRP_PORT}",
                    "--identifier", hex(ident), "--asap-announce", "off",
                    "--enrp-announce", "off", *(f"--peer={p}:{ENRP_PORT}" for p in peers),
                    "--endpoint-keep-alive-transmission-interval", str(ka),
                    *(["--endpoint-keep-alive-timeout-interval", str(args.keep_alive_timeout)]
                      if args.keep_alive_timeout else []),
                    "--mentor-discovery-timeout", str(MENTOR_MS),
                    "--log-level", args.log_level]  # fmt: skip

        def start_ours(name: str, prefix: Sequence[str], cwd: Path | None = None) -> Process:
            addr = ours_link.a.address
            python = [*prefix, sys.executable]
            if cwd is not None:  # another checkout's rserpool: python -m finds it in the cwd
                python = [*prefix, "sh", "-c", f'cd "{cwd}" && exec "$0" "$@"', sys.executable]
            if args.profile:  # the CLI ends cleanly on SIGTERM, so cProfile writes its file
                python += ["-m", "cProfile", "-o", str(LOGDIR / f"{name}.prof")]
            argv = [*python, *our_argv(addr, addr, 0x102, [])]
            if args.steps and "valgrind" not in prefix:  # trio_steps.py: counts per phase
                argv[argv.index("-m") : argv.index("-m") + 2] = [str(STEPS)]
                if args.cprofile:  # and cProfile over the window-1 phase
                    argv = ["env", f"RSERPOOL_CPROFILE={LOGDIR / name}.window1.prof", *argv]
            return Process(ours_host, argv, LOGDIR / f"{name}.log", name="rserpool")

        def rsplib_extra() -> list[str]:
            return ["-asapannounce=off", "-enrpannounce=off",
                    f"-loglevel={RSPLIB_LEVEL[args.log_level]}",
                    f"-endpointkeepalivetransmissioninterval={ka}",
                    *([f"-endpointkeepalivetimeoutinterval={args.keep_alive_timeout}"]
                      if args.keep_alive_timeout else []),
                    f"-mentordiscoverytimeout={MENTOR_MS}"]  # fmt: skip

        def start_rsplib(name: str, prefix: Sequence[str]) -> Process:
            """rspregistrar as :func:`interop.rsplib.registrar` starts it, after ``prefix``."""
            addr = rsp_link.a.address
            log = LOGDIR / f"{name}.log"
            argv = [*prefix, "stdbuf", "-oL", "-eL", "rspregistrar",
                    f"-asap={addr}:{ASAP_PORT}", f"-enrp={addr}:{ENRP_PORT}",
                    "-identifier=0x101", *rsplib_extra(),
                    f"-logfile={log.with_suffix('.rsplib.log')}", "-logcolor=off"]  # fmt: skip
            return Process(rsp_host, argv, log, name=name)

        targets = [
            Target("ours", ours_host, ours_link.a.address, ours_link.b.address, start_ours),
            Target("RSPLIB", rsp_host, rsp_link.a.address, rsp_link.b.address, start_rsplib),
        ]
        if args.baseline:
            before = partial(start_ours, cwd=args.baseline.resolve())
            targets.append(Target("before", ours_host, ours_link.a.address, ours_link.b.address,
                                  before))  # fmt: skip
        if args.only:
            targets = [t for t in targets if t.label.lower() == args.only]
        results: dict[str, list[RoundResult]] = {t.label: [] for t in targets}
        pin({0} if one_cpu else None)
        for number in range(1, args.rounds + 1):
            order = targets if number % 2 else targets[::-1]  # alternate who goes first
            if len(targets) == 3:  # ours, RSPLIB, before; before, RSPLIB, ours; ...
                order = [targets[0], targets[2], targets[1]] if number % 2 else order
            for target in order:
                results[target.label].append(run_round(target, gen, args, number, one_cpu))

        scale: dict[str, list[list[Row]]] = {"2x ours": [], "1x RSPLIB": []}
        if args.scale_rounds and ncpu > 1 and not args.only and not args.memory_only:
            pin(None)
            for number in range(1, args.scale_rounds + 1):
                for label in (["2x ours", "1x RSPLIB"] if number % 2 else
                              ["1x RSPLIB", "2x ours"]):  # fmt: skip
                    if label == "2x ours":
                        a, b = peer_link.a.address, peer_link.b.address
                        first = Process(ours_host, [sys.executable, *our_argv(
                            ours_link.a.address, a, 0x102, [b])],
                            LOGDIR / f"scale-ours1-{number}.log")  # fmt: skip
                        second = Process(ours2_host, [sys.executable, *our_argv(
                            ours2_link.a.address, b, 0x103, [a])],
                            LOGDIR / f"scale-ours2-{number}.log")  # fmt: skip
                        starts = [(first, ours_link.a.address, ours_link.b.address),
                                  (second, ours2_link.a.address, ours2_link.b.address)]  # fmt: skip
                    else:
                        one = start_rsplib(f"scale-rsplib-{number}", [])
                        starts = [(one, rsp_link.a.address, rsp_link.b.address)]
                    phases = scale_round(label, starts, gen, args, number)
                    scale[label].append(scale_metrics(phases, args))
        callgrind: dict[str, dict[str, float]] = {}
        if args.callgrind and not args.memory_only:
            pin({0} if one_cpu else None)
            for target in targets:
                callgrind[target.label] = callgrind_round(target, gen, args, one_cpu)
    took = time.monotonic() - began
    timeout = f", timeout {args.keep_alive_timeout} ms" if args.keep_alive_timeout else ""
    print(
        f"\n== registrar benchmark{' (memory only)' if args.memory_only else ''}:"
        f" {args.pes + SMALL_PES + THREE_PES:,} PEs (then {args.more_pes:,}"
        f"{' in every round' if args.memory_only else ''}), HR items=3 for {args.seconds:g} s,"
        f" {args.channels}+{args.channels} associations x window {args.window}, window 1:"
        f" items=1 of 3 PEs; keep alive every {ka} ms{timeout}; log level {args.log_level} (RSPLIB"
        f" {RSPLIB_LEVEL[args.log_level]}); {args.rounds} round(s), medians;"
        f" {ncpu} vCPU(s), rounds pinned to vCPU 0: {bool(one_cpu)}; wall {took:.0f} s ==",
        flush=True,
    )
    columns = {label: [metrics(r, args) for r in rounds] for label, rounds in results.items()}
    columns = {label: rounds for label, rounds in columns.items() if rounds}  # --rounds 0
    if "ours" in columns and "RSPLIB" in columns:
        print(table(columns), flush=True)
    if "ours" in columns and "before" in columns:
        print(f"\n== ours ({REPO}) against before ({args.baseline}) ==")
        print(table(columns, ("ours", "before")), flush=True)
    for label, rounds in results.items():
        if args.steps and label != "RSPLIB" and rounds:
            print(f"\n== {label}: Trio scheduler per window-1 Handle Resolution (last round) ==")
            print(steps_table(rounds[-1].steps, rounds[-1].phases["latency"].count), flush=True)
            if args.cprofile:
                ops = rounds[-1].phases["latency"].count
                print_window1_profile(LOGDIR / f"{label}-{args.rounds}.window1.prof", ops)
    if scale["2x ours"] and scale["1x RSPLIB"]:
        print(f"\n== scale-out: two generator workers, {ncpu} vCPUs, nothing pinned;"
              f" {args.scale_rounds} round(s), medians ==")  # fmt: skip
        print(table(scale, ("2x ours", "1x RSPLIB")), flush=True)
    if "ours" in callgrind and "RSPLIB" in callgrind:
        print(f"\n== callgrind: user-space instructions per operation (the kernel's SCTP not"
              f" included), {args.callgrind_ops} operations each ==")  # fmt: skip
        baseline = "before" in callgrind
        print(f"{'operation':<40} {'ours':>10} {'RSPLIB':>10} {'ratio':>7}"
              + (f" {'before':>10} {'ours/before':>11}" if baseline else ""))  # fmt: skip
        for key, name in (("register", "Registration"), ("resolve", "Handle Resolution (items=3)"),
                          ("single", "Handle Resolution, window 1")):  # fmt: skip
            mine, theirs = callgrind["ours"][key], callgrind["RSPLIB"][key]
            ratio = f"{mine / theirs:.1f}" if theirs else "-"
            line = f"{name:<40} {mine:>10,.0f} {theirs:>10,.0f} {ratio:>7}"
            if baseline:
                old = callgrind["before"][key]
                line += f" {old:>10,.0f} {mine / old if old else 0:>11.2f}"
            print(line)
    if args.profile and "ours" in results:
        print_profile(LOGDIR / f"ours-{args.rounds}.prof", args.profile_top)
    return 0


def print_window1_profile(path: Path, ops: int, top: int = 30) -> None:
    """cProfile over the window-1 phase: the functions by own time, in µs per operation."""
    import pstats

    if not path.exists():
        print(f"no profile at {path}", flush=True)
        return
    stats = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, calls, f"{Path(file).name}:{line}({func})"))
    total = sum(r[0] for r in rows if "epoll" not in r[3])  # not the waiting
    print(f"  cProfile (slower than the plain run), {1e6 * total / ops:.0f} µs/op besides epoll;"
          f" own time per op, calls per op, with callees per op:")  # fmt: skip
    for tottime, cumtime, calls, name in sorted(rows, reverse=True)[:top]:
        print(f"  {1e6 * tottime / ops:7.0f} µs {calls / ops:6.2f}x {1e6 * cumtime / ops:7.0f} µs"
              f"  {name}")  # fmt: skip
    sys.stdout.flush()


def print_profile(path: Path, top: int) -> None:
    """The top functions of our registrar's cProfile output (the whole run of one round)."""
    import pstats

    if not path.exists():
        print(f"no profile at {path}", flush=True)
        return
    for order in ("tottime", "cumulative"):
        print(f"\n== our registrar under cProfile ({path.name}), top {top} by {order} ==")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(top)
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guest", action="store_true", help="run inside the test guest")
    parser.add_argument("--cpus", type=int, default=2, help="the guest's vCPUs (--guest)")
    parser.add_argument("--memory", default="512M", help="the guest's memory (--guest)")
    parser.add_argument("--pes", type=int, default=10_000, help="PEs in pool Big")
    parser.add_argument("--more-pes", type=int, default=100_000, help="then Big grows to this")
    parser.add_argument("--seconds", type=float, default=8.0, help="per resolution phase")
    parser.add_argument("--channels", type=int, default=2, help="associations per role")
    parser.add_argument("--window", type=int, default=32, help="outstanding per association")
    parser.add_argument("--rounds", type=int, default=3, help="medians over the rounds")
    parser.add_argument("--scale-rounds", type=int, default=2, help="0: no scale-out rows")
    parser.add_argument("--keep-alive-interval", type=int, default=300_000, metavar="MS")
    parser.add_argument(
        "--keep-alive-timeout",
        type=int,
        metavar="MS",
        help="both registrars' Endpoint Keep Alive timeout (default theirs, 5 s). A round that"
        " registers 10^5 PEs with ours outlasts the 300 s keep-alive interval (RSPLIB's"
        " maximum): the first 10^4 PEs' Keep Alives all come due while the generator is busy,"
        " and acks later than 5 s abort its associations. A memory run: 60000 (the maximum)",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="each round only registers --pes, then --more-pes PEs, and reports RSS and bytes"
        " per PE at both (no resolution phases, no scale-out, no callgrind)",
    )
    parser.add_argument("--log-level", default="warning", choices=sorted(RSPLIB_LEVEL))
    parser.add_argument("--only", choices=["ours", "rsplib"], help="one registrar only")
    parser.add_argument("--callgrind", action="store_true", help="instruction counts too")
    parser.add_argument("--callgrind-ops", type=int, default=300, metavar="N")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run the rserpool of another checkout (e.g. /work/main) as 'before'",
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="run our registrar under bench/trio_steps.py: Trio scheduler passes and task"
        " steps per window-1 Handle Resolution (slower: a diagnosis, not a comparison)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run our registrar under cProfile (slower: its figures are not comparable) and"
        " print its top functions (profiles in build/bench-registrar/logs/ours-N.prof)",
    )
    parser.add_argument("--profile-top", type=int, default=45, metavar="N")
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="with --steps: cProfile over the window-1 phase of our registrar, per operation",
    )
    args = parser.parse_args()
    if args.guest:
        from interop.capabilities import Capabilities

        if not Capabilities.probe().native:
            from interop.guest import Guest, GuestConfig

            busy = subprocess.run(["pgrep", "-f", "qemu-system"], capture_output=True, text=True)
            if busy.stdout.strip():
                print(
                    "warning: another QEMU guest is running; it will skew the numbers", flush=True
                )
            passed = [a for a in sys.argv[1:] if a != "--guest"]
            command = " ".join(["python bench/bench_registrar.py", *passed])
            env = {"RSERPOOL_BENCH_RWDIR": str(RWDIR)}
            config = GuestConfig(cpus=args.cpus, memory=args.memory)
            done = Guest(RWDIR, config).run(command, env)
            boot, took = done.boot_seconds or 0, done.script_seconds or 0
            print(f"guest boot {boot:.0f} s, script {took:.0f} s", flush=True)
            return done.returncode
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
