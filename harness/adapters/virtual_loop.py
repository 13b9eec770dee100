"""An asyncio event loop on a virtual clock, with no I/O at all.

`SelectorEventLoop` needs a self-pipe (a socketpair), which Pyodide cannot
open.  `VirtualClockLoop` keeps every scheduling decision of CPython's
`BaseEventLoop._run_once` (ready queue, timer heap, clock resolution) and only
replaces the I/O poll: `select(timeout)` returns no events and moves the
clock forward by `timeout`, so `sleep(5)` takes no real time.

When nothing is ready and no timer is pending, a real loop would block
forever; this one raises `Deadlock` instead.
"""

import asyncio

from prelude import Deadlock


class VirtualSelector:
    """A selector with no file descriptors: polling only advances time."""

    def __init__(self, loop):
        self.loop = loop

    def select(self, timeout=None):
        """Advance the loop's clock by `timeout`; there are never events."""
        if timeout is None:
            raise Deadlock("the loop has no ready callback and no timer: "
                           "a real loop would wait forever")
        self.loop.advance(timeout)
        return []

    def close(self):
        """Nothing to release."""


class VirtualClockLoop(asyncio.BaseEventLoop):
    """`BaseEventLoop` whose clock moves only when the loop would wait."""

    def __init__(self):
        super().__init__()
        self._virtual_time = 0.0
        self._selector = VirtualSelector(self)

    def time(self):
        """The virtual clock, in seconds since the loop was created."""
        return self._virtual_time

    def advance(self, seconds):
        """Move the virtual clock forward."""
        self._virtual_time += seconds

    def _process_events(self, event_list):
        """No I/O events exist."""

    def _write_to_self(self):
        """No self-pipe: nothing outside the loop can wake it."""
