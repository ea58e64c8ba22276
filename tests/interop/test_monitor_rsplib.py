"""``rserpool monitor --json`` watching RSPLIB 3.4.4's own components, in the guest.

rspregistrar, rspserver -echo and rspterminal report by CSP every 300 ms (``-cspserver=
-cspinterval=300``); the monitor lists the registrar (PR, status "1[1] PEs in 1 Pool, 0
Peers"), the PE with its ASAP association to the registrar, and the PU with its session to
the PE. A PE stopped with SIGTERM is removed (RSPLIB's last report has the FINAL flag and
nothing else), a PU killed without a word is purged after 10 report intervals.

Hosts are network namespaces joined by a veth link (RSPLIB drops loopback addresses from its
transport parameters): the registrar and the monitor in ``pr``, the PE and PU in ``cl``; the
registrar reports to 127.0.0.1, the others across the link.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from interop import rsplib
from interop.processes import Process, rserpool
from interop.topology import Topology

pytestmark = pytest.mark.rsplib

SLOW = 120  # seconds: python startup and RSPLIB's registrar hunt under TCG
PR_ID, PE_ID = 0x2A, 0x2001
CSP_PORT = 2960


def events(monitor: Process) -> list[dict[str, Any]]:
    """The JSON lines the monitor printed so far."""
    lines = monitor.output().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]


def wait_event(monitor: Process, check: Any, what: str, timeout: float = SLOW) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(monitor) if check(e)]
        if found:
            return found[-1]
        if not monitor.running:
            break
        time.sleep(0.2)
    tail = monitor.output()[-3000:]
    raise AssertionError(f"monitor: no {what} within {timeout} s; output:\n{tail}")


def component(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = event.get("component", {})
    return result


def test_monitor_lists_rsplib_components(topology: Topology, artifacts: Path) -> None:
    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    monitor = rserpool(pr, artifacts, "rserpool-monitor", "monitor", "--json",
                       "--local", f"0.0.0.0:{CSP_PORT}")  # fmt: skip
    monitor.wait_for(rf"listening for CSP reports on 0\.0\.0\.0:{CSP_PORT}", timeout=SLOW)

    def csp(address: str) -> list[str]:
        return [f"-cspserver={address}:{CSP_PORT}", "-cspinterval=300"]

    registrar = rsplib.registrar(pr, artifacts, [link.a.address], identifier=PR_ID,
                                 extra=csp("127.0.0.1"))  # fmt: skip
    address = f"{link.a.address}:{rsplib.ASAP_PORT}"
    server = rsplib.server(cl, artifacts, address, identifier=PE_ID, extra=csp(link.a.address))
    server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    terminal = rsplib.terminal(cl, artifacts, address, extra=csp(link.a.address))
    terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)

    def registrar_with_pe(e: dict[str, Any]) -> bool:
        c = component(e)
        return c.get("name") == f"PR ${PR_ID:08x}" and c["status"].startswith("1[1] PEs")

    pr_report = component(wait_event(monitor, registrar_with_pe, "registrar report with 1 PE"))
    assert pr_report["role"] == "registrar"
    assert pr_report["status"] == "1[1] PEs in 1 Pool, 0 Peers"  # all PEs [its own PEs]
    assert pr_report["report_interval"] == pytest.approx(0.3)
    assert pr_report["source"].startswith("127.0.0.1:")
    assert pr_report["associations"] == []  # a registrar lists its ENRP peers: none

    pe_report = component(
        wait_event(monitor, lambda e: component(e).get("name") == f"PE ${PE_ID:08x}", "PE")
    )
    assert pe_report["role"] == "pool-element" and pe_report["final"] is False
    assert pe_report["source"].startswith(f"{link.b.address}:")
    # Its ASAP association with the registrar, "PR $00000000" until it learns the registrar's
    # identifier (from the registrar's first Endpoint Keep Alive, a few seconds later).
    assert [(a["peer_name"][:4], a["ppid"]) for a in pe_report["associations"]] == [("PR $", 11)]

    def pu_in_session(e: dict[str, Any]) -> bool:  # its first reports: "Looking for Registrar"
        c = component(e)
        return c.get("role") == "pool-user" and any(
            a["peer_name"] == f"PE ${PE_ID:08x}" for a in c["associations"]
        )

    pu_report = component(wait_event(monitor, pu_in_session, "PU report with its session"))
    assert pu_report["name"].startswith("PU $") and pu_report["status"] == "1 Session"
    assert (f"PE ${PE_ID:08x}", 0) in {  # its session with the PE: data, PPID 0
        (a["peer_name"], a["ppid"]) for a in pu_report["associations"]
    }

    server.stop()  # SIGTERM: rspserver deregisters and sends its FINAL report
    removed = wait_event(
        monitor,
        lambda e: (
            e["event"] in ("removed", "purged") and component(e)["name"] == f"PE ${PE_ID:08x}"
        ),
        "removal of the PE",
        timeout=60,
    )
    assert removed["event"] == "removed" and component(removed)["final"] is True
    # RSPLIB's FINAL report is empty: the monitor shows the PE as its last report described it.
    assert link.b.address in component(removed)["location"]
    reports = [component(e) for e in events(monitor) if e["event"] == "report"]
    last = [c for c in reports if c["name"] == f"PE ${PE_ID:08x}"][-1]
    assert component(removed)["status"] == last["status"] != ""
    terminal.kill()  # no last report: purged after 10 x 300 ms of silence
    purged = wait_event(
        monitor,
        lambda e: e["event"] in ("purged", "removed") and component(e)["role"] == "pool-user",
        "purge of the PU",
        timeout=60,
    )
    assert purged["event"] == "purged" and component(purged)["last_heard"] >= 3.0
    registrar.stop()
    assert monitor.stop() == 0
    assert all(e["event"] != "undecodable" for e in events(monitor))
