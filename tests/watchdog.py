"""A test that hangs fails, says where it waits, and the run goes on.

Every phase of a test (setup, call, teardown) has `LIMIT` seconds. When one runs over, a timer
thread asks the session's event loop to print where each of its tasks waits (the await chain, down
to the Playwright or Socket.IO call), then to cancel the tasks that run test code: a test's
coroutine, an async fixture's setup or teardown. The phase fails with that message and the next
test starts (a cancelled step whose clean-up hangs too is cancelled once more). A phase blocked
outside the loop (a sync call that never returns) gets every thread's stack printed and the run
interrupted (SIGINT): nothing else could free it, and a run that ends with a report beats one that
CI stops silently. After GIVE_UP_AFTER hung steps the run stops as well.

The report goes to the terminal as it happens (a copy of stderr taken before pytest captures it),
so that it is in the CI log even if the run is stopped later.

Not pytest-timeout: it raises in the main thread wherever that is (inside the event loop's select),
leaves the hung task pending on the session's loop, and prints thread stacks, which for asyncio code
all end in select.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytest_asyncio.plugin

LIMIT = float(os.environ.get("VIDEOCHAT_TEST_LIMIT", "240"))
GIVE_UP_AFTER = 3  # hung steps, after which the run stops: something outside the tests is stuck
GRACE = 15.0  # for the loop to take the cancellation; if it does not, the run is interrupted

_TEST_CODE = (str(Path(__file__).parent) + os.sep, pytest_asyncio.plugin.__file__)


class Watchdog:
    def __init__(self, limit: float = LIMIT) -> None:
        self.limit = limit
        self.loop: asyncio.AbstractEventLoop | None = None  # the session's, once a test saw it
        self._out = os.fdopen(os.dup(2), "w", buffering=1)
        self.fired: list[str] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        with self._watch(item, "setup"):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        with self._watch(item, "call"):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item):
        with self._watch(item, "teardown"):
            yield

    @contextmanager
    def _watch(self, item: pytest.Item, phase: str) -> Iterator[None]:
        done = threading.Event()
        what = f"{item.nodeid} ({phase})"
        timer = threading.Thread(target=self._guard, args=(what, done), daemon=True, name="watchdog")
        timer.start()
        try:
            yield
        finally:
            done.set()
            timer.join()
            if len(self.fired) >= GIVE_UP_AFTER:
                item.session.shouldstop = f"watchdog: {len(self.fired)} test steps hung; stopping the run"

    def _guard(self, what: str, done: threading.Event) -> None:
        if done.wait(self.limit):
            return
        self.fired.append(what)
        self.say(f"\n=== watchdog: {what} ran over {self.limit:.0f} s ===")
        for _ in range(2):  # a cancelled step's own clean-up (a finally, an async with) may hang too
            loop = self.loop
            if loop is None or not loop.is_running():
                break
            taken = threading.Event()
            loop.call_soon_threadsafe(self._cancel_test_tasks, loop, what, taken)
            if not taken.wait(GRACE):
                break  # something blocks the loop itself
            if done.wait(self.limit):
                return
        self.say(
            f"=== watchdog: {what} is blocked outside the event loop, or did not end when cancelled;"
            " every thread's stack: ==="
        )
        faulthandler.dump_traceback(self._out, all_threads=True)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it interrupts a blocking system call too
        if not done.wait(GRACE):
            os.kill(os.getpid(), signal.SIGINT)  # asyncio's Runner takes a first one for "cancel the task"

    def _cancel_test_tasks(self, loop: asyncio.AbstractEventLoop, what: str, taken: threading.Event) -> None:
        taken.set()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            self.say(f"--- {task.get_name()} waits in:")
            for line in _await_chain(task.get_coro()):
                self.say(f"    {line}")
        stuck = [task for task in tasks if _runs_test_code(task)]
        self.say(f"=== watchdog: cancelling {len(stuck)} task(s) of {what} ===")
        for task in stuck:
            task.cancel(f"watchdog: {what} ran over {self.limit:.0f} s (where it waited is printed above)")

    def say(self, line: str) -> None:
        """Writes a line to the terminal at once, even while pytest captures a test's output."""
        print(line, file=self._out, flush=True)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for what in self.fired:
            terminalreporter.write_line(f"watchdog: {what} ran over {self.limit:.0f} s (see above)")


def _await_chain(awaitable: object) -> Iterator[str]:
    """Where a suspended coroutine waits: each coroutine it awaits, down to the future."""
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            yield repr(awaitable)[:200]
            return
        yield f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)


def _runs_test_code(task: asyncio.Task) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and code.co_filename.startswith(_TEST_CODE)
