"""Real ``rserpool`` processes for the live monitor tests: started, watched through what they
print (never through sleeps), stopped.

A :class:`System` is one registrar on a loopback address of its own, pingpong PEs that take the
first free 127.0.0.x (``--transport udp`` without ``--local``), and a ``rserpool pingpong`` PU,
all reporting to one CSP address every :data:`INTERVAL` ms."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

INTERVAL = 300  # ms between two CSP reports
TIMEOUT = 15.0  # s for anything to show up (a few seconds normally)
PURGE = 10 * INTERVAL / 1000  # s of silence after which a monitor forgets a component

Event = dict[str, Any]


class Program:
    """One process; standard output and standard error each in a file of their own."""

    def __init__(self, argv: list[str], directory: Path, name: str) -> None:
        self.name = name
        self.out = directory / f"{name}.out"
        self.err = directory / f"{name}.err"
        self._files = [self.out.open("wb"), self.err.open("wb")]
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._files[0], stderr=self._files[1],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def errors(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_for(
        self, pattern: str, timeout: float = TIMEOUT, *, stderr: bool = False
    ) -> re.Match[str]:
        """The first match of ``pattern`` in what the program printed, waiting for it."""
        read = self.errors if stderr else self.output
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, read())
            if match:
                return match
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: no /{pattern}/ (exit status {self.popen.poll()}):\n"
                    f"{read()[-2000:]}\n{self.errors()[-1000:] if not stderr else ''}"
                )
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the end; the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for file in self._files:
            file.close()
        return self.popen.returncode


class JsonMonitor(Program):
    """``rserpool monitor --json``: its events, and the table they add up to."""

    def events(self) -> list[Event]:
        lines = self.output().splitlines(keepends=True)
        return [json.loads(line) for line in lines if line.endswith("\n")]

    def wait_event(
        self, check: Callable[[Event, dict[str, Event]], bool], after: int = 0
    ) -> tuple[int, Event, dict[str, Event]]:
        """The first event from index ``after`` on that passes ``check(event, table)``, where
        ``table`` is every component (by name) as the monitor knew it after that event.
        Returns its index, the event and the table."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            table: dict[str, Event] = {}
            for index, event in enumerate(self.events()):
                component = event.get("component")
                if component is None:
                    raise AssertionError(f"the monitor could not decode a report: {event}")
                if event["event"] == "report":
                    table[component["name"]] = component
                else:
                    table.pop(component["name"], None)
                if index >= after and check(event, table):
                    return index, event, dict(table)
            if self.popen.poll() is not None or time.monotonic() > deadline:
                tail = "".join(json.dumps(e) + "\n" for e in self.events()[-8:])
                raise AssertionError(f"the monitor never told it; its last events:\n{tail}")
            time.sleep(0.05)


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def peers(component: Event) -> list[tuple[str, int]]:
    """``(peer name, PPID)`` of each association a component reported."""
    return [(a["peer_name"], a["ppid"]) for a in component["associations"]]


class System:
    """The programs of one test; whatever is still running at the end is killed."""

    def __init__(self, directory: Path, registrar_address: str, registrar_id: int) -> None:
        self.directory = directory
        self.address = registrar_address
        self.registrar_id = registrar_id
        self.csp_port = free_udp_port("127.0.0.1")
        self.programs: list[Program] = []
        self.pes: dict[int, Program] = {}

    @property
    def csp(self) -> list[str]:
        return [f"--csp-server=127.0.0.1:{self.csp_port}", f"--csp-interval={INTERVAL}"]

    def start(self, name: str, *args: str, kind: type[Program] = Program) -> Program:
        argv = [sys.executable, "-m", "rserpool", *args]
        program = kind(argv, self.directory, name)
        self.programs.append(program)
        return program

    def registrar(self) -> Program:
        registrar = self.start(
            "registrar", "registrar", "--transport=udp", *self.csp,
            f"--identifier={self.registrar_id:#x}", f"--asap={self.address}:3863",
            f"--enrp={self.address}:9901", "--min-address-scope=loopback",
            "--asap-announce=off", "--enrp-announce=off",
            # a PE learns its registrar's identifier from the first Endpoint Keep Alive
            "--endpoint-keep-alive-transmission-interval=1000",
        )  # fmt: skip
        registrar.wait_for(rf"CSP: a status report to 127\.0\.0\.1:{self.csp_port} every")
        return registrar

    def pool_elements(self, *pe_ids: int) -> None:
        for pe_id in pe_ids:
            self.pes[pe_id] = self.start(
                f"pe-{pe_id:x}", "server", "--pingpong", "--transport=udp", *self.csp,
                f"--registrar={self.address}:3863", f"--identifier={pe_id:#x}",
            )  # fmt: skip
        for pe_id, pe in self.pes.items():
            pe.wait_for(rf"Registration: PE \${pe_id:08x} in PingPongPool accepted")

    def pool_user(self) -> tuple[Program, int]:
        """The pingpong PU, and the PE that answers its Pings."""
        pu = self.start(
            "pingpong", "pingpong", "--interval=100", "--transport=udp", *self.csp,
            f"--registrar={self.address}:3863",
        )  # fmt: skip
        serving = int(pu.wait_for(r"Ack #\d+ from PE \$([0-9a-f]{8})").group(1), 16)
        assert serving in self.pes
        return pu, serving

    def kill_all(self) -> None:
        for program in self.programs:
            program.stop(signal.SIGKILL)
