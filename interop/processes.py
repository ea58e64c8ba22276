"""Programs started inside a test host, with their output kept in a log file."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from interop.topology import Host


class ProcessError(RuntimeError):
    pass


class Process:
    """A program running in a host's namespace; stdout and stderr go to ``log``."""

    def __init__(
        self,
        host: Host,
        argv: Sequence[str],
        log: Path,
        *,
        stdin: bool = False,
        name: str | None = None,
    ) -> None:
        self.host = host
        self.name = name or Path(argv[0]).name
        self.argv = list(argv)
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = log.open("wb")
        self._log_file.write(f"# {host.name}$ {' '.join(self.argv)}\n".encode())
        self._log_file.flush()
        self.popen = subprocess.Popen(
            host.exec_argv(self.argv),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        host.processes.append(self)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until the log matches ``pattern`` (a regular expression); return the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output())
            if match:
                return match
            if self.popen.poll() is not None:
                match = regex.search(self.output())
                if match:
                    return match
                raise ProcessError(
                    f"{self.name} in {self.host.name} exited ({self.popen.returncode}) before "
                    f"printing /{pattern}/; log {self.log}:\n{self.output()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"{self.name} in {self.host.name}: no /{pattern}/ within {timeout} s; "
                    f"log {self.log}:\n{self.output()[-2000:]}"
                )
            time.sleep(0.1)

    def send_line(self, text: str) -> None:
        if self.popen.stdin is None:
            raise ProcessError(f"{self.name} was started without stdin")
        self.popen.stdin.write(text.encode() + b"\n")
        self.popen.stdin.flush()

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the program (TERM by default), wait, kill it if it lingers; its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        self._log_file.close()
        return self.popen.returncode  # stopping twice is harmless

    def kill(self) -> int:
        """SIGKILL, as a crash: no SCTP SHUTDOWN, the kernel ABORTs the associations."""
        return self.stop(signal.SIGKILL)


def rserpool(host: Host, logdir: Path, name: str, *args: str, stdin: bool = False) -> Process:
    """``python -m rserpool ARGS`` (unbuffered) in ``host``, logged to ``logdir/HOST-NAME.log``."""
    argv = [sys.executable, "-u", "-m", "rserpool", *args]
    return Process(host, argv, logdir / f"{host.name}-{name}.log", stdin=stdin, name=name)
