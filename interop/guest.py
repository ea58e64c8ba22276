"""Boot the kernel-SCTP test guest (virtme-ng under QEMU TCG) and run a script in it.

The guest sees the host's filesystem read-only (writes land in a throw-away overlay), except
``rwdir``, which is written through: scripts, junit XML, logs and pcaps travel that way. The
settings are the measured sweet spot on a 2-core machine (see docs/testing.md): TCG without KVM,
one vCPU, 512 MiB and a 256 MiB translation cache.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from interop import preflight

REPO = Path(__file__).resolve().parent.parent


def default_kernel() -> Path | None:
    """The newest Debian kernel image in /boot (package linux-image-amd64)."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"), key=os.path.getmtime)
    return Path(kernels[-1]) if kernels else None


def find_vng() -> str | None:
    beside_python = Path(sys.executable).parent / "vng"
    return str(beside_python) if beside_python.exists() else shutil.which("vng")


@dataclass
class GuestConfig:
    kernel: Path | None = field(default_factory=default_kernel)
    cpus: int = 1
    memory: str = "512M"
    tb_size_mib: int = 256
    timeout: float = 2700.0
    name: str = "rserpool-guest"


@dataclass
class GuestRun:
    returncode: int
    boot_seconds: float | None  # launch until the script's first line ran
    script_seconds: float | None  # the script itself
    console_log: Path


class GuestError(RuntimeError):
    pass


class Guest:
    """One guest boot running one bash script; ``rwdir`` is shared read-write."""

    def __init__(self, rwdir: Path, config: GuestConfig | None = None) -> None:
        self.rwdir = rwdir.resolve()
        self.config = config or GuestConfig()

    def command(self, script_path: Path) -> list[str]:
        problem = preflight.explain_missing()
        if problem is not None:
            raise GuestError(problem)
        vng = find_vng()
        if vng is None or self.config.kernel is None or not self.config.kernel.exists():
            raise GuestError(f"the test guest cannot boot: no kernel at {self.config.kernel}")
        return [
            vng,
            "--disable-kvm",  # KVM guests hang on this machine kind; TCG works
            "--cpus", str(self.config.cpus),
            "--memory", self.config.memory,
            f"--qemu-opts=-accel tcg,tb-size={self.config.tb_size_mib}",
            "--name", self.config.name,
            "--run", str(self.config.kernel),
            "--user", "root",
            "--rwdir", str(self.rwdir),
            "--exec", f"bash {shlex.quote(str(script_path))}",
        ]  # fmt: skip

    def run(
        self,
        body: str,
        env: Mapping[str, str] | None = None,
        prefix: str = "guest| ",
        out: IO[str] | None = None,
    ) -> GuestRun:
        """Boot, run ``body`` (bash) from the repo root as root, stream its output, power off."""
        self.rwdir.mkdir(parents=True, exist_ok=True)
        script = self.rwdir / "guest-script.sh"
        stamps = self.rwdir / "guest-stamps"
        stamps.unlink(missing_ok=True)
        exports = "".join(
            f"export {key}={shlex.quote(value)}\n" for key, value in (env or {}).items()
        )
        script.write_text(
            "set -u\n"
            f"date +%s.%N > {shlex.quote(str(stamps))}\n"
            "modprobe sctp\n"
            "ip link set lo up\n"
            "export HOME=/tmp XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 "
            "PYTHONUNBUFFERED=1\n"
            f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH\n"
            f"{exports}"
            f"cd {shlex.quote(str(REPO))}\n"
            f"( {body}\n)\n"
            "rc=$?\n"
            f"date +%s.%N >> {shlex.quote(str(stamps))}\n"
            "exit $rc\n"
        )
        console = self.rwdir / "guest-console.log"
        command = self.command(script)
        # vng runs its helpers (virtme-run) from PATH: put its own directory first
        path = f"{Path(command[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        started = time.time()
        with console.open("w") as log:
            proc = subprocess.Popen(
                command,
                env=dict(os.environ, PATH=path),
                cwd="/tmp",  # vng starts the guest in its cwd; keep it out of the repo
                stdin=subprocess.DEVNULL,  # vng crashes with stdin closed (CI)
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            pump = threading.Thread(
                target=_pump, args=(proc, log, out or sys.stdout, prefix), daemon=True
            )
            pump.start()
            try:
                returncode = proc.wait(timeout=self.config.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                returncode = proc.wait()
                log.write(f"\n*** guest killed after {self.config.timeout:.0f} s\n")
            pump.join(timeout=10)
        boot, took = _read_stamps(stamps, started)
        return GuestRun(returncode, boot, took, console)


def _pump(proc: subprocess.Popen[str], log: IO[str], out: IO[str], prefix: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        log.flush()
        out.write(prefix + line)
        out.flush()


def _read_stamps(stamps: Path, started: float) -> tuple[float | None, float | None]:
    try:
        values = [float(v) for v in stamps.read_text().split()]
    except (OSError, ValueError):
        return None, None
    boot = values[0] - started if values else None
    took = values[1] - values[0] if len(values) > 1 else None
    return boot, took
