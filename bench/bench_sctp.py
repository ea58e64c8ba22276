"""Our SCTP over UDP (rserpool.sctp under the Trio driver) against usrsctp, on loopback.

Side by side in one run, each pair measured the same way:

* **tsctp -> tsctp**: usrsctp's own benchmark, sender and receiver, Nagle off (``-D``). The
  anchor: the same protocol, in C, on the same loopback.
* **ours -> tsctp**: a :class:`UserlandHost` in this process sending to a tsctp receiver.
* **tsctp -> ours**: a tsctp sender to our host in a child process (``--sink``).
* **ours -> ours**: this process sending to our host in a child process.

One-way rows: the sender sends for ``--seconds``, then shuts the association down; the
*receiver* counts messages and the time from the first to the end of the association (tsctp
prints that itself), which gives messages/s and MB/s (10^6 bytes). CPU per message is the CPU
time (user + system) both processes spent, over the messages received. Round trips (100
bytes, one at a time, median): ours against usrsctp's echo_server and against our host in
echo mode; the anchor is usrsctp's ``client`` against echo_server, timed through the client's
stdin and stdout (two pipe hops more than the others carry).

Run: ``.venv/bin/python bench/bench_sctp.py [--runs 3] [--seconds 2]``. A script, not a
test: it prints a table of medians over the runs; nothing is timed against a limit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interop.preflight import usrsctp_program  # noqa: E402
from rserpool.transport import (  # noqa: E402
    CommLost,
    SctpMessage,
    ShutdownComplete,
)
from rserpool.transport.userland import UserlandHost  # noqa: E402
from tests.usrsctp.programs import free_udp_port, is_listening  # noqa: E402

LO = "127.0.0.1"
TSCTP_PORT, ECHO_PORT, SINK_PORT = 5001, 7, 5002
SMALL, LARGE = 100, 65536
TAIL = 1 << 20  # bytes of a usrsctp program's output searched for its summary
ECHO_PPID = 7  # the sink echoes messages with this PPID, counts the others


@dataclass
class OneWay:
    messages: int
    seconds: float
    cpu: float  # both processes, seconds
    size: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def mbps(self) -> float:
        return self.rate * self.size / 1e6

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.messages * 1e6


@dataclass
class Row:
    name: str
    small: list[OneWay] = field(default_factory=list)
    large: list[OneWay] = field(default_factory=list)
    rtt_ms: list[float] = field(default_factory=list)


# ------------------------------------------------------------------ processes


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reap(process: subprocess.Popen[str]) -> float:
    """Wait for ``process``; its CPU seconds (from wait4's rusage)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def usrsctp(name: str, *args: object, pipe: bool = False) -> subprocess.Popen[str]:
    """Start usrsctp's ``name``. Its output goes to a file unless ``pipe``: tsctp and
    discard_server print usrsctp's debug trace, several lines per packet, and a pipe nobody
    drains at that moment would stop them."""
    path = usrsctp_program(name)
    if path is None:
        sys.exit(f"bench_sctp: usrsctp's {name} is missing (install libusrsctp-examples)")
    argv = ["stdbuf", "-oL", str(path), *map(str, args)]
    # The file lives as long as the process holds it open.
    out = subprocess.PIPE if pipe else tempfile.TemporaryFile("w+")  # noqa: SIM115
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True
    )


def wait_listening(process: subprocess.Popen[str], udp_port: int) -> None:
    deadline = time.monotonic() + 10
    while not is_listening(process.pid, udp_port):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"bench_sctp: {process.args!r} did not start listening")
        time.sleep(0.005)


def lines_until(process: subprocess.Popen[str], done: Callable[[str], bool]) -> str:
    """Read the process's output (a pipe) until ``done(line)``."""
    assert process.stdout is not None
    for line in process.stdout:
        if done(line):
            return line
    sys.exit(f"bench_sctp: {process.args!r} ended without the expected line")


def file_until(process: subprocess.Popen[str], done: Callable[[str], bool]) -> str:
    """Poll the end of the output file of a process started without ``pipe`` until a line
    satisfies ``done`` (the debug trace before it is never read)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(f"/proc/{process.pid}/fd/1", "rb") as out:
            out.seek(max(0, out.seek(0, os.SEEK_END) - TAIL))
            for line in out.read().decode(errors="replace").splitlines():
                if done(line):
                    return line
        time.sleep(0.1)
    sys.exit(f"bench_sctp: {process.args!r} did not print the expected line")


def tsctp_receiver() -> tuple[subprocess.Popen[str], int]:
    udp = free_udp_port()
    receiver = usrsctp("tsctp", "-E", udp, "-p", TSCTP_PORT, "-L", LO)
    wait_listening(receiver, udp)
    return receiver, udp


def tsctp_summary(receiver: subprocess.Popen[str], size: int, cpu: float) -> OneWay:
    """tsctp's receiver line: length, messages, reads, bytes, seconds, bytes/s, notes."""
    line = file_until(receiver, lambda x: x.startswith(f"{size}, "))
    fields = line.split(", ")
    cpu += cpu_of(receiver.pid)
    receiver.kill()
    reap(receiver)
    return OneWay(int(fields[1]), float(fields[4]), cpu, size)


def tsctp_to_tsctp(size: int, seconds: float) -> OneWay:
    receiver, udp = tsctp_receiver()
    sender = usrsctp(
        "tsctp", "-E", free_udp_port(), "-U", udp, "-p", TSCTP_PORT, "-L", LO,
        "-D", "-l", size, "-T", max(1, round(seconds)), LO,
    )  # fmt: skip
    result = tsctp_summary(receiver, size, 0.0)
    sender.kill()  # usrsctp_finish() sleeps in whole seconds before it lets go
    result.cpu += reap(sender)
    return result


def start_sink() -> tuple[subprocess.Popen[str], int]:
    """Our host in a child process (``--sink``); returns it and its UDP port."""
    sink = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
    line = lines_until(sink, lambda x: x.startswith("listening"))
    return sink, int(line.split()[1])


def sink_summary(sink: subprocess.Popen[str], size: int, cpu: float) -> OneWay:
    line = lines_until(sink, lambda x: x.startswith("{"))
    report = json.loads(line)
    reap(sink)
    return OneWay(report["messages"], report["seconds"], cpu + report["cpu"], size)


def tsctp_to_ours(size: int, seconds: float) -> OneWay:
    sink, udp = start_sink()
    sender = usrsctp(
        "tsctp", "-E", free_udp_port(), "-U", udp, "-p", SINK_PORT, "-L", LO,
        "-D", "-l", size, "-T", max(1, round(seconds)), LO,
    )  # fmt: skip
    result = sink_summary(sink, size, 0.0)
    sender.kill()
    result.cpu += reap(sender)
    return result


# ------------------------------------------------------------------ our side


async def send_for(host: UserlandHost, port: int, size: int, seconds: float) -> float:
    """Connect, send ``size``-byte messages for ``seconds``, shut down; our CPU seconds."""
    cpu = time.process_time()
    assoc = await host.sctp_connect([(LO, port)])
    data = b"b" * size
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(32):
            await assoc.send(data, 0)
    await assoc.shutdown()
    while not isinstance(await assoc.receive(), ShutdownComplete | CommLost):
        pass
    return time.process_time() - cpu


def ours_to_tsctp(size: int, seconds: float) -> OneWay:
    receiver, udp = tsctp_receiver()
    host = UserlandHost([LO], udp_port=0, peer_udp_port=udp)
    cpu = trio.run(send_for, host, TSCTP_PORT, size, seconds)
    host.close()
    return tsctp_summary(receiver, size, cpu)


def ours_to_ours(size: int, seconds: float) -> OneWay:
    sink, udp = start_sink()
    host = UserlandHost([LO], udp_port=0, peer_udp_port=udp)
    cpu = trio.run(send_for, host, SINK_PORT, size, seconds)
    host.close()
    return sink_summary(sink, size, cpu)


async def round_trips(host: UserlandHost, port: int, count: int) -> list[float]:
    assoc = await host.sctp_connect([(LO, port)])
    data, times = bytes(SMALL), []
    for i in range(count + 50):
        start = time.perf_counter()
        await assoc.send(data, ECHO_PPID)
        while not isinstance(await assoc.receive(), SctpMessage):
            pass
        if i >= 50:  # the first ones warm up caches and the congestion window
            times.append(time.perf_counter() - start)
    await assoc.abort()
    return times


def rtt_ours(against: str, count: int) -> float:
    if against == "usrsctp":
        udp = free_udp_port()
        peer = usrsctp("echo_server", udp)
        wait_listening(peer, udp)
        port = ECHO_PORT
    else:
        peer, udp = start_sink()
        port = SINK_PORT
    host = UserlandHost([LO], udp_port=0, peer_udp_port=udp)
    times = trio.run(round_trips, host, port, count)
    host.close()
    peer.kill()
    reap(peer)
    return statistics.median(times) * 1000


def rtt_usrsctp(count: int) -> float:
    """usrsctp's client against echo_server, one stdin line at a time."""
    udp = free_udp_port()
    server = usrsctp("echo_server", udp)
    wait_listening(server, udp)
    client = usrsctp("client", LO, ECHO_PORT, 0, free_udp_port(), udp, pipe=True)
    assert client.stdin is not None
    lines_until(client, lambda x: "SCTP_COMM_UP" in x)
    times = []
    for i in range(count + 50):
        start = time.perf_counter()
        client.stdin.write(f"ping {i:05d}\n")
        client.stdin.flush()
        lines_until(client, lambda x, i=i: x == f"ping {i:05d}\n")  # type: ignore[misc]
        if i >= 50:
            times.append(time.perf_counter() - start)
    for process in (client, server):
        process.kill()
        reap(process)
    return statistics.median(times) * 1000


# ------------------------------------------------------------------ the sink


async def sink() -> None:
    """Child process: accept one association on SINK_PORT; echo ECHO_PPID messages, count
    the others; at its end print a JSON line with messages, seconds (first to end), CPU."""
    host = UserlandHost([LO], udp_port=0, peer_udp_port=9899)
    listener = await host.sctp_listen(SINK_PORT)
    print(f"listening {host.udp_port}", flush=True)
    assoc = await listener.accept()
    count, first = 0, 0.0
    while True:
        item = await assoc.receive()
        if isinstance(item, SctpMessage):
            if item.ppid == ECHO_PPID:
                await assoc.send(item.data, item.ppid, item.stream)
                continue
            if count == 0:
                first = time.monotonic()
            count += 1
        elif isinstance(item, ShutdownComplete | CommLost):
            break
    seconds = time.monotonic() - first if count else 0.0
    print(json.dumps({"messages": count, "seconds": seconds, "cpu": time.process_time()}))
    host.close()


# ------------------------------------------------------------------ the table


PAIRS: dict[str, Callable[[int, float], OneWay]] = {
    "tsctp -> tsctp": tsctp_to_tsctp,
    "ours -> tsctp": ours_to_tsctp,
    "tsctp -> ours": tsctp_to_ours,
    "ours -> ours": ours_to_ours,
}
RTT: dict[str, Callable[[int], float]] = {
    "tsctp -> tsctp": rtt_usrsctp,  # client <-> echo_server
    "ours -> tsctp": lambda n: rtt_ours("usrsctp", n),  # ours <-> echo_server
    "ours -> ours": lambda n: rtt_ours("ours", n),
}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(rows: list[Row]) -> None:
    anchor = median([r.rate for r in rows[0].small])
    print()
    print(
        f"{'pair':<16}{'100 B msg/s':>12}{'MB/s':>7}{'64 KiB msg/s':>13}{'MB/s':>8}"
        f"{'RTT ms':>8}{'CPU us/msg':>11}{'x tsctp':>9}"
    )
    for row in rows:
        small = median([r.rate for r in row.small])
        print(
            f"{row.name:<16}{small:>12.0f}{median([r.mbps for r in row.small]):>7.1f}"
            f"{median([r.rate for r in row.large]):>13.0f}"
            f"{median([r.mbps for r in row.large]):>8.1f}"
            f"{f'{median(row.rtt_ms):.3f}' if row.rtt_ms else '-':>8}"
            f"{median([r.cpu_us for r in row.small]):>11.1f}{small / anchor:>9.2f}"
        )
    print(
        "\nmedians; msg/s and MB/s at the receiver; CPU: both processes, 100-byte messages;"
        "\nRTT: 100 bytes; the tsctp row's RTT is usrsctp's client <-> echo_server via pipes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        trio.run(sink)
        return
    rows = [Row(name) for name in PAIRS]
    for run in range(args.runs):
        for row in rows:
            for size, results in ((SMALL, row.small), (LARGE, row.large)):
                result = PAIRS[row.name](size, args.seconds)
                results.append(result)
                print(
                    f"run {run + 1} {row.name:<16} {size:>6} B: {result.rate:9.0f} msg/s "
                    f"{result.mbps:7.1f} MB/s  {result.cpu_us:7.1f} us CPU/msg",
                    flush=True,
                )
            if row.name in RTT:
                row.rtt_ms.append(RTT[row.name](args.round_trips))
                print(f"run {run + 1} {row.name:<16} RTT {row.rtt_ms[-1]:.3f} ms", flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
