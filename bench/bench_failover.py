"""Failover time of a PingPong pool user whose PE is killed: our PEs behind our registrar next
to RSPLIB's behind rspregistrar (and the two mixes), all with RSPLIB's ``pingpongclient``; and
our ``rserpool pingpong`` client next to ``pingpongclient`` on RSPLIB's PEs and registrar.

The last two rows compare the transports: our client, PEs and registrar on kernel SCTP, then
all of them on our SCTP over UDP (``--transport udp``: each on its own address, UDP port
9899). Over UDP nothing in the killed PE's kernel answers; the next packet to it meets an ICMP
port unreachable, which ends the association (RFC 6951 §5.5) as the kernel's ABORT does.

Hosts (network namespaces, the harness's tuned SCTP profile): ``pu`` runs the registrar and the
client, ``pe1`` and ``pe2`` each run a PingPong PE (``rspserver -pingpong`` or ``rserpool server
--pingpong``) with one veth link to ``pu`` (every address a PE registers is reachable). Both
registrars run with announces off and their default timers; PEs find them by ``-registrar``.

A setup (client, PEs, registrar) is started, then per failover: a client with a Ping every
INTERVAL ms runs until its 5th Ack; the PE that sent it is killed (SIGKILL: its kernel ABORTs
the session and its registration association); the time runs until the first Ack from the
other PE. The figure is the time from the killed PE's last Ack to the new PE's first (as the
client printed them, each line time-stamped when read); "from the kill" is also shown. The
killed PE is started again for the next failover. Setups alternate in order between passes.

``--capture`` also records each failover with tshark in ``pu`` and prints its timeline (the
ABORT, the client's Endpoint Unreachable and Handle Resolution, the PE the registrar named, the
new association and the first reply): where the time goes.

Messages/s: ``rserpool pingpong --interval 0`` (one Ping outstanding at a time).

Program logs go to a directory in the guest's memory while they run (``RSERPOOL_BENCH_LOGS``) and
are copied to build/bench/ at the end: a line written to the shared directory costs a round
trip to the host, and our PE and registrar write one during a failover at ``--log-level info``.

Run: ``.venv/bin/python bench/bench_failover.py --guest`` (boots the test guest) or, where the
kernel has SCTP and we are root, without ``--guest``. Prints; nothing is timed against a limit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interop import rsplib  # noqa: E402
from interop.processes import Process  # noqa: E402
from interop.topology import Host, Topology  # noqa: E402

INTERVAL = 100  # ms between Pings
ACK = re.compile(r"Ack #(?P<n>\d+) from PE \$(?P<pe>[0-9a-fA-F]{8})")
SLOW = 180  # s: Python startup and registrar hunts under TCG
OUT = Path(os.environ.get("RSERPOOL_BENCH_OUT", REPO / "build" / "bench"))
# Program logs and captures are written here while the programs run: in the guest a directory
# of its RAM overlay, copied to OUT at the end. Logging to OUT itself (the shared directory,
# 9p) costs each written line a round trip to the host: tens of ms under load, in the middle
# of a failover (a PE tells its new session, a registrar the PE it removed).
LOGS = Path(os.environ.get("RSERPOOL_BENCH_LOGS", OUT))


class StampedClient:
    """A client program whose output lines are time-stamped as they are read (and logged)."""

    def __init__(self, host: Host, argv: Sequence[str], log: Path) -> None:
        self.lines: list[tuple[float, str]] = []
        self.log = log.open("w")
        self.popen = subprocess.Popen(
            host.exec_argv(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            now = time.monotonic()
            self.lines.append((now, line))
            self.log.write(f"{now:.4f} {line}")
            self.log.flush()

    def acks(self) -> list[tuple[float, int, int]]:
        """(when, Ack number, PE id) per Ack line so far."""
        found = []
        for when, line in list(self.lines):
            match = ACK.search(line)
            if match:
                found.append((when, int(match["n"]), int(match["pe"], 16)))
        return found

    def wait_acks(self, count: int, timeout: float) -> list[tuple[float, int, int]]:
        deadline = time.monotonic() + timeout
        while len(acks := self.acks()) < count:
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise RuntimeError(f"{count} Acks not seen; see {self.log.name}")
            time.sleep(0.01)
        return acks

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)
        self.log.close()


@dataclass
class Setup:
    name: str
    client: str  # "pingpongclient" or "rserpool"
    pes: str  # "ours" or "RSPLIB"
    registrar: str  # "ours" or "RSPLIB"
    transport: str = "kernel"  # "udp": ours all on our SCTP over UDP (--transport udp)
    from_last: list[float] = field(default_factory=list)  # ms
    from_kill: list[float] = field(default_factory=list)  # ms


SETUPS = [
    ("RSPLIB PEs + rspregistrar", "pingpongclient", "RSPLIB", "RSPLIB", "kernel"),
    ("our PEs + our registrar", "pingpongclient", "ours", "ours", "kernel"),
    ("our PEs + rspregistrar", "pingpongclient", "ours", "RSPLIB", "kernel"),
    ("RSPLIB PEs + our registrar", "pingpongclient", "RSPLIB", "ours", "kernel"),
    ("our client, RSPLIB PEs + reg.", "rserpool", "RSPLIB", "RSPLIB", "kernel"),
    ("all ours on kernel SCTP", "rserpool", "ours", "ours", "kernel"),
    ("all ours over UDP", "rserpool", "ours", "ours", "udp"),
]


class Bench:
    def __init__(self, topology: Topology, args: argparse.Namespace) -> None:
        self.args = args
        self.pu = topology.add_host("pu")
        self.pe_hosts = [topology.add_host("pe1"), topology.add_host("pe2")]
        self.pe_link = {}
        for pe in self.pe_hosts:  # every PE address is reachable from the PU
            link = topology.link(self.pu, pe)
            self.pe_link[pe.name] = link
        self.reg_addresses = [self.pe_link[h.name].a.address for h in self.pe_hosts]
        self.at = f"{self.reg_addresses[0]}:{rsplib.ASAP_PORT}"
        self.runs = 0

    def registrar(self, kind: str, transport: str = "kernel") -> Process:
        if kind == "RSPLIB":
            extra = ["-asapannounce=off", "-enrpannounce=off"]
            return rsplib.registrar(self.pu, LOGS, self.reg_addresses, identifier=0x101,
                                    extra=extra, name=f"rspregistrar-{self.runs}")  # fmt: skip
        first, *rest = self.reg_addresses
        asap = ",".join([f"{first}:{rsplib.ASAP_PORT}", *rest])
        enrp = ",".join([f"{first}:{rsplib.ENRP_PORT}", *rest])
        argv = [sys.executable, "-u", "-m", "rserpool", "registrar", f"--asap={asap}",
                f"--enrp={enrp}", "--identifier=0x101", "--asap-announce=off",
                "--enrp-announce=off", f"--log-level={self.args.log_level}",
                f"--transport={transport}"]  # fmt: skip
        process = Process(self.pu, argv, LOGS / f"pu-registrar-{self.runs}.log", name="rserpool")
        process.wait_for(r"Registrar \$00000101 running", timeout=SLOW)
        return process

    def pe(self, kind: str, n: int, transport: str = "kernel") -> Process:
        host = self.pe_hosts[n - 1]
        at = f"{self.reg_addresses[n - 1]}:{rsplib.ASAP_PORT}"  # on its own link to pu
        pe_id = 0x2000 + n
        name = f"pe{n}-{kind}-{time.monotonic_ns()}"
        if kind == "RSPLIB":
            server = rsplib.server(
                host,
                LOGS,
                at,
                service="pingpong",
                pool_handle="PingPongPool",
                identifier=pe_id,
                name=name,
            )
            server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
            return server
        argv = [sys.executable, "-u", "-m", "rserpool", "server", "--pingpong",
                f"--registrar={at}", f"--identifier={pe_id:#x}", "--asap-announce=off",
                f"--log-level={self.args.log_level}", f"--transport={transport}"]  # fmt: skip
        server = Process(host, argv, LOGS / f"{name}.log", name=name)
        server.wait_for(rf"Registration: PE \${pe_id:08x}", timeout=SLOW)
        return server

    def client_argv(self, kind: str, transport: str = "kernel") -> list[str]:
        if kind == "rserpool":
            return [sys.executable, "-u", "-m", "rserpool", "pingpong", f"--registrar={self.at}",
                    f"--interval={INTERVAL}", f"--transport={transport}"]  # fmt: skip
        return ["stdbuf", "-oL", "pingpongclient", f"-registrar={self.at}",
                f"-interval={INTERVAL}"]  # fmt: skip

    def run_setup(self, setup: Setup, failovers: int) -> None:
        self.runs += 1
        registrar = self.registrar(setup.registrar, setup.transport)
        servers = {n: self.pe(setup.pes, n, setup.transport) for n in (1, 2)}
        try:
            for f in range(failovers):
                self.failover(setup, servers, f)
        finally:
            for server in servers.values():
                server.stop()
            registrar.stop()

    def failover(self, setup: Setup, servers: dict[int, Process], f: int) -> None:
        tag = f"{self.runs}-{f}-{setup.client}-{setup.pes}-{setup.registrar}"
        capture = None
        if self.args.capture:
            from interop.capture import Capture

            capture = Capture(self.pu, LOGS / f"failover-{tag}.pcapng").start()
        argv = self.client_argv(setup.client, setup.transport)
        client = StampedClient(self.pu, argv, LOGS / f"client-{tag}.log")
        try:
            acks = client.wait_acks(5, SLOW)
            last_at, _, victim_id = acks[-1]
            victim = victim_id - 0x2000
            killed = time.monotonic()
            servers[victim].kill()
            first_new = None
            deadline = killed + 30
            while time.monotonic() < deadline:
                new = [a for a in client.acks() if a[2] != victim_id and a[0] > killed]
                if new:
                    first_new = new[0][0]
                    break
                time.sleep(0.01)
            last_victim = max(a[0] for a in client.acks() if a[2] == victim_id)
        finally:
            if capture is not None:
                time.sleep(0.5)  # the new PE's reply reaches the capture file
            client.stop()
        if capture is not None:
            capture.process.stop()
        servers[victim] = self.pe(setup.pes, victim, setup.transport)
        if first_new is None:
            print(f"  {setup.name} #{f + 1}: no failover within 30 s", flush=True)
            return
        setup.from_last.append(1000 * (first_new - last_victim))
        setup.from_kill.append(1000 * (first_new - killed))
        print(f"  {setup.name} #{f + 1}: last Ack -> new PE's first {setup.from_last[-1]:.0f}"
              f" ms, kill -> first {setup.from_kill[-1]:.0f} ms (kill"
              f" {1000 * (killed - last_at):.0f} ms after the 5th Ack)", flush=True)  # fmt: skip
        if capture is not None:
            print(timeline(capture.path, self.pu), flush=True)


def timeline(path: Path, host: Host) -> str:
    """One line per SCTP packet of interest in the capture: ms since the first, and what."""
    fields = ["frame.time_relative", "ip.src", "sctp.srcport", "ip.dst", "sctp.dstport",
              "sctp.chunk_type", "sctp.data_payload_proto_id", "asap.message_type",
              "asap.pe_identifier"]  # fmt: skip
    argv = ["tshark", "-r", str(path), "-Y", "sctp", "-T", "fields", "-E", "separator=|"]
    for name in fields:
        argv += ["-e", name]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return "\n".join(f"    {line}" for line in out.splitlines()[-150:])


def run(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    import rserpool

    print(f"rserpool from {Path(rserpool.__file__).parent}", flush=True)
    setups = [Setup(*s) for s in SETUPS[: args.setups] if args.only in s[0]]
    with Topology() as topology:
        bench = Bench(topology, args)
        for number in range(args.passes):
            order = setups if number % 2 == 0 else setups[::-1]
            for setup in order:
                print(f"-- pass {number + 1}: {setup.name}", flush=True)
                bench.run_setup(setup, args.failovers)
        rate = None
        if args.count:
            registrar = bench.registrar("RSPLIB")
            server = bench.pe("RSPLIB", 1)
            fast = Process(bench.pu, [sys.executable, "-u", "-m", "rserpool", "pingpong",
                                      f"--registrar={bench.at}", "--interval=0",
                                      f"--count={args.count}"], LOGS / "rate.log")  # fmt: skip
            fast.wait_for(r"Ack #1 from", timeout=SLOW)
            first = time.monotonic()
            fast.wait_for(rf"Ack #{args.count} from", timeout=600)
            rate = (args.count - 1) / (time.monotonic() - first)
            fast.stop()
            server.stop()
            registrar.stop()

    if LOGS != OUT:
        for path in LOGS.iterdir():
            shutil.copy(path, OUT / path.name)
    print(f"\n== Failover, pingpong client with a Ping every {INTERVAL} ms: killed PE's last"
          " Ack -> the other PE's first Ack (ms; QEMU TCG guest; medians) ==")  # fmt: skip
    print(f"{'client':<15} {'setup':<30} {'median':>7} {'min':>6} {'max':>6} {'from kill':>10}"
          f" {'n':>3} {'vs RSPLIB':>10}")  # fmt: skip
    base = statistics.median(setups[0].from_last) if setups and setups[0].from_last else None
    for setup in setups:
        if not setup.from_last:
            print(f"{setup.client:<15} {setup.name:<30} no failover measured")
            continue
        median = statistics.median(setup.from_last)
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"{setup.client:<15} {setup.name:<30} {median:7.0f} {min(setup.from_last):6.0f}"
              f" {max(setup.from_last):6.0f} {statistics.median(setup.from_kill):10.0f}"
              f" {len(setup.from_last):3d} {ratio:>10}")  # fmt: skip
    if rate is not None:
        print(f"\nSession messages/s, rserpool pingpong --interval 0: {rate:.0f} round trips/s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guest", action="store_true", help="run inside the test guest")
    parser.add_argument("--passes", type=int, default=2, help="each setup this many times")
    parser.add_argument("--failovers", type=int, default=3, help="per setup and pass")
    parser.add_argument("--count", type=int, default=300, help="pings for messages/s (0: none)")
    parser.add_argument("--log-level", default="info", choices=["info", "warning"])
    parser.add_argument("--setups", type=int, default=len(SETUPS), help="the first N setups")
    parser.add_argument("--only", default="", metavar="TEXT", help="setups named with TEXT")
    parser.add_argument("--capture", action="store_true", help="tshark timeline per failover")
    args = parser.parse_args()
    if args.guest:
        from interop.capabilities import Capabilities

        if not Capabilities.probe().native:
            from interop.guest import Guest

            rwdir = REPO / "build" / "bench"
            passed = [a for a in sys.argv[1:] if a != "--guest"]
            command = " ".join([sys.executable, "bench/bench_failover.py", *passed])
            env = {"RSERPOOL_BENCH_OUT": str(rwdir), "RSERPOOL_BENCH_LOGS": "/tmp/bench-logs"}
            return Guest(rwdir).run(command, env).returncode
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
