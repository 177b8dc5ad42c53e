"""What keeps a block from holding the server hostage: cancel, statement_timeout and termination
reach Python code, and an optional ceiling on the backend's memory.

Interrupts: Postgres's signal handlers only set flags (QueryCancelPending for a cancel or a
statement_timeout, ProcDiePending for pg_terminate_backend; pg_pipeline's workers set
QueryCancelPending on SIGTERM) that CHECK_FOR_INTERRUPTS acts on, and Python code never gets
there. While a block runs, a watcher thread polls those flags (exported by the postgres binary)
and raises Interrupted in the block's thread at its next Python instruction; the runner then
runs a statement so that Postgres acts on the interrupt itself, with its own error. time.sleep
is replaced meanwhile by one that sleeps in short steps, so a sleeping sensor hears it too; other
long calls in C (a download without a timeout) are heard only when they return.

Memory: with a limit, RLIMIT_DATA (private memory: Python, pandas, palloc; not shared_buffers)
is lowered for the block, so an oversized DataFrame fails with MemoryError instead of waking the
kernel's OOM killer, which would restart every backend of the server.
"""

import contextlib
import ctypes
import resource
import threading
import time

POLL_SECONDS = 0.1


class Interrupted(BaseException):
    """Raised in the block's thread when Postgres has a cancel or termination pending (a
    BaseException, so the block's own `except Exception` does not swallow it)."""


def _flags():
    """QueryCancelPending and ProcDiePending of this backend, or None outside one."""
    try:
        program = ctypes.CDLL(None)
        return (ctypes.c_int.in_dll(program, 'QueryCancelPending'),
                ctypes.c_int.in_dll(program, 'ProcDiePending'))
    except (OSError, ValueError):
        return None


def _raise_in(thread_id, exception):
    """Makes thread_id raise exception at its next instruction (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception else None)


@contextlib.contextmanager
def interruptible():
    """Raises Interrupted in this thread when a cancel or termination is pending."""
    flags = _flags()
    if flags is None:
        yield
        return
    target, stop = threading.get_ident(), threading.Event()

    def watch():
        """Polls the flags until the block ends or one is set."""
        while not stop.wait(POLL_SECONDS):
            if flags[0].value or flags[1].value:
                _raise_in(target, Interrupted)
                return

    watcher = threading.Thread(target=watch, name='pg_pipeline interrupt watcher', daemon=True)
    watcher.start()
    real_sleep = time.sleep

    def sleep(seconds):
        """time.sleep in steps of POLL_SECONDS, so that Interrupted can arrive between them."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            real_sleep(min(left, POLL_SECONDS))

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real_sleep
        stop.set()
        watcher.join()
        _raise_in(target, None)  # one raised as the block ended must not hit the runner


@contextlib.contextmanager
def memory_limit(megabytes):
    """Lowers RLIMIT_DATA to megabytes for the with block (no limit when None or 0)."""
    if not megabytes:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = int(megabytes) * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
