"""What this machine can do for the tests that need a real kernel."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass

IPPROTO_SCTP = 132
RSPLIB_PROGRAMS = ("rspregistrar", "rspserver", "rspterminal", "hsdump")


@functools.cache
def kernel_has_sctp() -> bool:
    """True if this kernel can open an SCTP socket (loading the module first if we may)."""
    for attempt in range(2):
        try:
            socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP).close()
            return True
        except OSError:
            if attempt == 0 and is_root() and shutil.which("modprobe"):
                subprocess.run(["modprobe", "sctp"], capture_output=True, check=False)
    return False


def is_root() -> bool:
    return os.geteuid() == 0


def missing_programs(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


@dataclass(frozen=True)
class Capabilities:
    kernel_sctp: bool
    root: bool
    rsplib: bool
    tshark: bool

    @classmethod
    def probe(cls) -> Capabilities:
        return cls(
            kernel_sctp=kernel_has_sctp(),
            root=is_root(),
            rsplib=not missing_programs(RSPLIB_PROGRAMS),
            tshark=shutil.which("tshark") is not None,
        )

    def missing_for(self, marker: str) -> list[str]:
        """What a test with this marker (``sctp``, ``rsplib`` or ``guest``) lacks here."""
        missing = []
        if not self.kernel_sctp:
            missing.append("kernel SCTP")
        if not self.root:
            missing.append("root (network namespaces)")
        if marker == "rsplib":
            if not self.rsplib:
                missing.append("RSPLIB programs " + ", ".join(missing_programs(RSPLIB_PROGRAMS)))
            if not self.tshark:
                missing.append("tshark")
        return missing

    @property
    def native(self) -> bool:
        """Can every kernel test run right here, without the guest?"""
        return not self.missing_for("rsplib")
