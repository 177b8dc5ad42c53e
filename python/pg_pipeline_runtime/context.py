"""The block being run, for the mage_ai compatibility package: its request, its database, the
functions its decorators registered, its log. One block runs at a time in a process."""

import contextlib

_current = None


class Registry:
    """The functions a block file's decorators registered, by decorator name, in file order."""

    def __init__(self):
        self.functions = []  # (decorator name, function)

    def add(self, kind, function):
        """Records function under decorator kind."""
        self.functions.append((kind, function))

    def of_kind(self, kind):
        """The functions registered with decorator kind, in file order."""
        return [f for k, f in self.functions if k == kind]


# Where decorators register when no block is running (a block file imported on its own).
_idle_registry = Registry()


class RunContext:
    """One block's run: the parsed request, the plpy module, the log and the registry."""

    def __init__(self, plpy, request, log):
        self.plpy = plpy
        self.request = request
        self.log = log
        self.registry = Registry()
        self.doing = None  # our own step being run ("writing the output ..."), for errors
        self._database = None

    @property
    def database(self):
        """The current database, through plpy (created on first use)."""
        if self._database is None:
            from .database import LocalDatabase
            self._database = LocalDatabase(self.plpy)
        return self._database


def current():
    """The running block's context; a clear error outside a block."""
    if _current is None:
        raise RuntimeError('this mage_ai function works only inside a block run by pg_pipeline')
    return _current


def current_or_none():
    """The running block's context, or None."""
    return _current


def registry():
    """Where decorators register now."""
    return _current.registry if _current is not None else _idle_registry


@contextlib.contextmanager
def running(ctx):
    """Makes ctx the running block's context for the duration of the with block."""
    global _current
    previous, _current = _current, ctx
    try:
        yield ctx
    finally:
        _current = previous
