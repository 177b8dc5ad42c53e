"""The compiler of Mage Python blocks into native pg_pipeline blocks: compile_block(request)
reads the block file with Python's own `ast` (never running it) and, when every statement is a
shape it fully understands, answers with the native block that does the same at COPY speed;
otherwise it answers why not, naming the line and column. Standard library only: it runs in
PL/Python and in plain Python alike.

Request:  {"kind": "data_loader" | "transformer" | "data_exporter" | "custom", "block": name,
           "path": "transformers/x.py", "source": file text, "upstream": [block names, in order],
           "variables": [pipeline variable names], "io_config": {profile: {...}} (may be empty),
           "lowercase_columns": true (optional, as the runtime's request: false keeps the case
           of exported column names)}
Response: {"native": true, "block": {...}, "notes": [...], "log": [sql, ...] (when it prints)}
          or {"native": false, "reason": "transformers/x.py, line 12, column 5: ..."}

The native block (python/README.md, "Compiled blocks", says each key exactly):
  data_loader    type, source {url, compression, delimiter?, quote?, encoding?, columns?,
                 parse_dates?}, pandas_csv {optional_columns, na_values}, urls? (several files),
                 tests?
  transformer    type, sql (reads {{ upstream }}), rename_columns?, tests?
  data_exporter  type, target {schema, table, if_exists}, rename_columns? (lower-casing)
"""

import json

from .compile_base import Refusal
from .compile_exporter import compile_exporter
from .compile_loader import compile_loader
from .compile_log import Log
from .compile_module import read_block_file
from .compile_tests import compile_tests
from .compile_transform import compile_transformer

COMPILERS = {'data_loader': compile_loader, 'transformer': compile_transformer,
             'data_exporter': compile_exporter}


def compile_block(request):
    """The native block for a Mage Python block, or why it stays Python (see the module comment)."""
    path = str(request.get('path') or '%s.py' % request.get('block', 'block'))
    try:
        return compile_checked(request, path)
    except Refusal as r:
        return {'native': False, 'reason': r.reason(path)}
    except Exception as e:  # a bug of ours must never turn into a wrong native block
        return {'native': False, 'reason': '%s: the compiler failed (%s: %s); the block stays '
                                           'Python' % (path, type(e).__name__, e)}


def compile_checked(request, path):
    """compile_block's work; raises Refusal."""
    kind, source = request.get('kind'), request.get('source')
    if not isinstance(source, str):
        raise Refusal(None, 'the request has no source text')
    if kind not in COMPILERS:
        raise Refusal(None, '%s blocks are not compiled' % kind)
    block_file, fn = read_block_file(source, kind)
    log = Log()
    block, notes = COMPILERS[kind](request, block_file, fn, log)
    tests = compile_tests(request, block_file, path)
    if tests and kind == 'data_exporter':
        raise Refusal(block_file.tests[0], 'tests of an exporter see what its function returned '
                                           '(None) in Python, not the table; the block stays Python')
    if tests:
        block['tests'] = tests
        notes.extend(test_notes(tests))
    response = {'native': True, 'block': block, 'notes': notes}
    if log.queries:
        response['log'] = log.queries
        notes.append('log: %d print(s), as queries returning the printed line' % len(log.queries))
    return response


def test_notes(tests):
    """Notes on the tests whose native form is not obvious."""
    notes = []
    for test in tests:
        if test.get('row_count') == {'min': 0}:
            notes.append('"%s": output is not None always holds for a compiled block; kept as '
                         'row_count {min: 0}' % test['message'])
        if 'pg_attribute' in test.get('assert', ''):
            notes.append('"%s": the column is looked up in pg_attribute, so a missing column '
                         'fails the test with its message' % test['message'])
    return notes


def compile_block_json(request_json):
    """compile_block for a JSON request, answering JSON (for a PL/Python wrapper)."""
    return json.dumps(compile_block(json.loads(request_json)))
