"""Exceptions as the response's "error": the message, the line in the user's block file (found
in the traceback frames of the code exec'd under that file name), the traceback from the user's
frame on as detail, and a SQLSTATE (the Postgres error's when there is one, else 38000,
external_routine_exception)."""

import traceback

MAX_DETAIL_CHARS = 8_000


def unsupported_note(exc):
    """Why an import from mage_ai failed, when it did: pg_pipeline's mage_ai is a subset."""
    name = getattr(exc, 'name', None) or ''
    if isinstance(exc, ImportError) and (name == 'mage_ai' or name.startswith('mage_ai.')):
        return ' (not supported by pg_pipeline: its mage_ai module provides the decorators, ' \
               'io.config.ConfigFileLoader, io.postgres.Postgres, settings.repo.get_repo_path ' \
               'and data_preparation.variable_manager.get_variable)'
    return ''


def user_line(exc, path):
    """The line of path where exc arose (its deepest frame in that file), or None."""
    if isinstance(exc, SyntaxError) and exc.filename == path:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


def detail(exc, path, ours):
    """The traceback from the first frame in path on (all of it when the failing step was our
    own, none of it otherwise: it is ours too), cut to size."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename == path), 0 if ours else len(frames))
    text = ''.join(traceback.format_list(frames[first:]) +
                   traceback.format_exception_only(type(exc), exc)).rstrip()
    return text if len(text) <= MAX_DETAIL_CHARS else '...' + text[-MAX_DETAIL_CHARS:]


def headline(exc):
    """One line for exc: a database error's or our own message as it is, else 'Type: text'."""
    if getattr(exc, 'sqlstate', None):
        return str(exc)
    if isinstance(exc, SyntaxError):
        return '%s: %s' % (type(exc).__name__, exc.msg)
    text = str(exc)
    return '%s: %s' % (type(exc).__name__, text) if text else type(exc).__name__


def describe(exc, path, doing=None):
    """The response's error object for exc; doing says what was being done, when not the
    user's own code ("writing the output to ...")."""
    line = user_line(exc, path)
    message = headline(exc) + unsupported_note(exc)
    if line is not None:
        message += ' (%s, line %d)' % (path, line)
    if doing:
        message = '%s: %s' % (doing, message)
    error = {'message': message, 'detail': detail(exc, path, doing is not None), 'line': line,
             'sqlstate': getattr(exc, 'sqlstate', None) or '38000'}
    hint = getattr(exc, 'hint', None)
    if hint:
        error['hint'] = hint
    return error
