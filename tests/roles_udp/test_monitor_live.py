"""``rserpool monitor`` watching our own roles: real processes over ``--transport udp`` on
loopback, real CSP datagrams, real time, a real failover.

A registrar with a loopback address of its own, two ``rserpool server --pingpong`` PEs and a
``rserpool pingpong`` PU report to the monitor every 300 ms. The PE serving the PU is killed
with ``kill -9``: the PU fails over to the other PE, and the dead PE, which sends no FINAL
report, is purged after ten silent report intervals (and dropped from the registrar's
handlespace when its ASAP association is lost). Every wait is for a printed line, a JSON event
or what the page draws, with a timeout; nothing waits by sleeping.

* :func:`test_json_follows_a_failover`: ``rserpool monitor --json``.
* :func:`test_the_web_page_follows_a_failover`: ``rserpool monitor --web`` with the registrar's
  handlespace read over SCTP over UDP, in Debian's headless chromium. Screenshots before,
  during (the PU's line has moved, the dead PE is still there) and after (the dead PE is gone)
  go to ``build/test-results/local/<test>/`` with an index file, ``screenshots.txt``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from interop.preflight import BROWSER, missing
from tests.monitor.browser import attributes, drawn, headless_chromium, wait_for
from tests.roles_udp.live import PURGE, Event, JsonMonitor, Program, System, peers

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

ASAP, PINGPONG = 11, 33  # PPIDs: a PE's registrar association, the PU's session
SHOTS = (
    ("before", "the PU bound to the PE that serves it, both PEs in PingPongPool"),
    ("during", "the PU's line has moved to the other PE"),
    ("after", "the killed PE purged and gone from the handlespace"),
)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    absent = missing(BROWSER)
    if absent:
        pytest.fail(f"needs {absent[0].what} (install {absent[0].package}: `make setup`)")
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def system(request: pytest.FixtureRequest, artifacts: Path) -> Iterator[System]:
    address, identifier = request.param
    made = System(artifacts, address, identifier)
    yield made
    made.kill_all()


def pe(pe_id: int) -> str:
    return f"PE ${pe_id:08x}"


def stop_cleanly(program: Program) -> float:
    """SIGTERM, exit status 0; when it ended (monotonic)."""
    assert program.stop() == 0, program.errors()
    return time.monotonic()


@pytest.mark.parametrize("system", [("127.0.64.1", 0x64)], indirect=True)
def test_json_follows_a_failover(system: System) -> None:
    monitor = system.start(
        "monitor", "monitor", "--json", f"--local=127.0.0.1:{system.csp_port}", kind=JsonMonitor
    )
    assert isinstance(monitor, JsonMonitor)
    monitor.wait_for(rf"listening for CSP reports on 127\.0\.0\.1:{system.csp_port}", stderr=True)
    registrar = system.registrar()
    system.pool_elements(0x6401, 0x6402)
    pu, serving = system.pool_user()
    (survivor,) = set(system.pes) - {serving}
    pr = f"PR ${system.registrar_id:08x}"

    def all_up(_: Event, table: dict[str, Event]) -> bool:
        pus = [c for name, c in table.items() if name.startswith("PU $")]
        return (
            table.get(pr, {}).get("status") == "2[2] PEs in 1 Pool, 0 Peers"
            # a PE names its registrar once the first Endpoint Keep Alive told its identifier
            and all(pe(p) in table and peers(table[pe(p)]) == [(pr, ASAP)] for p in system.pes)
            and len(pus) == 1
            and (pe(serving), PINGPONG) in peers(pus[0])
        )

    _, _, table = monitor.wait_event(all_up)
    assert table[pr]["role"] == "registrar" and table[pr]["associations"] == []
    assert table[pe(serving)]["status"] == "1 Session"
    assert table[pe(survivor)]["status"] == "0 Sessions"
    (pu_name,) = [name for name in table if name.startswith("PU $")]
    # a PU never learns its registrar's identifier: PR $00000000
    expected = [("PR $00000000", ASAP), (pe(serving), PINGPONG)]
    assert sorted(peers(table[pu_name])) == sorted(expected)
    assert table[pu_name]["status"] == "1 Session"

    # kill -9 the PE serving the PU: the PU's association moves to the other PE
    mark = len(monitor.events())
    killed = time.monotonic()
    system.pes[serving].stop(signal.SIGKILL)

    def failed_over(event: Event, _: dict[str, Event]) -> bool:
        c = event["component"]
        wanted = (pe(survivor), PINGPONG) in peers(c)
        return event["event"] == "report" and c["name"] == pu_name and wanted

    index, event, table = monitor.wait_event(failed_over, after=mark)
    moved = time.monotonic() - killed
    assert (pe(serving), PINGPONG) not in peers(event["component"])
    assert moved < 5.0, f"the PU's association moved {moved:.1f} s after the kill"
    pu.wait_for(rf"FAILOVER done: now at PE \${survivor:08x}")

    # no FINAL report from a killed PE: purged after ten silent report intervals
    index, event, table = monitor.wait_event(
        lambda e, _: e["event"] == "purged" and e["component"]["name"] == pe(serving), after=mark
    )
    purged = time.monotonic() - killed
    assert event["component"]["last_heard"] >= PURGE
    assert PURGE - 0.5 < purged < PURGE + 3.0, f"purged {purged:.1f} s after the kill"
    _, _, table = monitor.wait_event(
        lambda e, t: t.get(pr, {}).get("status") == "1[1] PEs in 1 Pool, 0 Peers", after=index
    )
    assert pe(serving) not in table and table[pe(survivor)]["status"] == "1 Session"
    print(f"\nkill -9 {pe(serving)}: PU at {pe(survivor)} in the monitor after {moved:.2f} s, "
          f"{pe(serving)} purged after {purged:.2f} s")  # fmt: skip

    # clean stops: each FINAL report removes its sender at once
    for program, name in ((pu, pu_name), (system.pes[survivor], pe(survivor)), (registrar, pr)):
        mark = len(monitor.events())
        ended = stop_cleanly(program)

        def gone(event: Event, _: dict[str, Event], name: str = name) -> bool:
            return bool(event["component"]["name"] == name and event["event"] != "report")

        _, event, table = monitor.wait_event(gone, after=mark)
        assert (event["event"], event["component"]["final"]) == ("removed", True)
        assert time.monotonic() - ended < PURGE / 2, "removed by its FINAL report, not purged"
    assert table == {}
    stop_cleanly(monitor)


class Screenshots:
    """Screenshots of one test, listed with what they show in ``screenshots.txt`` beside them."""

    def __init__(self, directory: Path, browser: WebDriver) -> None:
        self.directory, self.browser = directory, browser
        self.index = directory / "screenshots.txt"
        self.index.write_text("")
        print()
        self.killed: float | None = None

    def take(self, number: int, what: str, note: str) -> Path:
        path = self.directory / f"monitor-failover-{number}-{what}.png"
        assert self.browser.save_screenshot(str(path))
        since = None if self.killed is None else time.monotonic() - self.killed
        when = "" if since is None else f" ({since:.2f} s after the kill)"
        self.write(f"{path}  {what}{when}: {note}")
        return path

    def write(self, line: str) -> None:
        with self.index.open("a") as index:
            index.write(line + "\n")
        print(line)


@pytest.mark.parametrize("system", [("127.0.65.1", 0x65)], indirect=True)
def test_the_web_page_follows_a_failover(
    system: System, browser: WebDriver, artifacts: Path
) -> None:
    registrar = system.registrar()
    system.pool_elements(0x6501, 0x6502)
    pu, serving = system.pool_user()
    (survivor,) = set(system.pes) - {serving}
    pr = f"PR ${system.registrar_id:08x}"
    monitor = system.start(
        "monitor", "monitor", "--web=127.0.0.1:0", f"--registrar={system.address}:9901",
        "--transport=udp", f"--local=127.0.0.1:{system.csp_port}",
    )  # fmt: skip
    url = monitor.wait_for(r"the web page is at (http://\S+)", stderr=True).group(1)
    monitor.wait_for(r"handlespace reads: transport: SCTP over UDP", stderr=True)
    browser.get(url)

    def pu_bound_to() -> list[str | None]:
        return attributes(browser, 'line.bound[data-from^="PU $"]', "data-bound-to")

    def drawn_pes() -> list[tuple[str | None, ...]]:
        found = drawn(browser, "g.pe", "data-component", "data-pool", "data-home")
        return [(e["data-component"], e["data-pool"], e["data-home"]) for e in found]

    both = [(pe(p), "PingPongPool", pr) for p in sorted(system.pes)]
    wait_for(browser, lambda: drawn_pes() == both, "both PEs in PingPongPool, home " + pr)
    wait_for(browser, lambda: pu_bound_to() == [pe(serving)], f"the PU bound to {pe(serving)}")
    # the monitor reads the handlespace as an ENRP peer would: the registrar counts it from its
    # next report after the monitor's Presence (the PEs above may come from an earlier report)
    counted = "2[2] PEs in 1 Pool, 1 Peer"

    def registrar_says() -> list[tuple[str | None, bool]]:
        found = drawn(browser, "g.registrar", "data-component")
        return [(e["data-component"], counted in e["text"]) for e in found]

    wait_for(browser, lambda: registrar_says() == [(pr, True)], f"{pr} saying {counted!r}")
    assert [e["text"] for e in drawn(browser, "text.pool-name")] == ["PingPongPool  (2 PE)"]
    (user,) = drawn(browser, "g.pu", "data-component", "data-bound-to")
    assert user["data-bound-to"] == pe(serving) and "1 Session" in user["text"]
    (read,) = drawn(browser, "#handlespaces li", "data-endpoint")
    assert read["data-endpoint"] == f"{system.address}:9901"
    assert browser.find_element("id", "connection").text == "live"
    shots = Screenshots(artifacts, browser)
    shots.take(1, *SHOTS[0])
    browser.execute_script("window.loadedOnce = 'yes';")  # gone if the page reloaded

    killed = shots.killed = time.monotonic()
    system.pes[serving].stop(signal.SIGKILL)
    wait_for(browser, lambda: pu_bound_to() == [pe(survivor)], f"the PU moved to {pe(survivor)}")
    moved = time.monotonic() - killed
    still = "still drawn" if drawn(browser, f'g.pe[data-component="{pe(serving)}"]') else "gone"
    shots.take(2, SHOTS[1][0], f"{SHOTS[1][1]}; the killed PE is {still}")
    pu.wait_for(rf"FAILOVER done: now at PE \${survivor:08x}")
    assert moved < 5.0, f"the page showed the failover {moved:.1f} s after the kill"

    # the dead PE goes once purged (3 s of silence) and dropped from the handlespace
    wait_for(
        browser,
        lambda: not drawn(browser, f'[data-component="{pe(serving)}"]'),
        f"{pe(serving)} gone from the picture and the table",
    )
    gone = time.monotonic() - killed
    shots.take(3, *SHOTS[2])
    assert drawn_pes() == [(pe(survivor), "PingPongPool", pr)]
    assert [e["text"] for e in drawn(browser, "text.pool-name")] == ["PingPongPool  (1 PE)"]
    assert attributes(browser, "g.pu", "data-bound-to") == [pe(survivor)]
    (read,) = drawn(browser, "#handlespaces li")
    assert read["text"].endswith("1 pool(s), 1 PE(s)")
    assert browser.execute_script("return window.loadedOnce;") == "yes"
    assert browser.find_element("id", "connection").text == "live"
    log = browser.get_log("browser")  # type: ignore[no-untyped-call]
    assert [entry for entry in log if entry["level"] == "SEVERE"] == []
    timings = (
        f"kill -9 {pe(serving)}: the PU's line at {pe(survivor)} after {moved:.2f} s, "
        f"{pe(serving)} gone from the page after {gone:.2f} s"
    )
    shots.write(timings)
    print(f"index: {shots.index}")

    for program in (pu, system.pes[survivor], registrar, monitor):
        stop_cleanly(program)
