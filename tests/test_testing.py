"""``rserpool.testing``: importable without a test framework, and every example of it runs.

The examples are the ```python blocks marked ``<!-- test -->`` in docs/testing.md (each run as
``__main__``; an ``<!-- output -->`` ```text block after one is what it must print) and the
``::`` blocks of the package's module docstrings.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import rserpool.testing
import rserpool.testing.client
import rserpool.testing.registrar

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
SECTION = "## Testing your own RSerPool code with rserpool.testing"


@dataclass
class Example:
    line: int
    source: str
    output: str | None = None


def doc_examples() -> list[Example]:
    """The marked blocks of the section on rserpool.testing, with their outputs."""
    lines = DOC.read_text().splitlines()
    start = lines.index(SECTION)
    found: list[Example] = []
    marker: str | None = None
    index = start + 1
    while index < len(lines) and not lines[index].startswith("## "):
        line = lines[index]
        if line.strip() in ("<!-- test -->", "<!-- output -->"):
            marker = line.strip()
        elif line.startswith("```"):
            opening = index
            body: list[str] = []
            index += 1
            while not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            text = "\n".join(body) + "\n"
            if marker == "<!-- test -->":
                assert line == "```python", f"testing.md:{opening + 1}"
                found.append(Example(opening + 1, text))
            elif marker == "<!-- output -->":
                assert found and found[-1].output is None, f"testing.md:{opening + 1}"
                found[-1].output = text
            else:
                assert line != "```python", f"testing.md:{opening + 1}: not marked <!-- test -->"
            marker = None
        elif line.strip():
            marker = None
        index += 1
    return found


DOC_EXAMPLES = doc_examples()


def test_the_section_has_both_examples() -> None:
    assert len(DOC_EXAMPLES) == 2
    assert all(example.output is not None for example in DOC_EXAMPLES)


@pytest.mark.parametrize(
    "example", DOC_EXAMPLES, ids=[f"testing.md:{e.line}" for e in DOC_EXAMPLES]
)
def test_doc_example(example: Example, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(example.source, f"{DOC}:{example.line}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == example.output


@pytest.mark.parametrize(
    "module", [rserpool.testing.registrar, rserpool.testing.client], ids=lambda m: m.__name__
)
def test_docstring_example(module: ModuleType) -> None:
    doc = module.__doc__
    assert doc is not None
    (block,) = re.findall(r"::\n\n((?:    .*\n|\n)+)", doc)
    exec(compile(textwrap.dedent(block), module.__name__, "exec"), {"__name__": "__main__"})


def test_no_test_framework_is_imported() -> None:
    code = (
        "import sys, rserpool.testing\n"
        "loaded = {m.split('.')[0] for m in sys.modules} & {'pytest', '_pytest', 'hypothesis'}\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_names_its_simulators() -> None:
    assert rserpool.testing.Sim is rserpool.testing.registrar.Sim
    assert rserpool.testing.Net is rserpool.testing.client.Net
    assert set(rserpool.testing.__all__) <= set(dir(rserpool.testing))


class _EndsAnother(list[int]):
    """A fake's ``aborted`` list that, on its first entry, ends another fake's association
    (a PE program with two associations that exits when one of them fails)."""

    def __init__(self, sim: rserpool.testing.Sim, other: rserpool.testing.registrar.Fake) -> None:
        super().__init__()
        self.sim, self.other = sim, other

    def append(self, assoc_id: int) -> None:
        super().append(assoc_id)
        for other_id in list(self.other.endpoint.assocs):
            self.sim.break_association(self.other.endpoint, other_id, notify_local=True)


def test_crash_survives_an_association_ended_by_the_end_of_another() -> None:
    sim = rserpool.testing.Sim(seed=5)
    sim.registrar("PR1", "10.0.0.1", 0x11111111)
    sim.registrar("PR2", "10.0.0.2", 0x22222222)
    sim.run(6000)
    pe1, pe2 = sim.fake("PE1", "10.1.0.1"), sim.fake("PE2", "10.1.0.2")
    pe1.send("PR1", pe1.registration(b"EchoPool", 0x2001))
    pe2.send("PR1", pe2.registration(b"EchoPool", 0x2002))
    pe1.aborted = _EndsAnother(sim, pe2)
    sim.crash("PR1")  # was: KeyError for PE2's association, already gone
    assert pe1.aborted and not pe2.endpoint.assocs
    assert not [e for e in sim.endpoints if e.name == "PR1"]
    before = len(sim.trace)
    sim.run(20000)  # PR2 takes PR1's PEs over; nothing reaches the crashed registrar
    assert not [line for line in sim.trace[before:] if "-> PR1" in line]
    assert "PR1" not in sim.registrars
