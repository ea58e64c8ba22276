"""Fixtures shared by all tests, and the rule that a kernel test which cannot run fails.

Tests marked ``sctp``, ``rsplib`` or ``guest`` need kernel SCTP, root (network namespaces) and,
for ``rsplib``, RSPLIB 3.4.4 and tshark. ``make test`` runs them where all of that exists (here,
or inside the test guest) with RSERPOOL_STRICT=1: then a missing capability is a failure, never
a silent skip. A plain ``pytest`` on a machine without them skips them with the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from interop.capabilities import Capabilities
from interop.topology import Topology

REPO = Path(__file__).resolve().parent.parent
KERNEL_MARKERS = ("sctp", "rsplib", "guest")

# No per-example deadline: `make test` runs the host tests next to a QEMU guest on the other
# core, so an example's wall-clock time says nothing about the code under test.
settings.register_profile("rserpool", deadline=None)
# Inside the guest the repository is read-only: no example database either.
settings.register_profile("read-only", deadline=None, database=None)
settings.load_profile("rserpool" if os.access(REPO, os.W_OK) else "read-only")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``make test``, note every kernel test collected (before ``-m`` deselects them):
    the summary checks that the guest ran as many."""
    listing = os.environ.get("RSERPOOL_KERNEL_LIST")
    if listing:
        kernel = [i.nodeid for i in items if any(i.get_closest_marker(m) for m in KERNEL_MARKERS)]
        Path(listing).write_text("".join(f"{nodeid}\n" for nodeid in kernel))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in KERNEL_MARKERS:
        if item.get_closest_marker(marker) is None:
            continue
        missing = Capabilities.probe().missing_for(marker)
        if missing:
            reason = f"needs {', '.join(missing)} (run it with `make test`)"
            if os.environ.get("RSERPOOL_STRICT"):
                pytest.fail(f"cannot run here: {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """A directory for this test's logs and captures (kept; returned from the guest)."""
    root = Path(os.environ.get("RSERPOOL_ARTIFACTS", REPO / "build" / "test-results" / "local"))
    path = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def topology() -> Iterator[Topology]:
    """An empty test network (tuned SCTP profile); every namespace is deleted afterwards."""
    with Topology() as topo:
        yield topo
