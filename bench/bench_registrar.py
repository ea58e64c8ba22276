"""Our registrar against RSPLIB 3.4.4's rspregistrar, driven by one load generator of ours.

Three namespace hosts: ``ours`` runs ``python -m rserpool registrar``, ``rsplib`` runs
``rspregistrar``, and ``gen`` (the load generator, this process) reaches each over its own veth
link. Each registrar runs alone (the other is not started yet or already stopped), with
announces off, the same Endpoint Keep Alive interval and a 1 s startup phase (mentor discovery,
waited out before measuring). Against each one, the same generator code measures, in one run:

* Registrations/s: 10,000 PEs in pool "Big" (ids 1..N) and 10 in pool "Small", sent over
  ``--channels`` associations with up to ``--window`` requests outstanding on each;
* Handle Resolutions/s (items=3, Round Robin) of "Small" (10 PEs) and "Big" (10,000 PEs) for
  ``--seconds`` each, over ``--channels`` further associations (the pool users), same window;
* the registrar's RSS (VmRSS) before the registrations, at 10,010 PEs, and after the handle
  resolutions; for our registrar that is the whole Python process;
* CPU seconds of the registrar process and of the generator per phase (from /proc and
  ``time.process_time``): on a one-vCPU guest they share the CPU, so "generator CPU %" tells
  whether the generator, not the registrar, set the pace, and "registrar CPU µs/op" is the
  registrar's cost with the generator factored out.

Every PE is a real registration: SCTP user transport on the generator's veth address (RSPLIB
drops loopback addresses and wants the advertised ones among the association's peer addresses),
port 5000, data+control, Round Robin, life 300 s. The generator answers every Endpoint Keep
Alive with an Ack on the association it came on, so no registrar ever aborts it for silence.
By default both registrars send keep alives every 300 s (``--keep-alive-interval``, RSPLIB's
maximum) rather than every 5 s: at the default, 10,000 PEs mean 2,000 keep alives a second, a
load of its own that would swamp the measured operations under the guest's emulation (and the
Python registrar first). Our registrar logs at ``warning`` (``--our-log-level``): at ``info`` it
writes one line per registration, which RSPLIB at ``-loglevel=3`` does not.

``--profile`` runs our registrar under cProfile (``python -m cProfile -o ... -m rserpool
registrar``; it exits cleanly on SIGTERM, so the profile is written) and prints its top
functions; combine it with ``--only ours --rounds 1``.

Run: ``.venv/bin/python bench/bench_registrar.py`` where the kernel has SCTP and we are root,
or ``.venv/bin/python bench/bench_registrar.py --guest`` to boot the test guest for it (about
5 minutes in all under QEMU TCG with the defaults; another guest running at the same time skews
the numbers, and the script warns of one). Program logs go to build/bench-registrar/logs/.
A script, not a test: it prints a side-by-side table (medians over ``--rounds``); nothing is
timed against a limit. The goal of issue 6 is ours/RSPLIB >= 1.0 for throughput and <= 1.0
for memory.
"""

from __future__ import annotations

import argparse
import errno
import itertools
import os
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interop import rsplib  # noqa: E402
from interop.processes import Process  # noqa: E402
from interop.topology import Host, Topology  # noqa: E402
from rserpool.transport import _sockapi as api  # noqa: E402
from rserpool.wire import (  # noqa: E402
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    HandleResolution,
    HandleResolutionResponse,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TransportUse,
    decode_message_untrusted,
)
from rserpool.wire.constants import PPID, AsapType  # noqa: E402

ASAP_PORT, ENRP_PORT = 3863, 9901
USER_PORT = 5000
LIFE_MS = 300_000
MENTOR_MS = 1000  # startup phase (no peers to find): the least both accept; we wait it out
SMALL, BIG = b"Small", b"Big"
SMALL_PES = 10
SCTP_DEFAULT_SNDINFO = 34  # linux/sctp.h: default sctp_sndinfo for plain send()
HEADER = struct.Struct("!BBH")
SENTINEL = 0x5EC0DE42  # a PE id whose bytes we find in the encoded Registration
CHECK_EVERY = 50  # decode every 50th reply in full (the others: type, flags, length)
RWDIR = REPO / "build" / "bench-registrar"  # a guest of its own: its script lives here
LOGDIR = RWDIR / "logs"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ messages


def registration_maker(handle: bytes, address: str) -> Callable[[int], bytes]:
    """Registration bytes for any PE id: encoded once, the PE id patched in per request."""
    user = SctpTransport(USER_PORT, (IPv4Address(address),), TransportUse.DATA_PLUS_CONTROL)
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    pe = PoolElement(SENTINEL, 0, LIFE_MS, user, policy)
    template = Registration(pool_handle=handle, pool_element=pe).encode()
    offset = template.index(struct.pack("!I", SENTINEL))
    assert template.count(struct.pack("!I", SENTINEL)) == 1

    def make(pe_id: int) -> bytes:
        raw = bytearray(template)
        struct.pack_into("!I", raw, offset, pe_id)
        return bytes(raw)

    return make


def check_reply(data: bytes, expected: int, pool_size: int) -> bool:
    """A full decode: a Registration Response without reject, or an HRR with its PEs."""
    message = decode_message_untrusted(PPID.ASAP, data)
    if expected == AsapType.HANDLE_RESOLUTION_RESPONSE:
        assert isinstance(message, HandleResolutionResponse)
        return message.error is None and len(message.pool_elements) == min(3, pool_size)
    return not getattr(message, "reject", True)


# ------------------------------------------------------------------------------ generator


@dataclass
class Channel:
    """One SCTP association of the generator (a one-to-one socket), PPID 11 by default."""

    sock: socket.socket
    name: str
    outstanding: int = 0
    keep_alives: int = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def open_channel(gen: Host, local: str, remote: str, name: str, timeout: float = 90) -> Channel:
    """Associate from ``local`` (the generator's veth address) to the registrar's ASAP port,
    retrying until the registrar listens."""
    deadline = time.monotonic() + timeout
    while True:
        with gen.entered():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, api.IPPROTO_SCTP)
        sock.setsockopt(api.SOL_SCTP, api.SCTP_NODELAY, 1)
        sock.setsockopt(api.SOL_SCTP, SCTP_DEFAULT_SNDINFO, api.sndinfo(0, PPID.ASAP, 0, 0))
        sock.bind((local, 0))
        try:
            sock.connect((remote, ASAP_PORT))
            return Channel(sock, name)
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT):
                raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"{remote}:{ASAP_PORT} does not answer: {exc}") from exc
            time.sleep(0.5)


def answer_keep_alive(channel: Channel, data: bytes) -> None:
    """Ack an Endpoint Keep Alive with its pool handle and PE id, as a PE does."""
    ka = decode_message_untrusted(PPID.ASAP, data)
    assert isinstance(ka, EndpointKeepAlive) and ka.pe_id is not None
    channel.send(EndpointKeepAliveAck(pool_handle=ka.pool_handle, pe_id=ka.pe_id).encode())
    channel.keep_alives += 1


@dataclass
class PhaseResult:
    name: str
    count: int = 0
    seconds: float = 0.0
    bad: int = 0
    checked: int = 0
    keep_alives: int = 0
    gen_cpu: float = 0.0
    registrar_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"  {self.name:<24} {self.count:6d} in {self.seconds:6.2f} s = {self.rate:7.1f}/s"
            f"  registrar CPU {100 * self.registrar_cpu / self.seconds:3.0f}%"
            f" ({1e6 * self.registrar_cpu / max(self.count, 1):6.0f} µs/op)"
            f"  generator CPU {100 * self.gen_cpu / self.seconds:3.0f}%"
            f"  bad {self.bad}/{self.checked} checked  keep-alives {self.keep_alives}"
        )


def drive(
    name: str,
    channels: Sequence[Channel],
    sources: dict[str, Iterator[bytes]],
    expected: int,
    pool_size: int,
    window: int,
    registrar_pid: int,
    deadline: float | None = None,
    stall: float = 60.0,
) -> PhaseResult:
    """Send each channel's requests with up to ``window`` outstanding, until its source is
    exhausted (or ``deadline``, a duration in seconds, has passed) and every reply is in.
    Keep Alives on any channel are answered at once. Replies come back FIFO per channel."""
    result = PhaseResult(name)
    selector = selectors.DefaultSelector()
    for channel in channels:
        selector.register(channel.sock, selectors.EVENT_READ, channel)
    active = {c.name for c in channels if c.name in sources}

    def refill(channel: Channel) -> None:
        source = sources.get(channel.name)
        if source is None or channel.name not in active:
            return
        if deadline is not None and time.perf_counter() - start > deadline:
            active.discard(channel.name)
            return
        while channel.outstanding < window:
            request = next(source, None)
            if request is None:
                active.discard(channel.name)
                return
            channel.send(request)
            channel.outstanding += 1

    cpu0, reg0 = time.process_time(), cpu_seconds(registrar_pid)
    start = time.perf_counter()
    for channel in channels:
        refill(channel)
    while active or any(c.outstanding for c in channels):
        events = selector.select(timeout=stall)
        if not events:
            raise RuntimeError(f"{name}: no reply for {stall} s ({result.count} so far)")
        for key, _ in events:
            channel = key.data
            data = channel.sock.recv(65536)
            if not data:
                raise RuntimeError(f"{name}: the registrar closed association {channel.name}")
            kind, flags, _ = HEADER.unpack_from(data)
            if kind == AsapType.ENDPOINT_KEEP_ALIVE:
                answer_keep_alive(channel, data)
                result.keep_alives += 1
                continue
            channel.outstanding -= 1
            result.count += 1
            rejected = kind == AsapType.REGISTRATION_RESPONSE and flags & 1
            if kind != expected or rejected:
                result.bad += 1
            elif result.count % CHECK_EVERY == 1:
                result.checked += 1
                result.bad += not check_reply(data, expected, pool_size)
            refill(channel)
    result.seconds = time.perf_counter() - start
    result.gen_cpu = time.process_time() - cpu0
    result.registrar_cpu = cpu_seconds(registrar_pid) - reg0
    selector.close()
    return result


def idle(channels: Sequence[Channel], seconds: float) -> None:
    """Let ``seconds`` pass while answering Keep Alives (e.g. before sampling RSS)."""
    end = time.monotonic() + seconds
    selector = selectors.DefaultSelector()
    for channel in channels:
        selector.register(channel.sock, selectors.EVENT_READ, channel)
    while (left := end - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            channel = key.data
            data = channel.sock.recv(65536)
            if not data:
                raise RuntimeError(f"the registrar closed association {channel.name}")
            if data[0] == AsapType.ENDPOINT_KEEP_ALIVE:
                answer_keep_alive(channel, data)
    selector.close()


# ------------------------------------------------------------------------------ /proc


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def program_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


# ------------------------------------------------------------------------------ one round


@dataclass
class Target:
    """A registrar under test: how to start it in its host, and where it listens."""

    label: str
    host: Host
    address: str  # the registrar's veth address
    local: str  # the generator's address on the same link
    start: Callable[[int], Process]  # round number -> the running program


@dataclass
class RoundResult:
    label: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)  # KiB


def run_round(target: Target, gen: Host, args: argparse.Namespace, number: int) -> RoundResult:
    """Start the registrar, register, resolve, sample its RSS; stop it again."""
    result = RoundResult(target.label)
    process = target.start(number)
    channels: list[Channel] = []
    try:
        for role in ("reg", "pu"):  # the first connect waits until the registrar listens
            for i in range(args.channels):
                channels.append(open_channel(gen, target.local, target.address, f"{role}{i}"))
        reg_channels, pu_channels = channels[: args.channels], channels[args.channels :]
        pid = process.popen.pid  # ip netns exec and stdbuf exec: the registrar itself
        print(f"-- {target.label} round {number}: pid {pid} ({program_name(pid)})", flush=True)
        idle(channels, 1.5 * MENTOR_MS / 1000)  # past the startup phase
        result.rss["before"] = rss_kib(pid)

        small = registration_maker(SMALL, target.local)
        big = registration_maker(BIG, target.local)
        requests = [small(i) for i in range(1, SMALL_PES + 1)]
        requests += [big(i) for i in range(1, args.pes + 1)]
        sources = {
            c.name: iter(requests[i :: len(reg_channels)]) for i, c in enumerate(reg_channels)
        }
        phase = drive(
            f"register {len(requests)} PEs",
            channels,
            sources,
            AsapType.REGISTRATION_RESPONSE,
            1,
            args.window,
            pid,
        )
        result.phases["register"] = phase
        print(phase.line(), flush=True)
        idle(channels, 1.0)
        result.rss["registered"] = rss_kib(pid)

        for key, handle, size in (("hr_small", SMALL, SMALL_PES), ("hr_big", BIG, args.pes)):
            request = HandleResolution(pool_handle=handle, items=3).encode()
            sources = {c.name: itertools.repeat(request) for c in pu_channels}
            phase = drive(
                f"resolve {handle.decode()} ({size} PEs)",
                channels,
                sources,
                AsapType.HANDLE_RESOLUTION_RESPONSE,
                size,
                args.window,
                pid,
                deadline=args.seconds,
            )
            result.phases[key] = phase
            print(phase.line(), flush=True)
        result.rss["end"] = rss_kib(pid)
        rss = result.rss
        print(
            f"  RSS before {rss['before']} KiB, at {len(requests)} PEs {rss['registered']} KiB,"
            f" after resolutions {rss['end']} KiB",
            flush=True,
        )
    finally:
        for channel in channels:
            channel.close()
        process.stop()
    return result


# ------------------------------------------------------------------------------ report


def metrics(r: RoundResult, pes: int) -> list[tuple[str, float, str, str]]:
    """(metric, value, format, goal) per row of the table; goal ">= 1", "<= 1" or ""."""
    total = pes + SMALL_PES
    reg, small, big = r.phases["register"], r.phases["hr_small"], r.phases["hr_big"]

    def us_per_op(p: PhaseResult) -> float:
        return 1e6 * p.registrar_cpu / max(p.count, 1)

    def gen_share(p: PhaseResult) -> float:
        return 100 * p.gen_cpu / p.seconds

    per_pe = 1024 * (r.rss["registered"] - r.rss["before"]) / total
    return [
        (f"Registrations/s ({total:,} PEs)", reg.rate, ".0f", ">= 1"),
        (f"Handle Resolutions/s, pool of {SMALL_PES}", small.rate, ".0f", ">= 1"),
        (f"Handle Resolutions/s, pool of {pes:,}", big.rate, ".0f", ">= 1"),
        (f"RSS at {total:,} PEs (MiB)", r.rss["registered"] / 1024, ".1f", "<= 1"),
        ("RSS before registration (MiB)", r.rss["before"] / 1024, ".1f", "<= 1"),
        ("RSS after resolutions (MiB)", r.rss["end"] / 1024, ".1f", "<= 1"),
        ("RSS per PE (bytes)", per_pe, ".0f", "<= 1"),
        ("registrar CPU per registration (µs)", us_per_op(reg), ".0f", "<= 1"),
        (f"registrar CPU per resolution, {SMALL_PES} (µs)", us_per_op(small), ".0f", "<= 1"),
        (f"registrar CPU per resolution, {pes:,} (µs)", us_per_op(big), ".0f", "<= 1"),
        ("generator CPU % while registering", gen_share(reg), ".0f", ""),
        (f"generator CPU % resolving, {SMALL_PES}", gen_share(small), ".0f", ""),
        (f"generator CPU % resolving, {pes:,}", gen_share(big), ".0f", ""),
    ]


def table(results: dict[str, list[RoundResult]], pes: int) -> str:
    """metric | ours | RSPLIB | ours/RSPLIB | goal, medians over the rounds."""
    ours = [metrics(r, pes) for r in results["ours"]]
    theirs = [metrics(r, pes) for r in results["RSPLIB"]]
    lines = [
        f"{'metric':<40} {'ours':>10} {'RSPLIB':>10} {'ours/RSPLIB':>12} {'goal':>6}",
        "-" * 82,
    ]
    for i, (metric, _, fmt, goal) in enumerate(ours[0]):
        mine = statistics.median(m[i][1] for m in ours)
        other = statistics.median(m[i][1] for m in theirs)
        ratio = f"{mine / other:.2f}" if other else "-"
        lines.append(f"{metric:<40} {mine:>10{fmt}} {other:>10{fmt}} {ratio:>12} {goal:>6}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    LOGDIR.mkdir(parents=True, exist_ok=True)
    ka = args.keep_alive_interval
    with Topology() as topology:
        gen, ours_host, rsp_host = (topology.add_host(n) for n in ("gen", "ours", "rsplib"))
        ours_link, rsp_link = topology.link(ours_host, gen), topology.link(rsp_host, gen)

        def start_ours(number: int) -> Process:
            addr = ours_link.a.address
            python = [sys.executable]
            if args.profile:  # the CLI ends cleanly on SIGTERM, so cProfile writes its file
                python += ["-m", "cProfile", "-o", str(LOGDIR / f"ours-{number}.prof")]
            argv = [*python, "-m", "rserpool", "registrar",
                    "--asap", f"{addr}:{ASAP_PORT}", "--enrp", f"{addr}:{ENRP_PORT}",
                    "--identifier", "0x102", "--asap-announce", "off", "--enrp-announce", "off",
                    "--endpoint-keep-alive-transmission-interval", str(ka),
                    "--mentor-discovery-timeout", str(MENTOR_MS),
                    "--log-level", args.our_log_level]  # fmt: skip
            return Process(ours_host, argv, LOGDIR / f"ours-{number}.log", name="rserpool")

        def start_rsplib(number: int) -> Process:
            extra = ["-asapannounce=off", "-enrpannounce=off",
                     f"-endpointkeepalivetransmissioninterval={ka}",
                     f"-mentordiscoverytimeout={MENTOR_MS}"]  # fmt: skip
            return rsplib.registrar(
                rsp_host, LOGDIR, identifier=0x101, extra=extra, name=f"rspregistrar-{number}"
            )

        targets = [
            Target("ours", ours_host, ours_link.a.address, ours_link.b.address, start_ours),
            Target("RSPLIB", rsp_host, rsp_link.a.address, rsp_link.b.address, start_rsplib),
        ]
        if args.only:
            targets = [t for t in targets if t.label.lower() == args.only]
        results: dict[str, list[RoundResult]] = {t.label: [] for t in targets}
        for number in range(1, args.rounds + 1):
            order = targets if number % 2 else targets[::-1]  # alternate who goes first
            for target in order:
                results[target.label].append(run_round(target, gen, args, number))
    took = time.monotonic() - began
    medians = ", medians" if args.rounds > 1 else ""
    print(
        f"\n== registrar benchmark: {args.pes + SMALL_PES:,} PEs, HR items=3 for"
        f" {args.seconds:g} s, {args.channels}+{args.channels} associations x window"
        f" {args.window}, keep alive every {ka} ms, {args.rounds} round(s){medians};"
        f" wall {took:.0f} s ==",
        flush=True,
    )
    if len(results) == 2:
        print(table(results, args.pes), flush=True)
    if args.profile and "ours" in results:
        print_profile(LOGDIR / f"ours-{args.rounds}.prof", args.profile_top)
    return 0


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
    parser.add_argument("--pes", type=int, default=10_000, help="PEs in pool Big")
    parser.add_argument("--seconds", type=float, default=10.0, help="per resolution phase")
    parser.add_argument("--channels", type=int, default=2, help="associations per role")
    parser.add_argument("--window", type=int, default=32, help="outstanding per association")
    parser.add_argument("--rounds", type=int, default=3, help="medians over the rounds")
    parser.add_argument("--keep-alive-interval", type=int, default=300_000, metavar="MS")
    parser.add_argument("--our-log-level", default="warning", choices=["info", "warning"])
    parser.add_argument("--only", choices=["ours", "rsplib"], help="one registrar only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run our registrar under cProfile (slower: its figures are not comparable) and"
        " print its top functions (profiles in build/bench-registrar/logs/ours-N.prof)",
    )
    parser.add_argument("--profile-top", type=int, default=45, metavar="N")
    args = parser.parse_args()
    if args.guest:
        from interop.capabilities import Capabilities

        if not Capabilities.probe().native:
            from interop.guest import Guest

            busy = subprocess.run(["pgrep", "-f", "qemu-system"], capture_output=True, text=True)
            if busy.stdout.strip():
                print(
                    "warning: another QEMU guest is running; it will skew the numbers", flush=True
                )
            rwdir = RWDIR
            passed = [a for a in sys.argv[1:] if a != "--guest"]
            command = " ".join(["python bench/bench_registrar.py", *passed])
            done = Guest(rwdir).run(command)
            boot, took = done.boot_seconds or 0, done.script_seconds or 0
            print(f"guest boot {boot:.0f} s, script {took:.0f} s", flush=True)
            return done.returncode
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
