"""The registrar's statistics file (``rserpool registrar --stats-file``, RSPLIB's
``-statsfile``): one JSON document written every interval and on SIGUSR1, replaced atomically
so that a reader never sees half a file, or printed on one line to standard output."""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import trio

log = logging.getLogger("rserpool.registrar")


class StatisticsWriter:
    """Writes ``document()`` as JSON to ``path`` (atomically), or to standard output."""

    def __init__(self, document: Callable[[], dict[str, Any]], path: Path | None) -> None:
        self.document = document
        self.path = path
        self.failed = False

    def write(self) -> None:
        document = self.document()
        if self.path is None:
            print(json.dumps(document, separators=(",", ":")), flush=True)
            return
        try:
            write_atomically(self.path, json.dumps(document, indent=2) + "\n")
        except OSError as exc:
            if not self.failed:  # once, not every interval
                log.warning("cannot write the statistics to %s: %s", self.path, exc.strerror)
            self.failed = True
        else:
            self.failed = False

    async def every(self, seconds: float) -> None:
        while True:
            self.write()
            await trio.sleep(seconds)

    async def on_signal(self) -> None:
        """SIGUSR1: write now (where the platform has SIGUSR1)."""
        usr1 = getattr(signal, "SIGUSR1", None)
        if usr1 is None:  # pragma: no cover (Windows)
            return
        with trio.open_signal_receiver(usr1) as signals:
            async for _ in signals:
                self.write()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``."""
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):  # the temporary file must not stay behind
            os.unlink(temporary)
        raise
