"""The load generator of ``bench_registrar.py``: associations to a registrar, requests sent with
a window, replies counted and spot-checked, Keep Alives acked, and the CPU, RSS and SCTP
counters read from /proc around each phase.

Every PE is a real registration: SCTP user transport on the generator's veth address (RSPLIB
drops loopback addresses and wants the advertised ones among the association's peer addresses),
port 5000, data+control, Round Robin, life 300 s. The generator answers every Endpoint Keep
Alive with an Ack on the association it came on, so no registrar aborts it for silence.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from interop.topology import Host
from rserpool.transport import _sockapi as api
from rserpool.wire import (
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    HandleResolutionResponse,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TransportUse,
    decode_message_untrusted,
)
from rserpool.wire.constants import PPID, AsapType

ASAP_PORT, ENRP_PORT = 3863, 9901
USER_PORT = 5000
LIFE_MS = 300_000
SCTP_DEFAULT_SNDINFO = 34  # linux/sctp.h: default sctp_sndinfo for plain send()
HEADER = struct.Struct("!BBH")
SENTINEL = 0x5EC0DE42  # a PE id whose bytes we find in the encoded Registration
CHECK_EVERY = 50  # decode every 50th reply in full (the others: type, flags, length)
CLK_TCK = os.sysconf("SC_CLK_TCK")
SNMP = ("SctpInSCTPPacks", "SctpOutSCTPPacks", "SctpInCtrlChunks", "SctpOutCtrlChunks")


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


def check_reply(data: bytes, expected: int, items: int) -> bool:
    """A full decode: a Registration Response without reject, or an HRR with its PEs."""
    message = decode_message_untrusted(PPID.ASAP, data)
    if expected == AsapType.HANDLE_RESOLUTION_RESPONSE:
        assert isinstance(message, HandleResolutionResponse)
        return message.error is None and len(message.pool_elements) == items
    return not getattr(message, "reject", True)


# ------------------------------------------------------------------------------ associations


@dataclass
class Channel:
    """One SCTP association of the generator (a one-to-one socket), PPID 11 by default."""

    sock: socket.socket
    name: str
    outstanding: int = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def open_channel(gen: Host, local: str, remote: str, name: str, timeout: float = 300) -> Channel:
    """Associate from ``local`` (the generator's veth address) to the registrar's ASAP port,
    retrying until the registrar listens. SCTP_NODELAY, as both registrars' sockets."""
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


# ------------------------------------------------------------------------------ /proc


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of the process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def own_cpu() -> tuple[float, float]:
    times = os.times()
    return times.user, times.system


def own_switches() -> tuple[int, int]:
    """(voluntary, involuntary) context switches of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw, usage.ru_nivcsw


def program_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def sctp_snmp(host: Host) -> dict[str, int]:
    """The namespace's SCTP counters (/proc/net/sctp/snmp is per network namespace)."""
    found = {}
    for line in host.run("cat", "/proc/net/sctp/snmp").splitlines():
        name, _, value = line.partition(" ")
        if name in SNMP:
            found[name] = int(value.strip())
    return found


# ------------------------------------------------------------------------------ phases


@dataclass
class PhaseResult:
    """One phase against one registrar (or, in a scale-out run, the sum of its workers)."""

    name: str
    count: int = 0
    seconds: float = 0.0
    bad: int = 0
    checked: int = 0
    keep_alives: int = 0
    gen_user: float = 0.0
    gen_sys: float = 0.0
    reg_user: float = 0.0
    reg_sys: float = 0.0
    selects: int = 0  # generator select() calls that returned events
    gen_switches: int = 0  # the generator's voluntary context switches (it slept)
    gen_preempted: int = 0  # and involuntary ones (another task took the CPU)
    reply_bytes: int = 0
    rtts: list[float] = field(default_factory=list)  # window 1 only: seconds per round trip
    snmp: dict[str, int] = field(default_factory=dict)  # generator namespace, deltas

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def per_op(self, seconds: float) -> float:
        """µs per operation."""
        return 1e6 * seconds / max(self.count, 1)

    def line(self) -> str:
        reg = self.reg_user + self.reg_sys
        gen = self.gen_user + self.gen_sys
        text = (
            f"  {self.name:<30} {self.count:6d} in {self.seconds:6.2f} s = {self.rate:7.1f}/s"
            f"  registrar {self.per_op(self.reg_user):5.0f}+{self.per_op(self.reg_sys):4.0f} µs/op"
            f" ({100 * reg / self.seconds:3.0f}%)  generator {self.per_op(gen):5.0f} µs/op"
            f" ({100 * gen / self.seconds:3.0f}%)  bad {self.bad}/{self.checked}"
        )
        if self.rtts:
            ordered = sorted(self.rtts)
            text += f"  RTT median {1e3 * ordered[len(ordered) // 2]:.2f} ms"
        return text

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PhaseResult:
        return cls(**json.loads(text))

    def add(self, other: PhaseResult) -> None:
        """Sum a worker's counts into this one (the longest worker's duration)."""
        for name in ("count", "bad", "checked", "keep_alives", "selects", "reply_bytes",
                     "gen_switches", "gen_preempted"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.gen_user += other.gen_user
        self.gen_sys += other.gen_sys
        self.seconds = max(self.seconds, other.seconds)
        self.rtts += other.rtts


def drive(
    name: str,
    channels: Sequence[Channel],
    sources: Mapping[str, Iterator[bytes]],
    expected: int,
    items: int,
    window: int,
    deadline: float | None = None,
    stall: float = 60.0,
) -> PhaseResult:
    """Send each channel's requests with up to ``window`` outstanding, until its source is
    exhausted (or ``deadline``, a duration in seconds, has passed) and every reply is in.
    Keep Alives on any channel are answered at once. Replies come back FIFO per channel; with
    ``window`` 1 each round trip is timed. The caller measures the registrar's CPU."""
    result = PhaseResult(name)
    selector = selectors.DefaultSelector()
    for channel in channels:
        selector.register(channel.sock, selectors.EVENT_READ, channel)
    active = {c.name for c in channels if c.name in sources}
    timed = window == 1
    sent_at: dict[str, float] = {}

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
            if timed:
                sent_at[channel.name] = time.perf_counter()
            channel.send(request)
            channel.outstanding += 1

    user0, sys0 = own_cpu()
    switches0 = own_switches()
    start = time.perf_counter()
    for channel in channels:
        refill(channel)
    while active or any(c.outstanding for c in channels):
        events = selector.select(timeout=stall)
        if not events:
            raise RuntimeError(f"{name}: no reply for {stall} s ({result.count} so far)")
        result.selects += 1
        for key, _ in events:
            channel = key.data
            data = channel.sock.recv(65536)
            if timed:
                result.rtts.append(time.perf_counter() - sent_at[channel.name])
            if not data:
                raise RuntimeError(f"{name}: the registrar closed association {channel.name}")
            kind, flags, _ = HEADER.unpack_from(data)
            if kind == AsapType.ENDPOINT_KEEP_ALIVE:
                answer_keep_alive(channel, data)
                result.keep_alives += 1
                continue
            channel.outstanding -= 1
            result.count += 1
            result.reply_bytes += len(data)
            rejected = kind == AsapType.REGISTRATION_RESPONSE and flags & 1
            if kind != expected or rejected:
                result.bad += 1
            elif result.count % CHECK_EVERY == 1:
                result.checked += 1
                result.bad += not check_reply(data, expected, items)
            refill(channel)
    result.seconds = time.perf_counter() - start
    user1, sys1 = own_cpu()
    result.gen_user, result.gen_sys = user1 - user0, sys1 - sys0
    switches1 = own_switches()
    result.gen_switches = switches1[0] - switches0[0]
    result.gen_preempted = switches1[1] - switches0[1]
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


def measured(gen: Host, pids: Sequence[int], phase: Callable[[], PhaseResult]) -> PhaseResult:
    """Run ``phase`` with the registrars' CPU (user, system) and the generator namespace's
    SCTP counters read before and after."""
    before = [cpu_times(pid) for pid in pids]
    snmp0 = sctp_snmp(gen)
    result = phase()
    snmp1 = sctp_snmp(gen)
    after = [cpu_times(pid) for pid in pids]
    result.reg_user = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    result.reg_sys = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    result.snmp = {k: snmp1[k] - snmp0.get(k, 0) for k in snmp1}
    return result


def in_workers(phases: Sequence[Callable[[], PhaseResult]]) -> PhaseResult:
    """Run each phase in a forked worker process at once (their sockets are inherited) and sum
    their results; the workers' CPU is their own (os.times in each)."""
    pids, reads = [], []
    for phase in phases:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: run, report, leave without the parent's cleanups
            os.close(read)
            code = 0
            try:
                text = phase().to_json()
            except BaseException as exc:  # reported to the parent, which raises it
                text, code = json.dumps({"error": repr(exc)}), 1
            with os.fdopen(write, "w") as out:
                out.write(text)
            os._exit(code)
        os.close(write)
        pids.append(pid)
        reads.append(read)
    total: PhaseResult | None = None
    for pid, read in zip(pids, reads, strict=True):
        with os.fdopen(read) as source:
            text = source.read()
        os.waitpid(pid, 0)
        if '"error"' in text[:10]:
            raise RuntimeError(f"a generator worker failed: {json.loads(text)['error']}")
        part = PhaseResult.from_json(text)
        if total is None:
            total = part
        else:
            total.add(part)
    assert total is not None
    return total
