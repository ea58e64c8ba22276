"""``make test``: every test, kernel tests natively or inside one guest boot.

Host tests (the protocol logic, on the in-memory network) run here. Tests marked ``sctp``,
``rsplib`` or ``guest`` need kernel SCTP, root and RSPLIB: they run right here where this machine
has all of that, and otherwise inside ONE guest boot (:mod:`interop.guest`) started in parallel
with the host tests. The exit status covers both; a test that was skipped, or a run that
collected nothing, is a failure.

    python -m interop.runtests                 # everything (what `make test` runs)
    python -m interop.runtests --kernel-only tests/guest/test_smoke.py -k veth
    python -m interop.runtests --host-only -x
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from interop.capabilities import Capabilities
from interop.guest import REPO, Guest, GuestConfig, GuestError, GuestRun

KERNEL_MARKERS = "sctp or rsplib or guest"
RESULTS = REPO / "build" / "test-results"
KERNEL_LIST = RESULTS / "kernel-tests.txt"  # written by the host run (tests/conftest.py)


@dataclass
class Outcome:
    where: str
    returncode: int
    seconds: float
    junit: Path
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    note: str = ""

    def read_junit(self) -> None:
        try:
            root = ET.parse(self.junit).getroot()
        except (OSError, ET.ParseError) as exc:
            self.note = f"no junit report ({exc.__class__.__name__})"
            return
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            self.tests += int(suite.get("tests", 0))
            self.failures += int(suite.get("failures", 0))
            self.errors += int(suite.get("errors", 0))
            self.skipped += int(suite.get("skipped", 0))

    @property
    def ok(self) -> bool:
        return (
            self.returncode == 0
            and self.tests > 0
            and self.failures == 0
            and self.errors == 0
            and self.skipped == 0
        )


def pytest_argv(marker: str, junit: Path, extra: Sequence[str]) -> list[str]:
    return [
        "-m", "pytest", "-m", marker, f"--junitxml={junit}", "-p", "no:cacheprovider",
        "-o", "junit_family=xunit2", *extra,
    ]  # fmt: skip


def run_here(where: str, marker: str, extra: Sequence[str]) -> Outcome:
    junit = RESULTS / f"junit-{where}.xml"
    started = time.monotonic()
    env = dict(
        os.environ,
        RSERPOOL_STRICT="1",
        RSERPOOL_ARTIFACTS=str(RESULTS / where),
        RSERPOOL_KERNEL_LIST=str(KERNEL_LIST),
    )
    rc = subprocess.call([sys.executable, *pytest_argv(marker, junit, extra)], cwd=REPO, env=env)
    outcome = Outcome(where, rc, time.monotonic() - started, junit)
    outcome.read_junit()
    return outcome


def kernel_test_files() -> list[str]:
    """Test files that may hold kernel tests: the guest need not import the others (collection
    alone costs seconds under TCG). A file counts if it, or a conftest.py between it and
    tests/ (which may parametrize with marks), mentions a kernel marker."""
    marks = re.compile(r"pytest\.mark\.(sctp|rsplib|guest)\b")
    tests = REPO / "tests"

    def mentions(path: Path) -> bool:
        return path.exists() and bool(marks.search(path.read_text(errors="replace")))

    def under_marking_conftest(path: Path) -> bool:
        return any(
            mentions(d / "conftest.py") for d in path.parents if d != tests and tests in d.parents
        )

    return sorted(
        str(path.relative_to(REPO))
        for path in tests.rglob("test_*.py")
        if mentions(path) or under_marking_conftest(path)
    )


def names_tests(extra: Sequence[str]) -> bool:
    return any(not arg.startswith("-") and (REPO / arg.split("::")[0]).exists() for arg in extra)


def guest_job(extra: Sequence[str]) -> tuple[Guest, str, dict[str, str]]:
    """The guest, the bash line it runs, and its environment."""
    junit = RESULTS / "junit-guest.xml"
    if not names_tests(extra):
        extra = [*extra, *kernel_test_files()]
    body = "python " + " ".join(shlex.quote(a) for a in pytest_argv(KERNEL_MARKERS, junit, extra))
    env = {"RSERPOOL_STRICT": "1", "RSERPOOL_ARTIFACTS": str(RESULTS / "guest")}
    return Guest(RESULTS, GuestConfig()), body, env


def finish_guest(future: Future[GuestRun], started: float) -> tuple[Outcome, GuestRun | None]:
    outcome = Outcome("guest", 1, 0.0, RESULTS / "junit-guest.xml")
    run: GuestRun | None = None
    try:
        run = future.result()
    except GuestError as exc:
        outcome.note = f"guest did not run: {exc}"
    else:
        outcome.returncode = run.returncode
        outcome.read_junit()
    outcome.seconds = time.monotonic() - started
    return outcome, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--host-only", action="store_true", help="only tests that need no kernel")
    scope.add_argument("--kernel-only", action="store_true", help="only sctp/rsplib/guest tests")
    parser.add_argument(
        "--where",
        choices=("auto", "native", "guest"),
        default=os.environ.get("RSERPOOL_KERNEL_TESTS", "auto"),
        help="where kernel tests run (default: natively if this machine can, else the guest)",
    )
    args, extra = parser.parse_known_args(argv)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    lock = (RESULTS.parent / "test-results.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another run owns build/test-results: wait for it
        print("waiting for another test run in this checkout to finish...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    caps = Capabilities.probe()
    where = args.where
    if where == "auto":
        where = "native" if caps.native else "guest"
    kernel = not args.host_only
    print(f"rserpool tests: {caps}; kernel tests run {where if kernel else 'nowhere'}", flush=True)

    outcomes: list[Outcome] = []
    guest_run: GuestRun | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The guest (one vCPU) boots while the host tests use the other core.
        if kernel and where == "guest":
            guest, body, env = guest_job(extra)
            guest_started = time.monotonic()
            future = pool.submit(guest.run, body, env)
        if not args.kernel_only:
            outcomes.append(run_here("host", f"not ({KERNEL_MARKERS})", extra))
        if kernel and where == "native":
            outcomes.append(run_here("native", KERNEL_MARKERS, extra))
        if kernel and where == "guest":
            outcome, guest_run = finish_guest(future, guest_started)
            outcomes.append(outcome)
            if not args.kernel_only and KERNEL_LIST.exists():
                expected = len(KERNEL_LIST.read_text().splitlines())
                if outcome.tests < expected:
                    outcome.returncode = outcome.returncode or 1
                    outcome.note += (
                        f"; {expected} kernel tests exist, the guest ran {outcome.tests}"
                    )

    print("\n==== rserpool test summary ====")
    for o in outcomes:
        verdict = "ok" if o.ok else "FAILED"
        print(
            f"{o.where:7s} {verdict:6s} {o.tests} tests, {o.failures} failed, {o.errors} errors, "
            f"{o.skipped} skipped (skips count as failures), exit {o.returncode}, "
            f"{o.seconds:.1f} s wall {o.note}"
        )
    if guest_run is not None:
        print(
            f"guest   boot {_secs(guest_run.boot_seconds)}, "
            f"tests {_secs(guest_run.script_seconds)}; console log {guest_run.console_log}"
        )
    print(f"results (junit, logs, pcaps): {RESULTS}")
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


def _secs(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
