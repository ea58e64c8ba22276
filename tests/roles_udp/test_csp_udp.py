"""``rserpool registrar|server|pingpong`` report to RSPLIB's real ``cspmonitor``, over
``--transport udp`` on loopback, real processes and real time.

The registrar has a loopback address of its own (127.0.62.1); the PEs take the first free
127.0.0.x, as ``--transport udp`` arranges without ``--local``. The monitor lists the three
roles with RSPLIB's status texts; the pool user's association names the PE that serves it and
follows it when that PE is killed (``kill -9``: no FINAL report, the monitor purges it after
ten silent intervals); a clean stop (SIGTERM) sends the FINAL report and the monitor drops the
component at once. Every way of asking for reports is used: our options, RSPLIB's spellings
and the environment.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from interop.cspmonitor import Screen, screens

REGISTRAR = "127.0.62.1"
INTERVAL = 300  # ms between two reports
TIMEOUT = 60.0


class Program:
    """A program of this test, its output in a file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._file = log.open("wb")
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._file, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no /{pattern}/ in {self.log}:\n{self.output()[-2000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._file.close()
        return self.popen.returncode


class Monitor(Program):
    def wait_screen(self, check: Callable[[Screen], bool], after: int = 0) -> Screen:
        """The latest screen, drawn after offset ``after`` of the output, that passes
        ``check``."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = [s for s in screens(self.output()[after:]) if check(s)]
            if found:
                return found[-1]
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"cspmonitor never showed it:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def mark(self) -> int:
        return len(self.output())


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def programs(tmp_path: Path) -> Iterator[list[Program]]:
    started: list[Program] = []
    yield started
    for program in started:
        program.stop(signal.SIGKILL)


def rserpool(programs: list[Program], tmp_path: Path, name: str, *args: str,
             env: dict[str, str] | None = None) -> Program:  # fmt: skip
    argv = [sys.executable, "-u", "-m", "rserpool", *args, "--transport", "udp"]
    program = Program(argv, tmp_path / f"{name}.log", env)
    programs.append(program)
    return program


def test_cspmonitor_lists_our_roles(programs: list[Program], tmp_path: Path) -> None:
    port = free_udp_port("127.0.0.1")
    monitor = Monitor(
        ["cspmonitor", f"-localaddress=127.0.0.1:{port}", "-full", "-updateinterval=100"],
        tmp_path / "cspmonitor.log",
    )
    programs.append(monitor)
    csp = [f"--csp-server=127.0.0.1:{port}", f"--csp-interval={INTERVAL}"]
    registrar = rserpool(programs, tmp_path, "registrar", "registrar", *csp, "--identifier=0x62",
                         f"--asap={REGISTRAR}:3863", f"--enrp={REGISTRAR}:9901",
                         "--min-address-scope=loopback", "--asap-announce=off",
                         "--enrp-announce=off",
                         "--endpoint-keep-alive-transmission-interval=1000")  # fmt: skip
    registrar.wait_for(r"CSP: a status report to 127\.0\.0\.1:\d+ every 300 ms")
    rsplib_csp = [f"-cspserver=127.0.0.1:{port}", f"-cspinterval={INTERVAL}"]
    pes = {
        pe_id: rserpool(
            programs,
            tmp_path,
            f"pe-{pe_id:x}",
            "server",
            "--pingpong",
            f"--registrar={REGISTRAR}:3863",
            f"--identifier={pe_id:#x}",
            *rsplib_csp,
        )
        for pe_id in (0x6201, 0x6202)
    }
    for pe_id, pe in pes.items():
        pe.wait_for(rf"Registration: PE \${pe_id:08x}")
    env = {"CSP_SERVER": f"127.0.0.1:{port}", "CSP_INTERVAL": str(INTERVAL)}
    pu = rserpool(programs, tmp_path, "pingpong", "pingpong", "--interval=100",
                  f"--registrar={REGISTRAR}:3863", env=env)  # fmt: skip

    def all_up(screen: Screen) -> bool:
        pus = screen.of("PU $")
        return (
            screen.prs == 1
            and screen.pes == 2
            and len(pus) == 1
            and pus[0].status == "1 Session"
            and any(peer.startswith("PE $") for peer, _ in pus[0].peers)
            # a PE learns its registrar's id from the first Endpoint Keep Alive
            and all(pe.peers == [("PR $00000062", "ASAP/SCTP")] for pe in screen.of("PE"))
            and screen.of("PR $00000062")[0].status == "2[2] PEs in 1 Pool, 0 Peers"
        )

    screen = monitor.wait_screen(all_up)
    (pr,) = screen.of("PR $00000062")
    assert (pr.associations, pr.peers, pr.load) == (0, [], None)
    assert pr.location == os.uname().nodename  # loopback addresses are not shown
    for pe_id in pes:
        (pe_line,) = screen.of(f"PE ${pe_id:08x}")
        assert pe_line.associations == 1 and pe_line.peers == [("PR $00000062", "ASAP/SCTP")]
    (pu_line,) = screen.of("PU $")
    assert re.fullmatch(r"PU \$[0-9a-f]{14}", pu_line.name)
    assert pu_line.associations == 2 and len(pu_line.peers) == 2
    assert ("PR $00000000", "ASAP/SCTP") in pu_line.peers  # a static registrar: id unknown
    (serving,) = [peer for peer, proto in pu_line.peers if proto == "PingPong/SCTP"]
    victim = int(serving.removeprefix("PE $"), 16)
    assert screen.of(serving)[0].status == "1 Session"

    # a terminal whose input ends at once: it lingers, ends cleanly, and its FINAL report
    # removes it from the monitor at once
    mark = monitor.mark()
    terminal = rserpool(programs, tmp_path, "terminal", "terminal", "--linger=1.5",
                        "--pool-handle=PingPongPool", f"--registrar={REGISTRAR}:3863",
                        *csp)  # fmt: skip
    monitor.wait_screen(lambda s: s.pus == 2, after=mark)
    assert terminal.popen.wait(timeout=TIMEOUT) == 0
    exited = time.monotonic()
    monitor.wait_screen(lambda s: s.pus == 1, after=monitor.mark())
    assert time.monotonic() - exited < 1.5  # silence would take 3 s

    # kill -9 the PE serving the PU: the PU's association follows the failover, the dead
    # PE is purged once silent for ten intervals
    pes[victim].stop(signal.SIGKILL)
    (survivor,) = set(pes) - {victim}
    mark = monitor.mark()
    screen = monitor.wait_screen(
        lambda s: (
            bool(s.of("PU $")) and (f"PE ${survivor:08x}", "PingPong/SCTP") in s.of("PU $")[0].peers
        ),
        after=mark,
    )
    monitor.wait_screen(lambda s: s.pes == 1 and bool(s.of(f"PE ${survivor:08x}")), after=mark)
    pu.wait_for(r"Ack #\d+ from PE \$" + f"{survivor:08x}")

    # clean stops: the FINAL report removes each at once
    for program, gone in ((pu, lambda s: s.pus == 0), (pes[survivor], lambda s: s.pes == 0)):
        mark = monitor.mark()
        program.stop()
        exited = time.monotonic()
        monitor.wait_screen(gone, after=mark)
        # silence would take 10 intervals (3 s) from the last report to purge it
        assert time.monotonic() - exited < 1.5
    mark = monitor.mark()
    registrar.stop()
    monitor.wait_screen(lambda s: s.prs == 0, after=mark)
    assert screens(monitor.output()[mark:])[-1].components == {}
