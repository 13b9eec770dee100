"""Loop factories and runners for loops that need a little set-up before
`--loop MODULE:ATTR` or `--runner MODULE:ATTR` can use them.

The CPython adapter puts this directory on the path, so these are named
`loopspec_loops:qasync_loop`, `loopspec_loops:trio_asyncio_run`.
"""

import asyncio
import os

_APP = None
_KEPT = []


def qasync_loop():
    """A new `qasync.QEventLoop` on the one QApplication of the process
    (Qt's `offscreen` platform unless QT_QPA_PLATFORM says otherwise)."""
    global _APP
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    if _APP is None:
        from qasync import QtWidgets
        _APP = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loop = qasync.QEventLoop(_APP, already_running=False)
    # Kept alive for the whole process: collecting a closed QEventLoop (with
    # its Qt objects) now and then aborts the process (SIGABRT) inside
    # PySide6, which would turn any case into a CRASH.
    _KEPT.append(loop)
    return loop


async def _cancel_all_tasks():
    """asyncio.run's teardown, from inside the loop: cancel every other task
    still pending and wait for them; then shut down async generators."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    await loop.shutdown_asyncgens()


def trio_asyncio_run(coro):
    """Run `coro` as main() on trio-asyncio's loop inside `trio.run`, then
    asyncio.run's teardown steps on that loop; return main's result."""
    import trio
    import trio_asyncio

    async def body():
        async with trio_asyncio.open_loop():
            try:
                return await trio_asyncio.aio_as_trio(coro)
            finally:
                await trio_asyncio.aio_as_trio(_cancel_all_tasks)()
    try:
        return trio.run(body)
    except BaseExceptionGroup as group:  # noqa: F821 - a builtin from 3.11 on
        # trio's nurseries wrap what main() raised; asyncio.run raises it bare.
        while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
            group = group.exceptions[0]
        raise group
