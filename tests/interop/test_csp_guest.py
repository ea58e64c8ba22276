"""Component Status Protocol on kernel SCTP, against RSPLIB 3.4.4.

Two namespaces joined by three links: ``pr`` holds the registrars (ours and
``rspregistrar``, on addresses of their own) and the monitors, ``cl`` the PEs and PUs:

* our registrar, an echo-less ``--pingpong`` PE and a ``pingpong`` PU report to RSPLIB's
  ``cspmonitor``, which lists them with their ids, status texts and associations (the PU's
  association names the PE it talks to); stopping the PU cleanly sends its FINAL report and
  the monitor drops it;
* ``rspregistrar`` (a static peer of ours) and ``rspserver`` report to a UDP socket of this
  test: every datagram they send decodes with our codec and re-encodes byte for byte (the
  Length field is the datagram's size), and the FINAL report of ``rspserver``'s clean stop is
  among them.
  The reports are written to the artifacts in tests/wire/golden's format
  (``rsplib-*.hex``); tests/wire/golden/csp holds those of one run.
"""

from __future__ import annotations

import datetime
import re
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from interop import rsplib
from interop.cspmonitor import Screen, screens
from interop.processes import Process, rserpool
from interop.topology import Topology
from rserpool.wire.csp import (
    ComponentStatusReport,
    decode_report_untrusted,
    encode_report,
    group_of,
    object_of,
)

pytestmark = pytest.mark.rsplib

SLOW = 150  # s: Python startup under TCG
KERNEL = "--transport=kernel"
CSP = "--csp-interval=300"


def wait_screen(
    monitor: Process, check: Callable[[Screen], bool], timeout: float, after: int = 0
) -> Screen:
    """The first screen drawn after offset ``after`` of the log that passes ``check``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [s for s in screens(monitor.output()[after:]) if check(s)]
        if found:
            return found[-1]
        if time.monotonic() > deadline or not monitor.running:
            tail = monitor.output()[-3000:]
            raise AssertionError(f"cspmonitor never showed what was wanted; last output:\n{tail}")
        time.sleep(0.25)


def collect(
    sock: socket.socket,
    received: list[bytes],
    until: Callable[[list[bytes]], bool],
    timeout: float,
) -> None:
    """Receive datagrams from ``sock`` into ``received`` until ``until(received)``."""
    deadline = time.monotonic() + timeout
    while not until(received):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"RSPLIB's reports: {[decode(r) for r in received]}")
        sock.settimeout(left)
        try:
            received.append(sock.recv(65536))
        except TimeoutError:
            continue


def decode(data: bytes) -> ComponentStatusReport:
    return decode_report_untrusted(data)


def golden_text(data: bytes, what: str) -> str:
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "rsplib-registrar"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    day = datetime.date.today().isoformat()
    lines = [
        f"# CSP report: {what}, sent by RSPLIB {version or '3.4.4'}, captured {day}",
        "# by tests/interop/test_csp_guest.py in the test guest (a UDP socket of the test)",
    ]
    lines += [data[i : i + 16].hex(" ") for i in range(0, len(data), 16)]
    return "\n".join(lines) + "\n"


def test_cspmonitor_lists_ours_and_rsplib_reports_decode(
    topology: Topology, artifacts: Path
) -> None:
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    links = [topology.link(pr, cl) for _ in range(3)]
    ours_pr, theirs_pr, monitor_at = (link.a.address for link in links)
    ours_pe, ours_pu, _theirs_pe = (link.b.address for link in links)
    with pr.entered():
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind((monitor_at, 2961))
    received: list[bytes] = []
    monitor = Process(
        pr,
        ["stdbuf", "-oL", "cspmonitor", f"-localaddress={monitor_at}:2960", "-full",
         "-updateinterval=250"],
        artifacts / "pr-cspmonitor.log",
    )  # fmt: skip
    to_monitor = f"--csp-server={monitor_at}"
    registrar = rserpool(pr, artifacts, "registrar", "registrar", KERNEL, "--identifier=0x71",
                         f"--asap={ours_pr}:3863", f"--enrp={ours_pr}:9901",
                         f"--peer={theirs_pr}:9901", "--asap-announce=off",
                         "--enrp-announce=off", to_monitor, CSP)  # fmt: skip
    their_csp = [f"-cspserver={monitor_at}:2961", "-cspinterval=300", "-asapannounce=off"]
    theirs = rsplib.registrar(pr, artifacts, [theirs_pr], identifier=0x72,
                              peers=[f"{ours_pr}:9901"],
                              extra=[*their_csp, "-enrpannounce=off"])  # fmt: skip
    rspserver = rsplib.server(cl, artifacts, f"{theirs_pr}:3863", identifier=0x7201,
                              extra=their_csp)  # fmt: skip
    server = rserpool(cl, artifacts, "server", "server", KERNEL, "--pingpong",
                      f"--registrar={ours_pr}:3863", f"--local={ours_pe}",
                      "--identifier=0x7101", "--asap-announce=off", to_monitor, CSP)  # fmt: skip
    pingpong = rserpool(cl, artifacts, "pingpong", "pingpong", KERNEL, "--interval=200",
                        f"--registrar={ours_pr}:3863", f"--local={ours_pu}",
                        "--asap-announce=off", f"-cspserver={monitor_at}",
                        "-cspinterval=300")  # fmt: skip

    # RSPLIB's reports: the registrar's (its static peer is an association from the start),
    # rspserver's with its registrar, then rspserver's FINAL on SIGTERM
    def pe_reported(got: list[bytes]) -> bool:
        return any(group_of(decode(d).sender_id) == 2 and decode(d).associations for d in got)

    every = artifacts / "rsplib-reports.txt"  # each datagram in hex, kept whatever happens
    collect(sink, received, pe_reported, SLOW)
    every.write_text("".join(f"{raw.hex()}\n" for raw in received))
    rspserver.stop()
    collect(sink, received, lambda got: any(decode(d).final for d in got), 30)
    every.write_text("".join(f"{raw.hex()}\n" for raw in received))
    reports = [(raw, decode(raw)) for raw in received]
    sink.close()
    for raw, report in reports:
        assert encode_report(report) == raw
        assert struct.unpack_from("!H", raw, 2)[0] == len(raw)  # RSPLIB 3.4.4's Length
    their_pr = next(r for raw, r in reports if object_of(r.sender_id) == 0x72 and r.associations)
    assert group_of(their_pr.sender_id) == 1 and their_pr.workload is None
    assert their_pr.associations[0].ppid == 12 and their_pr.associations[0].duration_us is None
    assert f": {theirs_pr}:3863" in their_pr.location
    assert their_pr.status.endswith(", 1 Peer"), their_pr.status
    their_pe = next(r for raw, r in reports if group_of(r.sender_id) == 2 and r.associations)
    assert their_pe.status == "0 Sessions" and [a.ppid for a in their_pe.associations] == [11]
    final = next(r for raw, r in reports if r.final)
    assert (final.status, final.location, final.workload, final.associations) == ("", "", 0.0, ())
    firsts = {
        "rspregistrar": next(raw for raw, r in reports if r is their_pr),
        "rspserver": next(raw for raw, r in reports if r is their_pe),
        "rspserver-final": next(raw for raw, r in reports if r is final),
    }
    for name, raw in firsts.items():
        (artifacts / f"rsplib-{name}.hex").write_text(golden_text(raw, name))

    # our three, as cspmonitor shows them
    def ours_all_up(screen: Screen) -> bool:
        pr, pe, pus = screen.of("PR $00000071"), screen.of("PE $00007101"), screen.of("PU $")
        return (
            bool(pr and pe and pus)
            and re.match(r"^\d+\[1\] PEs in \d+ Pools?, 1 Peer$", pr[0].status) is not None
            and pe[0].status == "1 Session"
            and ("PE $00007101", "PingPong/SCTP") in pus[0].peers
        )

    screen = wait_screen(monitor, ours_all_up, SLOW)
    (pr_line,), (pe_line,), (pu_line,) = (
        screen.of("PR $00000071"),
        screen.of("PE $00007101"),
        screen.of("PU $"),
    )
    assert pr_line.associations == 1 and pr_line.peers == [("PR $00000072", "ENRP/SCTP")]
    assert pr_line.location.endswith(f": {ours_pr}:3863")
    assert pe_line.associations == 1 and pe_line.peers[0][1] == "ASAP/SCTP"
    assert f": {ours_pe}:" in pe_line.location
    assert pu_line.status == "1 Session" and pu_line.associations == 2
    assert f": {ours_pu}:" in pu_line.location
    assert server.running and registrar.running and theirs.running

    mark = len(monitor.output())
    pingpong.stop()  # SIGTERM: a clean end, so a FINAL report
    wait_screen(monitor, lambda s: s.pus == 0 and s.pes == 1, 60, after=mark)
    mark = len(monitor.output())
    server.stop()
    wait_screen(monitor, lambda s: s.pes == 0 and s.prs == 1, 60, after=mark)
    registrar.stop()
    theirs.stop()
    monitor.stop()
