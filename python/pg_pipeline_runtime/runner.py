"""Runs one Mage Python block inside the server: pipeline._python_block(request) calls
run_block(plpy, request_json) and returns its response.

Request (JSON object):
  kind        data_loader | transformer | data_exporter | custom | sensor | conditional
  block       the block's name (uuid); path: its file in the project, for messages
  source      the block file's Python text, run unchanged
  upstream    [{"name", "relation"}] in the block's upstream order: each relation is read into a
              DataFrame and passed positionally, as Mage passes upstream outputs
  output      quoted qualified name of the table to create for a returned DataFrame, or null;
              output_unlogged (default true) makes it UNLOGGED, like the executor's staging
  variables   the run's variables (passed as keyword arguments); execution_date (ISO), run_id,
              pipeline, project_dir, interval_start_datetime / interval_end_datetime (ISO,
              optional), configuration (the block's, default {})
  io_config   {profile: {...}}: a profile with "pg_pipeline_remote": true is another server
  lowercase_columns  export() lower-cases column names (default true), as Mage's exporter does
  outputs     optional {block name: relation} for get_variable beyond the upstream blocks
  memory_limit_mb  optional ceiling on the backend's private memory while the block runs
              (limits.py): past it the block fails with MemoryError instead of the server
              meeting the OOM killer

Response: {"rows": n | null, "columns": [[name, pg type]], "log": [line], "tests": [{"name",
"passed", "message", "line"}], "error": null | {"message", "detail", "line", "sqlstate"[, "hint"]},
"seconds": {"read": s, "run": s, "write": s, "tests": s}} and, for sensors and conditionals,
"result": true | false. "seconds" splits the time between reading the upstream tables, the
block function, writing its output table, and the tests ("read" includes running the file's
top level).

The block runs in a subtransaction: when it fails, whatever it wrote (its output table, its
exports) is rolled back and the response carries the error; the caller's transaction goes on.
Tests run after it, on what the block function returned (Mage calls test(output, *args)).
A cancel, statement_timeout or termination is not a response: the statement fails with
Postgres's own error (limits.py explains how it reaches Python code).
"""

import builtins
import contextlib
import gc
import inspect
import json
import linecache
import os
import sys
import time
import types
from datetime import datetime, timezone

import pandas as pd

from . import capture, context, errors, limits, tables
from .tables import PgPipelineError

# The request's kind -> the decorator that marks the block function.
DECORATOR_OF_KIND = {
    'data_loader': 'data_loader', 'transformer': 'transformer', 'data_exporter': 'data_exporter',
    'custom': 'custom', 'sensor': 'sensor', 'conditional': 'condition',
}


class Request:
    """The request's fields, with defaults (see the module comment)."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ValueError('the request must be a JSON object')
        for key in ('kind', 'block', 'source'):
            if not isinstance(data.get(key), str):
                raise ValueError('"%s" must be a string' % key)
        if data['kind'] not in DECORATOR_OF_KIND:
            raise ValueError('unknown block kind "%s"' % data['kind'])
        self.kind = data['kind']
        self.block = data['block']
        self.source = data['source']
        self.path = data.get('path') or self.block + '.py'
        self.upstream = list(data.get('upstream') or [])
        for u in self.upstream:
            if not isinstance(u, dict) or not isinstance(u.get('relation'), str):
                raise ValueError('each upstream entry needs a "relation"')
        self.output = data.get('output')
        self.output_unlogged = data.get('output_unlogged', True) is not False
        self.variables = dict(data.get('variables') or {})
        self.execution_date = parse_datetime(data.get('execution_date')) or datetime.now(timezone.utc)
        self.interval_start = parse_datetime(data.get('interval_start_datetime'))
        self.interval_end = parse_datetime(data.get('interval_end_datetime'))
        self.run_id = data.get('run_id')
        self.pipeline = data.get('pipeline')
        self.project_dir = data.get('project_dir')
        self.configuration = dict(data.get('configuration') or {})
        self.io_config = dict(data.get('io_config') or {})
        self.lowercase_columns = data.get('lowercase_columns', True) is not False
        self.outputs = dict(data.get('outputs') or {})
        self.memory_limit_mb = data.get('memory_limit_mb')
        for u in self.upstream:
            self.outputs.setdefault(u.get('name'), u['relation'])


def parse_datetime(value):
    """An ISO 8601 string as a datetime (None stays None)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace('Z', '+00:00'))


def block_kwargs(request, logger):
    """The keyword arguments Mage passes a block: the run's variables and its own keys."""
    kwargs = dict(request.variables)
    kwargs.update(execution_date=request.execution_date, pipeline_uuid=request.pipeline,
                  block_uuid=request.block, run_id=request.run_id,
                  configuration=request.configuration, logger=logger)
    if request.interval_start is not None:
        kwargs['interval_start_datetime'] = request.interval_start
    if request.interval_end is not None:
        kwargs['interval_end_datetime'] = request.interval_end
    return kwargs


def fit_call(function, args, kwargs):
    """The arguments function can take: as many positional ones as it has room for, and the
    keyword ones it names (all when it has **kwargs)."""
    params = list(inspect.signature(function).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not any(p.kind == p.VAR_POSITIONAL for p in params):
        args = args[:len(positional)]
    taken = {p.name for p in positional[:len(args)]}
    if any(p.kind == p.VAR_KEYWORD for p in params):
        kwargs = {k: v for k, v in kwargs.items() if k not in taken}
    else:
        named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        kwargs = {k: v for k, v in kwargs.items() if k in named and k not in taken}
    return list(args), kwargs


def block_function(ctx):
    """The function the block's decorator registered (the last one when several are)."""
    decorator = DECORATOR_OF_KIND[ctx.request.kind]
    found = ctx.registry.of_kind(decorator)
    if not found:
        raise PgPipelineError('%s has no @%s function' % (ctx.request.path, decorator), '42883',
                              'A %s block defines one function decorated with @%s.'
                              % (ctx.request.kind, decorator))
    if len(found) > 1:
        ctx.log.add_event('note: %d functions are decorated with @%s; running the last one, %s'
                    % (len(found), decorator, found[-1].__name__))
    return found[-1]


def as_frame(result, request):
    """What the block returned, as the DataFrame its output table holds (None: no table)."""
    if result is None or isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_frame()
    if isinstance(result, (list, dict)):
        return pd.DataFrame(result)
    raise PgPipelineError('block "%s" returned a %s; pg_pipeline passes DataFrames between blocks'
                          % (request.block, type(result).__name__), '42804')


@contextlib.contextmanager
def block_module(request):
    """A fresh module for the block file, with Mage's decorators among its builtins, in
    sys.modules while it runs (dataclasses and pickle look there) and its source in linecache;
    the project folder and its parent are importable meanwhile, as in Mage."""
    name = 'pg_pipeline_block_' + ''.join(c if c.isalnum() else '_' for c in request.block)
    module = types.ModuleType(name)
    module.__file__ = request.path
    # The decorators are builtins of the block, not globals: Mage's `if 'transformer' not in
    # globals()` preamble imports ours, and a file without it still finds them, as in Mage.
    from mage_ai.data_preparation import decorators
    module.__dict__['__builtins__'] = dict(vars(builtins), **{
        d: getattr(decorators, d) for d in decorators.NAMES})
    sys.modules[name] = module
    # Tracebacks and warnings quote the user's lines from here; the file is not on this disk.
    linecache.cache[request.path] = (len(request.source), None, request.source.splitlines(True), request.path)
    added = []
    if request.project_dir and os.path.isdir(request.project_dir):
        for folder in (os.path.dirname(os.path.abspath(request.project_dir)), request.project_dir):
            if folder not in sys.path:
                sys.path.insert(0, folder)
                added.append(folder)
    try:
        yield module
    finally:
        for folder in added:
            sys.path.remove(folder)
        sys.modules.pop(name, None)
        linecache.cache.pop(request.path, None)
        module.__dict__.clear()  # drops the block's globals, and the DataFrames they hold


def execute(ctx, module, logger, response):
    """Runs the block file and its function, writes the output table; returns what the
    function returned. ctx.doing names our own step while one runs, for error messages."""
    request = ctx.request
    seconds = response['seconds']
    started = time.monotonic()
    exec(compile(request.source, request.path, 'exec'), module.__dict__)
    function = block_function(ctx)
    upstream = []
    for u in request.upstream:
        ctx.doing = 'reading upstream block "%s" from %s' % (u.get('name'), u['relation'])
        upstream.append(ctx.database.read_relation(u['relation']))
    ctx.doing = None
    args, kwargs = fit_call(function, upstream, block_kwargs(request, logger))
    del upstream
    seconds['read'] = time.monotonic() - started
    result = function(*args, **kwargs)
    del args  # the upstream DataFrames, unless the block kept them
    seconds['run'] = time.monotonic() - started - seconds['read']
    if request.kind in ('sensor', 'conditional'):
        response['result'] = bool(result)
        return result
    if request.output is not None:
        frame = as_frame(result, request)
        if frame is None:
            ctx.log.add_event('note: the block returned no DataFrame; no output table was created')
        else:
            ctx.doing = 'writing the output of block "%s" to %s' % (request.block, request.output)
            started = time.monotonic()
            rows, columns = tables.write_output(ctx.database, frame, request.output,
                                                request.output_unlogged)
            response['rows'], response['columns'] = rows, columns
            seconds['write'] = time.monotonic() - started
            ctx.doing = None
    return result


def run_tests(ctx, output, logger):
    """Runs the block's @test functions on its output; one result each."""
    results = []
    kwargs = block_kwargs(ctx.request, logger)
    for test in ctx.registry.of_kind('test'):
        result = {'name': test.__name__, 'passed': True, 'message': '', 'line': None}
        try:
            args, test_kwargs = fit_call(test, [output], kwargs)
            test(*args, **test_kwargs)
        except (Exception, SystemExit) as e:
            line = errors.user_line(e, ctx.request.path)
            text = str(e) if isinstance(e, AssertionError) else '%s: %s' % (type(e).__name__, e)
            result.update(passed=False, line=line,
                          message=text or 'assertion failed (%s, line %s)' % (ctx.request.path, line))
        results.append(result)
    return results


def run_guarded(ctx, module, logger, response):
    """Runs the block in a subtransaction, then its tests; fills response. A cancel that
    reached our own SQL is raised again, for the statement to fail with it."""
    request, output = ctx.request, None
    try:
        with ctx.plpy.subtransaction():
            output = execute(ctx, module, logger, response)
    except (Exception, SystemExit) as e:
        if getattr(e, 'sqlstate', None) == '57014':  # query_canceled
            raise
        response['error'] = errors.describe(e, request.path, ctx.doing)
        if isinstance(e, MemoryError) and request.memory_limit_mb:
            response['error']['hint'] = 'The block may use %s MB (memory_limit_mb).' % request.memory_limit_mb
        response['rows'], response['columns'] = None, []
        return
    started = time.monotonic()
    response['tests'] = run_tests(ctx, output, logger)
    response['seconds']['tests'] = time.monotonic() - started


def run_block(plpy, request_json):
    """Runs one block (see the module comment); returns the response as JSON text."""
    response = {'rows': None, 'columns': [], 'log': [], 'tests': [], 'error': None,
                'seconds': {'read': 0.0, 'run': 0.0, 'write': 0.0, 'tests': 0.0}}
    try:
        request = Request(json.loads(request_json))
    except (ValueError, TypeError) as e:
        response['error'] = {'message': 'invalid Python block request: %s' % e, 'detail': None,
                             'line': None, 'sqlstate': '22023'}
        return json.dumps(response)
    log = capture.LogLines()
    ctx = context.RunContext(plpy, request, log)
    with context.running(ctx), capture.capturing(log, request.block) as logger, \
            block_module(request) as module:
        try:
            with limits.memory_limit(request.memory_limit_mb), limits.interruptible():
                run_guarded(ctx, module, logger, response)
        except limits.Interrupted:
            plpy.execute('SELECT 1')  # Postgres acts on the pending interrupt: its error, or exit
            plpy.error('block "%s" was interrupted' % request.block, sqlstate='57014')
    response['log'] = log.result()
    del ctx, module
    gc.collect()
    return json.dumps(response, default=str)
