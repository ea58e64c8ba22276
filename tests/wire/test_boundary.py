"""rserpool.wire is sans-IO: no trio, sockets, clocks or global randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import rserpool.wire

FORBIDDEN = {"trio", "socket", "time", "random", "asyncio", "selectors", "hypothesis"}


def test_wire_imports_nothing_with_io() -> None:
    package = Path(rserpool.wire.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
