"""Every Python example in docs/api.md runs, and prints what the page says it prints.

Each ```python block of the page follows a marker comment:

* ``<!-- test -->``: a complete program. It is run as ``__main__`` (on the in-memory network
  under a MockClock, as the examples are written); an ``<!-- output -->`` ```text block right
  after it is what it must print, exactly.
* ``<!-- test: kernel -->``: one of several programs for kernel SCTP, each with an
  ``async def main()`` and an ``if __name__ == "__main__"`` guard. They run together in one Trio
  run, started in page order; the last one is the client, and when it returns the others are
  cancelled. On the host, ``rserpool.KernelHost`` is replaced by hosts of an in-memory network
  with the same addresses, in virtual time; the kernel test runs them on kernel SCTP in network
  namespaces with the addresses the programs use.

A Python block without a marker fails the suite: no example goes untested.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import rserpool
from interop.topology import Topology
from rserpool.transport import MemoryHost, MemoryNetwork

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(test(?::\s*kernel)?|output)\s*-->\s*$")


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None  # "test", "test: kernel", "output" or None
    text: str


@dataclass
class Example:
    line: int
    kind: str  # "program" or "kernel"
    source: str
    output: str | None

    @property
    def id(self) -> str:
        return f"api.md:{self.line}"


def blocks(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    marker: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        found = MARKER.match(line)
        if found:
            word = found.group(1)
            marker = "test: kernel" if "kernel" in word else word
        elif fence:
            start = index
            index += 1
            body: list[str] = []
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            yield Block(start + 1, fence.group(1), marker, "\n".join(body) + "\n")
            marker = None
        elif line.strip():
            marker = None
        index += 1


def examples() -> list[Example]:
    found: list[Example] = []
    for block in blocks(DOC.read_text()):
        if block.language == "python" and block.marker in ("test", "test: kernel"):
            kind = "program" if block.marker == "test" else "kernel"
            found.append(Example(block.line, kind, block.text, None))
        elif block.marker == "output" and found and found[-1].output is None:
            found[-1].output = block.text
    return found


EXAMPLES = examples()
PROGRAMS = [e for e in EXAMPLES if e.kind == "program"]
KERNEL = [e for e in EXAMPLES if e.kind == "kernel"]


def test_every_python_block_is_run() -> None:
    blocks_found = list(blocks(DOC.read_text()))
    untested = [b.line for b in blocks_found if b.language == "python" and b.marker is None]
    assert not untested, f"docs/api.md: python blocks without <!-- test --> at lines {untested}"
    for block in blocks_found:
        if block.marker == "output":
            assert block.language == "text", f"line {block.line}: output is a ```text block"
    assert len(PROGRAMS) >= 2 and len(KERNEL) == 3
    assert sum(e.output is not None for e in PROGRAMS) >= 1


@pytest.mark.parametrize("example", PROGRAMS, ids=[e.id for e in PROGRAMS])
def test_program(example: Example, capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(example.source, f"{DOC}:{example.line}", "exec")
    started = time.perf_counter()
    exec(code, {"__name__": "__main__"})
    elapsed = time.perf_counter() - started
    printed = capsys.readouterr().out
    if example.output is not None:
        assert printed == example.output
    assert elapsed < 5, f"{elapsed:.2f} s of real time"  # virtual time: milliseconds normally


def test_failover_example_is_quick() -> None:
    """The first example (registrar, two PEs, a PU that fails over) in well under a second."""
    example = PROGRAMS[0]
    assert example.output is not None and "failover complete" in example.output
    source = "".join(
        line
        for line in example.source.splitlines(keepends=True)
        if not line.startswith("trio.run(")
    )
    namespace: dict[str, Any] = {"__name__": "docs_api"}
    exec(compile(source, f"{DOC}:{example.line}", "exec"), namespace)
    runs = []
    for _ in range(3):  # the best of three, so that a busy machine does not decide
        started = time.perf_counter()
        trio.run(namespace["main"], clock=trio.testing.MockClock(autojump_threshold=0))
        runs.append(time.perf_counter() - started)
    assert min(runs) < 0.5, runs


# ---------------------------------------------------------------------------- kernel programs


def load_mains() -> list[Callable[[], Awaitable[None]]]:
    mains = []
    for example in KERNEL:
        assert 'if __name__ == "__main__":' in example.source, example.id
        namespace: dict[str, Any] = {"__name__": "docs_api"}
        exec(compile(example.source, f"{DOC}:{example.line}", "exec"), namespace)
        mains.append(namespace["main"])
    return mains


async def run_programs(mains: list[Callable[[], Awaitable[None]]], within: float) -> None:
    """The servers in page order, then the client; the servers are cancelled after it."""
    *servers, client = mains
    with trio.fail_after(within):
        async with trio.open_nursery() as nursery:
            for server in servers:
                nursery.start_soon(server)
                await trio.sleep(0.5)  # as when the programs are started by hand
            await client()
            nursery.cancel_scope.cancel()


def check_output(printed: str) -> None:
    assert "registrar $00000101: ASAP at 198.51.100.1:3863" in printed
    assert re.search(
        r"PE \$[0-9a-f]{8} registered; pool users reach it at 198\.51\.100\.2:", printed
    )
    for n in (1, 2, 3):
        assert re.search(rf"^from PE \$[0-9a-f]{{8}}: hello #{n}$", printed, re.MULTILINE), printed


def test_kernel_programs_on_the_memory_network(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    net = MemoryNetwork(seed=3)

    def memory_host(addresses: list[str] | None = None) -> MemoryHost:
        assert addresses, "the examples name their addresses"
        owner = net.host_of(addresses[0])
        return owner or net.add_host(f"host{len(net.hosts) + 1}", addresses)

    monkeypatch.setattr(rserpool, "KernelHost", memory_host, raising=False)
    mains = load_mains()
    trio.run(run_programs, mains, 600, clock=trio.testing.MockClock(autojump_threshold=0))
    check_output(capsys.readouterr().out)


@pytest.mark.sctp
def test_kernel_programs_on_kernel_sctp(
    topology: Topology, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The programs as the page says to run them: the registrar in one namespace at
    198.51.100.1, the PE and the PU in another at 198.51.100.2 (the tutorial's network)."""
    from rserpool.transport.kernel import KernelHost

    pr, cl = topology.add_host("pr"), topology.add_host("cl")
    link = topology.link(pr, cl)
    assert (link.a.address, link.b.address) == ("198.51.100.1", "198.51.100.2")
    namespaces = {"198.51.100.1": pr, "198.51.100.2": cl}

    def kernel_host(addresses: list[str] | None = None) -> KernelHost:
        assert addresses, "the examples name their addresses"
        enter: Callable[[], AbstractContextManager[None]] = namespaces[addresses[0]].entered
        return KernelHost(addresses, enter)

    monkeypatch.setattr(rserpool, "KernelHost", kernel_host, raising=False)
    mains = load_mains()
    trio.run(run_programs, mains, 60)
    check_output(capsys.readouterr().out)
