"""The guest's preflight check: each missing piece named with the package that provides it."""

from __future__ import annotations

import sys
from pathlib import Path

from interop import preflight
from interop.preflight import Requirement, explain_missing, is_static_elf


def test_a_static_and_a_dynamic_executable_are_told_apart(tmp_path: Path) -> None:
    # The interpreter is dynamically linked on every platform we run on.
    assert not is_static_elf(Path(sys.executable).resolve())
    # A minimal 64-bit little-endian ELF header with no program headers: nothing to load,
    # so no dynamic loader either.
    header = b"\x7fELF\x02\x01\x01" + bytes(57)
    (tmp_path / "static").write_bytes(header)
    assert is_static_elf(tmp_path / "static")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not is_static_elf(tmp_path / "script")
    assert not is_static_elf(tmp_path / "absent")


def test_every_missing_piece_is_named_with_its_package() -> None:
    present = Requirement("a thing that is here", "pkg-here", lambda: True)
    absent = Requirement("a statically linked busybox", "busybox-static", lambda: False)
    other = Requirement("QEMU", "qemu-system-x86", lambda: False)
    assert explain_missing((present,)) is None
    text = explain_missing((present, absent, other))
    assert text is not None
    assert text.splitlines() == [
        "the test guest cannot boot here:",
        "  missing: a statically linked busybox (install: busybox-static)",
        "  missing: QEMU (install: qemu-system-x86)",
        "  `make setup` installs them",
    ]


def test_the_setup_installs_every_package_the_check_asks_for() -> None:
    setup = (Path(__file__).parents[2] / "interop" / "setup.sh").read_text()
    for requirement in preflight.GUEST + preflight.IN_GUEST + preflight.HOST + preflight.BROWSER:
        if not requirement.package.startswith("make "):
            assert requirement.package in setup, requirement.package
