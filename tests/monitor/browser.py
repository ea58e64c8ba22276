"""What the browser test needs: a real monitor (a CSP receiver on a UDP socket and
:func:`rserpool.monitor.web.serve_page`) running in a thread of its own, and Debian's headless
chromium driven by selenium through ``chromedriver``."""

from __future__ import annotations

import queue
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from rserpool.monitor.model import ComponentTable
from rserpool.monitor.web import serve_page

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"


def chromium_binary() -> str | None:
    return next((found for name in CHROMIUM if (found := shutil.which(name))), None)


@dataclass
class Monitor:
    """``rserpool monitor --web`` in miniature: CSP datagrams on ``csp`` fill the table (and
    silent components are purged), the page is at ``url``."""

    csp: tuple[str, int]
    url: str
    table: ComponentTable
    _token: trio.lowlevel.TrioToken
    _scope: trio.CancelScope
    _sender: socket.socket = field(default_factory=lambda: socket.socket(type=socket.SOCK_DGRAM))

    def send(self, *datagrams: bytes) -> None:
        """Send real CSP datagrams to the monitor over UDP, as components do."""
        for data in datagrams:
            self._sender.sendto(data, self.csp)

    def stop(self) -> None:
        self._sender.close()
        trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)


async def _receive(sock: trio.socket.SocketType, table: ComponentTable) -> None:
    while True:
        deadline = table.next_deadline()
        with trio.move_on_at(deadline if deadline is not None else trio.current_time() + 1):
            data, source = await sock.recvfrom(65535)
            table.receive(data, source[:2], trio.current_time())
        table.expire(trio.current_time())


async def _run(ready: queue.Queue[Monitor | BaseException]) -> None:
    table = ComponentTable()
    try:
        with trio.socket.socket(type=socket.SOCK_DGRAM) as sock, trio.CancelScope() as scope:
            await sock.bind(("127.0.0.1", 0))
            async with trio.open_nursery() as nursery:
                url = await nursery.start(serve_page, table, "127.0.0.1", 0)
                nursery.start_soon(_receive, sock, table)
                token = trio.lowlevel.current_trio_token()
                ready.put(Monitor(sock.getsockname(), url, table, token, scope))
    except BaseException as exc:
        ready.put(exc)
        raise


@contextmanager
def running_monitor() -> Iterator[Monitor]:
    """A monitor in a thread of its own, stopped (and the thread joined) afterwards."""
    ready: queue.Queue[Monitor | BaseException] = queue.Queue()
    thread = threading.Thread(target=trio.run, args=(_run, ready), daemon=True)
    thread.start()
    started = ready.get(timeout=30)
    if isinstance(started, BaseException):
        thread.join(10)
        raise started
    try:
        yield started
    finally:
        started.stop()
        thread.join(10)
        assert not thread.is_alive(), "the monitor thread did not stop"


@contextmanager
def headless_chromium(width: int = 1500, height: int = 950) -> Iterator[WebDriver]:
    """Debian's chromium, headless, through Debian's chromedriver (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_binary(), shutil.which(CHROMEDRIVER)
    assert binary is not None and driver_path is not None, "chromium and chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root, chromium refuses to start with its sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(
    driver: WebDriver, condition: Callable[[], object], what: str, timeout: float = 15
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition(), message=what)


# The page redraws on every snapshot: read it in one script (atomic in the page), never
# through element handles that a redraw makes stale.
def drawn(driver: WebDriver, css: str, *names: str) -> list[dict[str, Any]]:
    """Every element matching ``css``: its text and the attributes ``names``."""
    result: list[dict[str, Any]] = driver.execute_script(
        """const [css, names] = arguments;
        return Array.from(document.querySelectorAll(css), (e) => Object.fromEntries(
            [["text", e.textContent], ...names.map((n) => [n, e.getAttribute(n)])]));""",
        css,
        list(names),
    )
    return result


def attributes(driver: WebDriver, css: str, name: str) -> list[str | None]:
    return [element[name] for element in drawn(driver, css, name)]
