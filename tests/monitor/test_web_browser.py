"""The web monitor in a real browser: headless chromium loads the page of a real monitor that
receives real CSP datagrams over UDP, draws the system, and follows a PE's end and a PU's
failover live, without reloading. Screenshots before and after go to the test's artifacts
directory (``build/test-results/local/<test>/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from interop.preflight import BROWSER, missing
from tests.monitor.browser import (
    Monitor,
    attributes,
    drawn,
    headless_chromium,
    running_monitor,
    wait_for,
)
from tests.monitor.reports import pe_report, pu_report, registrar_report

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

INTERVAL = 5_000_000  # µs: a report every 5 s, so nothing is purged during the test
PU_NAME = "PU $00000000c0ffee"


@pytest.fixture(autouse=True)
def _chromium_installed() -> None:
    absent = missing(BROWSER)
    if absent:
        reason = f"needs {absent[0].what} (install: {absent[0].package}; `make setup`)"
        if os.environ.get("RSERPOOL_STRICT"):
            pytest.fail(f"cannot run here: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    with running_monitor() as running:
        yield running


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with headless_chromium() as driver:
        yield driver


def the_system(monitor: Monitor, *, pe1_final: bool = False, pu_on: int = 0x2001) -> None:
    """Two peered registrars, PE $2001 at one and PE $2002 at the other, both in EchoPool,
    and a PU bound to ``pu_on``; all as real datagrams over UDP."""
    echo = {"status": 'echo service in "EchoPool"'}
    monitor.send(
        registrar_report(0x101, [0x102], status="1[1] PEs in 1 Pool(s), 1 Peer(s)",
                         location="pr1: 127.0.0.1"),
        registrar_report(0x102, [0x101], status="1[1] PEs in 1 Pool(s), 1 Peer(s)",
                         location="pr2: 127.0.0.5"),
        pe_report(0x2001, 0x101, [0xC0FFEE] if pu_on == 0x2001 else [], final=pe1_final,
                  location="pe1: 127.0.0.2", load=0.5, **echo),
        pe_report(0x2002, 0x102, [0xC0FFEE] if pu_on == 0x2002 else [],
                  location="pe2: 127.0.0.3", load=0.0 if pu_on != 0x2002 else 0.5, **echo),
        pu_report(0xC0FFEE, 0x101, [pu_on], location="pu: 127.0.0.1", status="terminal"),
    )  # fmt: skip


def test_the_page_draws_the_system_and_follows_a_failover(
    monitor: Monitor, browser: WebDriver, artifacts: Path
) -> None:
    the_system(monitor)
    browser.get(monitor.url)
    wait_for(
        browser,
        lambda: (
            attributes(browser, f'line.bound[data-from="{PU_NAME}"]', "data-bound-to")
            == ["PE $00002001"]
        ),
        "the PU drawn bound to PE $2001",
    )
    wait_for(browser, lambda: len(drawn(browser, "g.pe")) == 2, "both PEs drawn")
    assert attributes(browser, "g.registrar", "data-component") == [
        "PR $00000101",
        "PR $00000102",
    ]
    peerings = drawn(browser, "path.enrp", "data-from", "data-to")
    assert [(e["data-from"], e["data-to"]) for e in peerings] == [("PR $00000101", "PR $00000102")]
    assert sorted(
        (e["data-from"], e["data-home"])
        for e in drawn(browser, "line.home", "data-from", "data-home")
    ) == [("PE $00002001", "PR $00000101"), ("PE $00002002", "PR $00000102")]
    assert len(drawn(browser, 'g.pool[data-pool="EchoPool"]')) == 1
    assert [e["text"] for e in drawn(browser, "text.pool-name")] == ["EchoPool  (2 PE)"]
    (pe1,) = drawn(browser, 'g.pe[data-component="PE $00002001"]')
    assert "pe1: 127.0.0.2" in pe1["text"] and "load 50%" in pe1["text"]
    assert attributes(browser, "#components tbody tr", "data-component") == [
        "PR $00000101", "PR $00000102", "PE $00002001", "PE $00002002", PU_NAME,
    ]  # fmt: skip
    assert browser.find_element("id", "connection").text == "live"
    assert "home registrar" in browser.find_element("id", "legend").text
    before = artifacts / "monitor-before.png"
    browser.save_screenshot(str(before))
    browser.execute_script("window.loadedOnce = 'yes';")  # gone if the page reloaded

    the_system(monitor, pe1_final=True, pu_on=0x2002)  # PE $2001 ends, the PU fails over
    wait_for(
        browser,
        lambda: (
            attributes(browser, f'line.bound[data-from="{PU_NAME}"]', "data-bound-to")
            == ["PE $00002002"]
        ),
        "the PU's line moved to PE $2002",
    )
    wait_for(browser, lambda: not drawn(browser, '[data-component="PE $00002001"]'), "PE gone")
    assert attributes(browser, "g.pe", "data-component") == ["PE $00002002"]
    assert attributes(browser, "line.home", "data-from") == ["PE $00002002"]
    assert browser.execute_script("return window.loadedOnce;") == "yes"
    assert browser.find_element("id", "connection").text == "live"
    after = artifacts / "monitor-after.png"
    browser.save_screenshot(str(after))
    log = browser.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [entry for entry in log if entry["level"] == "SEVERE"]
    assert errors == []
    print(f"screenshots: {before} {after}")
