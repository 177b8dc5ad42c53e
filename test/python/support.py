"""Shared by the unit tests: puts the repository's python/ folder first on sys.path, and a
stand-in for PL/Python's plpy module for runs that touch no database."""

import contextlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'python'))


class FakePlpy:
    """plpy without a database: subtransactions do nothing, SQL is refused."""

    def subtransaction(self):
        return contextlib.nullcontext()

    def execute(self, *args, **kwargs):
        raise AssertionError('this unit test must not run SQL')

    prepare = cursor = execute
