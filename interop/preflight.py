"""Before a guest boots: is everything it needs here? Each missing piece is named with the
Debian package that provides it, so that a failed check says what to install.

The guest (virtme-ng under QEMU) is built from this machine's own files: QEMU, a Debian
kernel with its modules (for ``sctp.ko``), a statically linked busybox for the initramfs
(virtme-ng checks it, and the kernel, with the ``file`` command),
and, for the tests it runs, RSPLIB's programs, tshark and iproute2, which it sees through the
shared root filesystem. ``python -m interop.preflight`` prints the check.

Two requirements are the host's own: the tests in ``tests/usrsctp`` run usrsctp's example
programs (the FreeBSD SCTP stack in userland, speaking SCTP over UDP) beside our stack on this
machine, with no guest; :data:`HOST` names them, and :func:`usrsctp_program` finds one. The
web monitor's browser test needs chromium and chromedriver (:data:`BROWSER`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PT_INTERP = 3  # ELF program header type of the dynamic loader's path


@dataclass(frozen=True)
class Requirement:
    what: str
    package: str  # Debian package, or the command that installs it
    present: Callable[[], bool]


def program(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def is_static_elf(path: Path) -> bool:
    """True if ``path`` is an ELF executable without a dynamic loader (PT_INTERP)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return False
    is64, little = data[4] == 2, data[5] == 1

    def field(offset: int, size: int) -> int:
        return int.from_bytes(data[offset : offset + size], "little" if little else "big")

    phoff, phentsize, phnum = (
        (field(32, 8), field(54, 2), field(56, 2))
        if is64
        else (field(28, 4), field(42, 2), field(44, 2))
    )
    return all(
        field(phoff + i * phentsize, 4) != PT_INTERP
        for i in range(phnum)
        if phoff + (i + 1) * phentsize <= len(data)
    )


def static_busybox() -> bool:
    """virtme-ng puts busybox into the guest's initramfs; a dynamic one cannot run there."""
    for name in ("busybox-static", "busybox.static", "busybox"):
        for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
            path = Path(folder, name)
            if path.is_file():
                return is_static_elf(path)
        found = shutil.which(name)
        if found:
            return is_static_elf(Path(found))
    return False


def kernel_with_modules() -> bool:
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    return any(Path("/lib/modules", k.name.removeprefix("vmlinuz-")).is_dir() for k in kernels)


def vng() -> bool:
    return (Path(sys.executable).parent / "vng").exists() or shutil.which("vng") is not None


GUEST = (
    Requirement("QEMU (qemu-system-x86_64)", "qemu-system-x86", program("qemu-system-x86_64")),
    Requirement(
        "a kernel image in /boot with its modules", "linux-image-amd64", kernel_with_modules
    ),
    Requirement("a statically linked busybox", "busybox-static", static_busybox),
    # virtme-ng runs `file` on the kernel and on busybox before it builds the initramfs
    Requirement("the file command", "file", program("file")),
    Requirement("virtme-ng (vng)", "make setup (pip: virtme-ng)", vng),
)
IN_GUEST = (
    Requirement("RSPLIB's registrar (rspregistrar)", "rsplib-registrar", program("rspregistrar")),
    Requirement("RSPLIB's tools (hsdump)", "rsplib-tools", program("hsdump")),
    Requirement(
        "RSPLIB's servers and clients (rspserver)", "rsplib-services", program("rspserver")
    ),
    Requirement("tshark", "tshark", program("tshark")),
    Requirement("ip (network namespaces)", "iproute2", program("ip")),
)


#: Where Debian's libusrsctp-examples puts echo_server, discard_server, client and tsctp:
#: outside $PATH, because the names are generic.
USRSCTP_PROGRAMS = Path("/usr/lib/usrsctp")


def usrsctp_program(name: str) -> Path | None:
    """The usrsctp example program ``name`` (e.g. ``"tsctp"``), or None if not installed."""
    path = USRSCTP_PROGRAMS / name
    return path if path.is_file() else None


def usrsctp_examples() -> bool:
    return all(
        usrsctp_program(name) for name in ("echo_server", "discard_server", "client", "tsctp")
    )


HOST = (
    Requirement(
        "usrsctp's example programs (echo_server, discard_server, client, tsctp)",
        "libusrsctp-examples",
        usrsctp_examples,
    ),
)


#: The web monitor's browser test (tests/monitor/test_web_browser.py) drives Debian's chromium,
#: headless, through its chromedriver; both stay on the host.
BROWSER = (
    Requirement(
        "chromium (headless, for the web monitor's browser test)",
        "chromium",
        lambda: any(shutil.which(name) for name in ("chromium", "chromium-browser")),
    ),
    Requirement(
        "chromedriver (selenium drives chromium)", "chromium-driver", program("chromedriver")
    ),
)


def missing(requirements: tuple[Requirement, ...] = GUEST + IN_GUEST) -> list[Requirement]:
    return [r for r in requirements if not r.present()]


def explain_missing(requirements: tuple[Requirement, ...] = GUEST + IN_GUEST) -> str | None:
    """One line per missing piece and what provides it; None if nothing is missing."""
    gone = missing(requirements)
    if not gone:
        return None
    lines = [f"  missing: {r.what} (install: {r.package})" for r in gone]
    return (
        "the test guest cannot boot here:\n" + "\n".join(lines) + "\n  `make setup` installs them"
    )


def main() -> int:
    everything = GUEST + IN_GUEST + HOST + BROWSER
    for requirement in everything:
        mark = "ok     " if requirement.present() else "MISSING"
        print(f"{mark} {requirement.what}  [{requirement.package}]")
    return 1 if missing(everything) else 0


if __name__ == "__main__":
    sys.exit(main())
