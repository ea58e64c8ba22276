"""``rserpool monitor`` as a program: real CSP datagrams sent over UDP to a monitor subprocess,
its JSON lines and plain-text snapshots read back; usage and run-time errors as one line."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from rserpool.cli import main
from rserpool.wire.csp import (
    ComponentAssociation,
    ComponentStatusReport,
    component_id,
    encode_report,
)

ROOT = Path(__file__).resolve().parents[2]
PROG = "rserpool monitor"
PR = component_id(1, 0x2A)
PE1, PE2 = component_id(2, 0x2001), component_id(2, 0x2002)
WAIT = 15.0  # seconds a line may take on a busy machine


def report(cid: int, interval_ms: int, status: str = "", final: bool = False) -> bytes:
    return encode_report(
        ComponentStatusReport(
            cid,
            sender_timestamp_us=61_000_000,
            report_interval_us=interval_ms * 1000,
            location=f"host-{cid & 0xFFFF:x}: 198.51.100.1",
            status=status,
            workload=0.25,
            associations=(ComponentAssociation(PR, 2_000_000, ppid=11),),
            final=final,
        )
    )


class Monitor:
    """``rserpool monitor ARGS --local 127.0.0.1:0`` with its output read line by line."""

    def __init__(self, *args: str, local: str = "--local=127.0.0.1:0") -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rserpool", "monitor", local, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.everything: list[str] = []
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self.pumps:
            pump.start()
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = 0

    def _pump(self, stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            self.everything.append(line)
            lines.put(line.rstrip())

    def listening(self, lines: queue.Queue[str]) -> str:
        """The header line, with the port the kernel chose."""
        header = lines.get(timeout=WAIT)
        assert header.startswith(f"{PROG}: listening for CSP reports on 127.0.0.1:"), header
        self.port = int(header.split("127.0.0.1:")[1].split()[0])
        return header

    def send(self, data: bytes) -> None:
        self.sender.sendto(data, ("127.0.0.1", self.port))

    def until(self, lines: queue.Queue[str], check: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if check(line):
                return line

    def stop(self) -> int:
        """SIGTERM, as an operator ends it; its exit status once all its output is read."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=WAIT)
        self.close()
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pump in self.pumps:
            pump.join(timeout=WAIT)
        for stream in (self.process.stdout, self.process.stderr, self.sender):
            if stream is not None:
                stream.close()


@pytest.fixture
def monitors() -> Iterator[Callable[..., Monitor]]:
    started: list[Monitor] = []

    def start(*args: str, **kwargs: Any) -> Monitor:
        started.append(Monitor(*args, **kwargs))
        return started[-1]

    yield start
    for monitor in started:
        monitor.close()


def event(monitor: Monitor, kind: str) -> dict[str, Any]:
    line = monitor.until(monitor.out, lambda line: json.loads(line)["event"] == kind)
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_json_report_purge_final_undecodable(monitors: Callable[..., Monitor]) -> None:
    monitor = monitors("--json")
    monitor.listening(monitor.err)
    monitor.send(report(PE1, 250, "EchoPool"))
    sent = time.monotonic()
    first = event(monitor, "report")
    assert first["component"]["name"] == "PE $00002001"
    assert first["component"]["status"] == "EchoPool"
    assert first["component"]["report_interval"] == 0.25
    assert first["component"]["associations"][0]["peer_name"] == "PR $0000002a"
    assert abs(first["time"] - time.time()) < WAIT
    monitor.send(report(PE2, 1000, "EchoPool"))
    assert event(monitor, "report")["component"]["name"] == "PE $00002002"
    monitor.send(b"\x01\x00 no report")
    undecodable = event(monitor, "undecodable")
    assert undecodable["undecodable"] == 1 and "shorter than its header" in undecodable["error"]
    # PE1 reported every 250 ms and fell silent: purged after 10 intervals, 2.5 s.
    purged = event(monitor, "purged")
    waited = time.monotonic() - sent
    assert purged["component"]["name"] == "PE $00002001"
    assert 2.5 <= waited < 2.5 + WAIT, waited
    assert purged["component"]["last_heard"] >= 2.5
    # PE2 says goodbye: removed at once, as its last regular report described it.
    monitor.send(report(PE2, 1000, "", final=True))
    removed = event(monitor, "removed")
    assert removed["component"]["name"] == "PE $00002002"
    assert removed["component"]["final"] is True
    assert removed["component"]["status"] == "EchoPool"
    assert monitor.stop() == 0
    for line in monitor.everything:  # stdout and stderr together: JSON or the two told lines
        assert line.startswith(("{", PROG, "signal SIGTERM")), line


def test_plain_snapshots_with_full(monitors: Callable[..., Monitor]) -> None:
    monitor = monitors("--full", "--update-interval=200")
    monitor.listening(monitor.out)
    monitor.send(report(PR, 1000, "1[1] PEs in 1 Pool, 0 Peers"))
    monitor.send(report(PE1, 1000, "EchoPool"))
    row = monitor.until(monitor.out, lambda line: line.startswith("PE $00002001"))
    assert "host-2001: 198.51.100.1" in row and "00:01:01" in row and "25%" in row
    assert "EchoPool" in row
    association = monitor.out.get(timeout=WAIT).split()
    assert association == ["->", "PR", "$0000002a", "ASAP/SCTP", "0:00:02"]
    footer = monitor.until(monitor.out, lambda line: "undecodable" in line)
    assert footer == "1 registrar, 1 pool element, 0 pool users; 0 undecodable datagrams"
    assert monitor.stop() == 0
    assert not any("\x1b" in line for line in monitor.everything)


def test_cspmonitor_spellings(monitors: Callable[..., Monitor]) -> None:
    """RSPLIB's options: -purgeinterval=1000 purges a 1 s reporter after 1 s (not 10 s),
    -maxpe=1 hides the second PE, -compact (after -full) leaves the associations out."""
    monitor = monitors(
        "-full", "-compact", "-updateinterval=200", "-purgeinterval=1000", "-maxpe=1",
        local="-localaddress=127.0.0.1:0",
    )  # fmt: skip
    monitor.listening(monitor.out)
    monitor.send(report(PE1, 1000))
    monitor.send(report(PE2, 1000))
    sent = time.monotonic()
    monitor.until(monitor.out, lambda line: line == "(1 further PEs hidden)")
    monitor.until(monitor.out, lambda line: line == "no component has reported yet")
    assert 1.0 <= time.monotonic() - sent < 1.0 + WAIT
    assert monitor.stop() == 0
    assert not any("->" in line for line in monitor.everything)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``common.run`` installs its own handler on the root logger; put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str], status: int) -> str:
    try:
        result = main(["monitor", *argv])
    except SystemExit as exc:
        result = exc.code  # type: ignore[assignment]
    assert result == status
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured
    assert captured.err.startswith(f"{PROG}: error: ")
    return captured.err[len(f"{PROG}: error: ") :].rstrip("\n")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--update-interval", "50"], "argument --update-interval: must be at least 100, not 50"),
        (["-updateinterval=50"], "argument -updateinterval: must be at least 100, not 50"),
        (["--purge-interval", "soon"], "argument --purge-interval: not a number: 'soon'"),
        (["-purgeinterval=999"], "argument -purgeinterval: must be at least 1000, not 999"),
        (["--max-pe", "-1"], "argument --max-pe: must be at least 0, not -1"),
        (["-maxlocationsize=2"], "argument -maxlocationsize: must be at least 3, not 2"),
        (["--local", "239.0.0.1"],
         "argument --local: '239.0.0.1': the monitor listens on a unicast address"),
        (["-localaddress=127.0.0.1:70000"],
         "argument -localaddress: bad port '70000' in '127.0.0.1:70000' (a port is 0-65535)"),
        (["--local", "monitor.example"],
         "argument --local: not an IP address: 'monitor.example'"),
        (["--web", "8080"], "argument --web: give HOST:PORT, not '8080'"),
        (["--registrar", "198.51.100.1"],
         "argument --registrar: needs --web (the web page shows the handlespace)"),
        (["--web", "127.0.0.1:0", "--udp-port", "9899"],
         "argument --udp-port: only with --registrar (the handlespace reads)"),
        (["--transport", "sctp"],
         "argument --transport: invalid choice: 'sctp' (choose from 'auto', 'kernel', 'udp')"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert one_line(capsys, argv, 2) == f"{line} (see {PROG} --help)"


def test_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["monitor", "-bogus"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "rserpool: error: unrecognized arguments: -bogus (see rserpool --help)\n"
    )


def test_address_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        line = one_line(capsys, ["--local", f"127.0.0.1:{port}"], 1)
    assert line == f"cannot listen on 127.0.0.1:{port}: address in use"


def test_web_without_its_module(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rserpool.monitor.web", None)  # import fails
    line = one_line(capsys, ["--web", "127.0.0.1:8080"], 1)
    assert line == "--web: this installation has no web page (rserpool.monitor.web)"
