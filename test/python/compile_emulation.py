"""The keys of compiled blocks that the native executor does not read yet (pandas_csv, urls,
rename_columns, log), carried out here exactly as python/README.md ("Compiled blocks") specifies
them, so that compile_equivalence.py can run a compiled block today with pipeline.register and
pipeline.run. Each function says which key it stands in for. Once the executor reads a key
natively, the harness passes it through (see native_has) and this code is not used for it.
"""

import csv
import gzip
import json
import re

TEXT_TYPES = {'text', 'character varying'}
FLOAT_TYPES = {'double precision', 'real'}


def native_has(conn, key):
    """Whether the installed pg_pipeline accepts a block key (validate with it set)."""
    block = {'name': 'probe', 'type': 'data_loader', 'source': {'url': 'http://127.0.0.1/x.csv'}}
    if key == 'rename_columns':
        block = {'name': 'probe', 'type': 'data_loader', 'sql': 'SELECT 1 AS a',
                 'rename_columns': [{'expression': 'lower(name)'}]}
    elif key == 'urls':
        block['urls'] = ['http://127.0.0.1/x.csv']
    elif key == 'pandas_csv':
        block['pandas_csv'] = {'optional_columns': [], 'na_values': ['']}
    with conn.cursor() as cur:  # an autocommit connection: a refusal leaves nothing behind
        try:
            cur.execute('SELECT pipeline.validate(%s)', (json.dumps({'name': 'probe', 'blocks': [block]}),))
            return True
        except Exception:
            return False


def header_of(path, delimiter=','):
    """The first line of a (possibly gzipped) CSV file, split into names (a BOM dropped)."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8-sig', newline='') as f:
        return next(csv.reader(f, delimiter=delimiter))


def pandas_csv_columns(source, pandas_csv, header):
    """pandas_csv: the source's declared columns for a file with this header. Declared columns
    in optional_columns that the file lacks are dropped (pandas ignores their dtype); a file
    column with no declared type fails the load (pandas would infer a type COPY cannot);
    every other declared column must be in the file (the loader's own check)."""
    declared = set(source.get('columns', {})) | set(source.get('parse_dates', []))
    undeclared = [c for c in header if c not in declared]
    if undeclared:
        raise AssertionError('pandas_csv: file column(s) %s have no declared type' % undeclared)
    optional = set(pandas_csv['optional_columns'])
    columns = {c: t for c, t in source.get('columns', {}).items() if c in header or c not in optional}
    out = dict(source)
    out['columns'] = columns
    return out


def pandas_na_values(conn, relation, na_values):
    """pandas_csv's na_values on a loaded table: text fields equal to one of them are NULL, and
    float NaN (what COPY makes of 'NaN' and 'nan') too; returns how many fields changed."""
    changed = 0
    with conn.cursor() as cur:
        cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                    "attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    (relation,))
        for name, kind in cur.fetchall():
            column = '"%s"' % name.replace('"', '""')
            if kind in TEXT_TYPES:
                cur.execute('UPDATE %s SET %s = NULL WHERE %s = ANY(%%s)' % (relation, column, column),
                            (na_values,))
            elif kind in FLOAT_TYPES:
                cur.execute("UPDATE %s SET %s = NULL WHERE %s = 'NaN'" % (relation, column, column))
            else:
                continue
            changed += cur.rowcount
    return changed


def file_has_na_strings(path, na_values, delimiter=','):
    """Whether a CSV file holds a field (other than the empty one) that pandas reads as NA."""
    strings = set(na_values) - {''}
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8', newline='') as f:
        for row in csv.reader(f, delimiter=delimiter):
            if strings.intersection(row):
                return True
    return False


def union_of_files(block, name):
    """urls: one loader per URL (the compiled source with each URL) and a transformer reading
    them in order with UNION ALL, named `name`, standing for the one native loader."""
    loaders, parts = [], []
    for index, url in enumerate(block['urls']):
        loader_name = '%s_file%d' % (name, index)
        source = dict(block['source'], url=url)
        loaders.append({'name': loader_name, 'type': 'data_loader', 'source': source})
        parts.append('SELECT * FROM {{ %s }}' % loader_name)
    union = {'name': name, 'type': 'transformer', 'upstream': [l['name'] for l in loaders],
             'sql': ' UNION ALL '.join(parts), 'materialize': 'table'}
    return loaders + [union]


def rename_columns(conn, relation, steps):
    """rename_columns: each step renames every column of relation, in column order: a map step
    by its dict (names it does not hold are kept), an expression step by SQL over `name`. Two
    columns ending with one name fail, as they fail the Python path's write."""
    with conn.cursor() as cur:
        cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped ORDER BY attnum", (relation,))
        names = [r[0] for r in cur.fetchall()]
        current = list(names)
        for step in steps:
            if 'map' in step:
                current = [step['map'].get(n, n) for n in current]
            else:
                cur.execute('SELECT %s FROM unnest(%%s::text[]) WITH ORDINALITY AS c(name, i) '
                            'ORDER BY i' % step['expression'], (current,))
                current = [r[0] for r in cur.fetchall()]
        if len(set(current)) != len(current):
            raise AssertionError('rename_columns: two columns would be named alike: %s' % current)
        temporary = ['pgp_rename_%d' % i for i in range(len(names))]
        for old, tmp in zip(names, temporary):  # via temporary names: a swap of two names works
            cur.execute('ALTER TABLE %s RENAME COLUMN "%s" TO %s' % (relation, old.replace('"', '""'), tmp))
        for tmp, new in zip(temporary, current):
            cur.execute('ALTER TABLE %s RENAME COLUMN %s TO "%s"' % (relation, tmp, new.replace('"', '""')))
    return current


def render(text, relations):
    """A template with block names (and self) replaced by relations, as the executor renders
    block references."""
    return re.sub(r'\{\{\s*(\w+)\s*\}\}', lambda m: relations[m.group(1)], text)


def run_test(conn, test, relation):
    """One native test on relation, judged as the executor judges it: (passed, message)."""
    with conn.cursor() as cur:
        if 'row_count' in test:
            cur.execute('SELECT count(*) FROM %s' % relation)
            n = cur.fetchone()[0]
            bounds = test['row_count']
            passed = bounds.get('min', 0) <= n <= bounds.get('max', n)
        elif 'not_null' in test:
            condition = ' OR '.join('"%s" IS NULL' % c for c in test['not_null'])
            cur.execute('SELECT count(*) = 0 FROM %s WHERE %s' % (relation, condition))
            passed = cur.fetchone()[0]
        elif 'assert' in test:
            cur.execute(render(test['assert'], {'self': relation}))
            rows = cur.fetchall()
            passed = len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] is True
        else:
            raise AssertionError('no emulation for test %s' % test)
    return passed, test.get('message')


def log_lines(conn, queries, relations):
    """log: each query rendered and run, its one value the printed line."""
    lines = []
    with conn.cursor() as cur:
        for query in queries:
            cur.execute(render(query, relations))
            lines.append(cur.fetchone()[0])
    return lines
