"""``python bench/trio_steps.py ARGS``: ``python -m rserpool ARGS`` with a Trio instrument that
counts what the scheduler does, for finding where a one-request-at-a-time round trip goes.

It counts the run loop's passes (one I/O wait each; how long they waited and how long the
loop spent outside them) and each task's steps and their time. SIGUSR2 prints the counts
since the last SIGUSR2 as one line, ``trio-steps {...}`` (JSON), to standard error and starts
again: send one before and one after a phase and divide by the operations in between. With
``RSERPOOL_CPROFILE=PATH`` in the environment, cProfile runs from one SIGUSR2 to the next and its
statistics are written to PATH.
"""

from __future__ import annotations

import cProfile
import json
import os
import runpy
import signal
import sys
import time
from collections import Counter, defaultdict
from types import FrameType

import trio


class Steps(trio.abc.Instrument):
    def __init__(self, profile_to: str | None = None) -> None:
        self.profile_to = profile_to
        self.profiler: cProfile.Profile | None = None
        self.reset()
        self._io_started = 0.0
        self._step_started = 0.0

    def reset(self) -> None:
        self.began = time.perf_counter()
        self.io_waits = 0
        self.io_wait_seconds = 0.0
        self.steps: Counter[str] = Counter()
        self.step_seconds: defaultdict[str, float] = defaultdict(float)

    def before_io_wait(self, timeout: float) -> None:
        self._io_started = time.perf_counter()

    def after_io_wait(self, timeout: float) -> None:
        self.io_waits += 1
        self.io_wait_seconds += time.perf_counter() - self._io_started

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._step_started = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        name = task.name.rsplit(".", 1)[-1]
        self.steps[name] += 1
        self.step_seconds[name] += time.perf_counter() - self._step_started

    def report(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        wall = time.perf_counter() - self.began
        document = {
            "wall": wall,
            "io_waits": self.io_waits,
            "io_wait_seconds": self.io_wait_seconds,
            "steps": dict(self.steps),
            "step_seconds": dict(self.step_seconds),
        }
        print(f"trio-steps {json.dumps(document)}", file=sys.stderr, flush=True)
        if self.profile_to:
            if self.profiler is None:
                self.profiler = cProfile.Profile()
                self.profiler.enable()
            else:
                self.profiler.disable()
                self.profiler.dump_stats(self.profile_to)
                self.profiler = None
        self.reset()


def main() -> None:
    steps = Steps(os.environ.get("RSERPOOL_CPROFILE"))
    signal.signal(signal.SIGUSR2, steps.report)
    plain_run = trio.run

    def run(*args: object, **kwargs: object) -> object:
        return plain_run(*args, instruments=[steps], **kwargs)  # type: ignore[arg-type]

    trio.run = run  # type: ignore[assignment]
    sys.argv = ["rserpool", *sys.argv[1:]]
    sys.path.insert(0, os.getcwd())  # as ``python -m rserpool``: the package of the cwd
    runpy.run_module("rserpool", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
