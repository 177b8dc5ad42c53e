"""Compiled blocks against the Python path, in a server: each block shape runs both ways on the
same generated CSV files, and the resulting tables must be equal: the same columns (names and
types, in order), the same row count and the same checksum over every column of every row
(md5 of the rows' text, sorted). The tests and printed lines must agree too. Run by
compile_equivalence.sh, which starts the cluster and the HTTP server and passes:

  compile_equivalence.py --www DIR --http-port N [--rows N] [unittest options]

Python path: pipeline._python_block(request), as the executor calls it. Native path: the
compiled block in a pipeline run by pipeline.register + pipeline.run, beside a plain loader
(`sql: SELECT * FROM eq.rides`) or exporter the harness adds to feed or publish it. The block
keys the executor does not read yet are carried out by compile_emulation.py, which says how.
Connection from PGHOST/PGPORT (user postgres, database postgres).
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import unittest

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'python'))
from pg_pipeline_runtime.compile import compile_block  # noqa: E402

import compile_emulation as emulate  # noqa: E402

ARGS = None
FIXTURE = os.path.join(REPO, 'test', 'fixtures', 'mage_python')
SEED_HOST = '127.0.0.1:54340'
IO_CONFIG = {'dev': {'pg_pipeline_remote': False}, 'default': {'pg_pipeline_remote': False}}
RESULTS = []  # (case, rows, checksum, columns) for the summary
TIMINGS = {}  # path -> seconds of the seed's whole pipeline

PREAMBLE = '''import io
import re
import pandas as pd
import requests
from os import path
from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
if '{kind}' not in globals():
    from mage_ai.data_preparation.decorators import {kind}
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test

'''
TAXI_TYPES = '''    taxi_dtypes = {
        'VendorID': 'Int64', 'store_and_fwd_flag': 'str', 'RatecodeID': 'Int64',
        'PULocationID': 'Int64', 'DOLocationID': 'Int64', 'passenger_count': 'Int64',
        'trip_distance': 'float64', 'fare_amount': 'float64', 'extra': 'float64',
        'mta_tax': 'float64', 'tip_amount': 'float64', 'tolls_amount': 'float64',
        'ehail_fee': 'float64', 'improvement_surcharge': 'float64', 'total_amount': 'float64',
        'payment_type': 'float64', 'trip_type': 'float64', 'congestion_surcharge': 'float64'}
    parse_dates = ['tpep_pickup_datetime', 'tpep_dropoff_datetime']
'''


def block_file(kind, body):
    """A Mage block file: the usual imports and preamble, then body."""
    return PREAMBLE.format(kind=kind) + textwrap.dedent(body).lstrip('\n')


def loader_file(rest):
    """A loader file: `def load(*args, **kwargs):` declaring taxi_dtypes and parse_dates as
    the seed does, then rest (the rest of the function body, any indentation)."""
    return (block_file('data_loader', '@data_loader\ndef load(*args, **kwargs):\n') + TAXI_TYPES
            + textwrap.indent(textwrap.dedent(rest).lstrip('\n'), '    '))


def base_url():
    """Where the HTTP server serves the generated files."""
    return 'http://127.0.0.1:%d/files' % ARGS.http_port


# -- the server -------------------------------------------------------------------------------

def connect():
    """An autocommit connection to the test cluster as postgres."""
    conn = psycopg2.connect(host=os.environ['PGHOST'], port=os.environ['PGPORT'],
                            user='postgres', dbname='postgres')
    conn.autocommit = True
    return conn


def sql(conn, query, params=None):
    """All rows of query."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def scalar(conn, query, params=None):
    """The one value of query."""
    return sql(conn, query, params)[0][0]


def columns_of(conn, relation):
    """[(name, type)] of a relation, in order."""
    return sql(conn, "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
                     "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                     "ORDER BY attnum", (relation,))


def fingerprint(conn, relation):
    """(rows, checksum over every column of every row) of a relation."""
    return tuple(sql(conn, "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY "
                           "t::text), '')) FROM %s AS t" % relation)[0])


def move_table(conn, relation, schema, name):
    """Moves a published table to schema.name (replacing one there)."""
    sql(conn, 'DROP TABLE IF EXISTS %s.%s' % (schema, name))
    sql(conn, 'ALTER TABLE %s SET SCHEMA %s' % (relation, schema))
    sql(conn, 'ALTER TABLE %s.%s RENAME TO %s' % (schema, relation.split('.')[-1], name))


# -- the two paths ------------------------------------------------------------------------------

def python_block(conn, kind, name, path, source, upstream=(), output=None, variables=None,
                 execution_date='2021-01-01T00:00:00+00:00'):
    """pipeline._python_block's response."""
    request = {'kind': kind, 'block': name, 'path': path, 'source': source,
               'upstream': [{'name': n, 'relation': r} for n, r in upstream], 'output': output,
               'output_unlogged': False, 'variables': variables or {}, 'execution_date': execution_date,
               'run_id': 1, 'pipeline': 'eq', 'project_dir': None, 'io_config': IO_CONFIG,
               'lowercase_columns': True}
    return scalar(conn, 'SELECT pipeline._python_block(%s::jsonb)', (json.dumps(request),))


def compile_ok(test, kind, name, path, source, upstream=(), variables=()):
    """The compiled block (the test fails when it is not native)."""
    response = compile_block({'kind': kind, 'block': name, 'path': path, 'source': source,
                              'upstream': list(upstream), 'variables': list(variables),
                              'io_config': IO_CONFIG})
    test.assertTrue(response['native'], response.get('reason'))
    return response


class NativeRun:
    """A pipeline of compiled blocks (made runnable today by compile_emulation), registered and
    run; afterwards the renames and tests the executor does not do yet are applied to the
    relations they belong to."""

    def __init__(self, conn, name, variables=None):
        self.conn = conn
        self.name = name
        self.variables = variables or {}
        self.blocks = []
        self.after = []  # (relation, rename steps, tests) to apply after the run
        self.na_values = []  # (relation, na_values) of loaders published as they are

    def add(self, block):
        """Adds a block as the executor can run it today."""
        self.blocks.append(block)

    def loader(self, name, compiled, files):
        """A compiled loader; files are the local paths its URLs name (for pandas_csv)."""
        block = dict(compiled, name=name)
        pandas_csv = block.pop('pandas_csv', None)
        urls = block.pop('urls', None)
        if pandas_csv:
            delimiter = block['source'].get('delimiter', ',')
            headers = [emulate.header_of(f, delimiter) for f in files]
            if any(h != headers[0] for h in headers):
                raise AssertionError('the files have different headers')
            block['source'] = emulate.pandas_csv_columns(block['source'], pandas_csv, headers[0])
        if urls:
            block['urls'] = urls
            self.blocks.extend(emulate.union_of_files(block, name))
        else:
            self.blocks.append(block)
        return pandas_csv

    def renamed_block(self, name, compiled, upstream, publish_to):
        """A compiled transformer or exporter; its rename_columns and tests, if it renames, are
        applied to publish_to after the run."""
        block = dict(compiled, name=name, upstream=list(upstream))
        steps = block.pop('rename_columns', None)
        if steps:
            self.after.append((publish_to, steps, block.pop('tests', [])))
        self.blocks.append(block)

    def run(self):
        """Registers and runs the pipeline; returns (run id, error or None)."""
        spec = {'name': self.name, 'variables': self.variables, 'blocks': self.blocks}
        sql(self.conn, 'SELECT pipeline.register(%s)', (json.dumps(spec),))
        try:
            run_id = scalar(self.conn, 'SELECT pipeline.run(%s, %s::jsonb)',
                            (self.name, json.dumps(self.variables)))
        except psycopg2.Error as e:
            return None, e.pgerror or str(e)
        return run_id, None

    def finish(self):
        """The renames and tests to apply after the run: [(passed, message)] of the tests."""
        results = []
        for relation, steps, tests in self.after:
            emulate.rename_columns(self.conn, relation, steps)
            results.extend(emulate.run_test(self.conn, t, relation) for t in tests)
        return results


# -- data ---------------------------------------------------------------------------------------

def generate(rows, seed, out):
    """A generated taxi month (test/fixtures/gen_taxi.py), made once."""
    if not os.path.exists(out):
        subprocess.run([sys.executable, os.path.join(REPO, 'test', 'fixtures', 'gen_taxi.py'),
                        '--rows', str(rows), '--seed', str(seed), '--out', out],
                       check=True, stderr=subprocess.DEVNULL)
    return out


NA_CSV = '''id,name,score,day
1,Ann,1.5,2021-01-01 10:00:00
2,NA,NaN,2021-01-02 11:00:00
3,"NA",2,2021-01-03
4,null,,2021-01-04 00:00:01
5,"",nan,2021-01-05 23:59:59
6,N/A,-0.25,
7,n/a,3,2021-01-07 07:07:07
8,Bob,4,2021-01-08 08:08:08
'''


def make_files():
    """The files the cases read, under --www."""
    www, rows = ARGS.www, ARGS.rows
    os.makedirs(www, exist_ok=True)
    files = {'month1': generate(rows, 2021, os.path.join(www, 'yellow_tripdata_2021-01.csv.gz')),
             'month2': generate(rows // 2, 2022, os.path.join(www, 'yellow_tripdata_2021-02.csv.gz')),
             'month3': generate(rows // 3, 2023, os.path.join(www, 'yellow_tripdata_2021-03.csv.gz')),
             'plain': generate(rows // 4, 2024, os.path.join(www, 'yellow_plain.csv'))}
    files['na'] = os.path.join(www, 'na_strings.csv')
    with open(files['na'], 'w') as f:
        f.write(NA_CSV)
    # The loader that names its file by the run's execution date: this month's and the next
    # (a run started just before midnight at the month's end may get either).
    today = datetime.datetime.now(datetime.timezone.utc).date()
    for day in (today, (today.replace(day=1) + datetime.timedelta(days=32))):
        target = os.path.join(www, 'rides_%s.csv.gz' % day.strftime('%Y-%m'))
        shutil.copyfile(files['month3'], target)
    files['by_date'] = files['month3']
    for path in files.values():
        os.chmod(path, 0o644)
    return files


FILES = {}


def setUpModule():
    """Generates the files and loads eq.rides, the transformers' and exporters' input, through
    the seed's own loader on the Python path."""
    FILES.update(make_files())
    conn = connect()
    for schema in ('eq', 'py', 'nat', 'ny_taxi', 'eq_out'):
        sql(conn, 'DROP SCHEMA IF EXISTS %s CASCADE' % schema)
    sql(conn, 'CREATE SCHEMA eq; CREATE SCHEMA py; CREATE SCHEMA nat')
    source = seed_source('data_loaders/load_api_data.py')
    response = python_block(conn, 'data_loader', 'load_api_data', 'data_loaders/load_api_data.py',
                            source, output='eq.rides')
    if response['error'] or response['rows'] != ARGS.rows:
        raise AssertionError('loading eq.rides failed: %s' % response)
    conn.close()


def seed_source(path):
    """A file of the seed's project, its URL pointed at this run's HTTP server."""
    with open(os.path.join(FIXTURE, path)) as f:
        return f.read().replace(SEED_HOST, '127.0.0.1:%d' % ARGS.http_port)


# -- the comparison -------------------------------------------------------------------------------

class EquivalenceCase(unittest.TestCase):
    """Shared checks of the cases."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def assert_same_table(self, case, python_relation, native_relation):
        """The two tables are equal: columns, types, rows, checksum."""
        py_columns = columns_of(self.conn, python_relation)
        nat_columns = columns_of(self.conn, native_relation)
        self.assertEqual(nat_columns, py_columns, '%s: the columns differ' % case)
        py, nat = fingerprint(self.conn, python_relation), fingerprint(self.conn, native_relation)
        self.assertEqual(nat, py, '%s: rows or checksum differ (python %s, native %s)' % (case, py, nat))
        self.assertGreater(py[0], 0, '%s: an empty result proves little' % case)
        RESULTS.append((case, py[0], py[1], len(py_columns)))

    def python_ok(self, response):
        """A Python response without an error; returns it."""
        self.assertIsNone(response['error'], response['error'])
        return response

    def python_tests(self, response):
        """[(passed, message of a failure)] of the Python path's tests."""
        return [(t['passed'], t['message']) for t in response['tests']]

    def native_tests(self, results):
        """[(passed, message of a failure)] of emulated native test results, as python_tests."""
        return [(passed, '' if passed else message) for passed, message in results]


class LoaderEquivalence(EquivalenceCase):
    """Loaders: Python writes py.<case>; the compiled loader is published to nat.<case>."""

    def both(self, case, source, files, variables=None, native_first=False):
        """Runs a loader both ways and compares the tables."""
        path = 'data_loaders/%s.py' % case
        compiled = compile_ok(self, 'data_loader', 'load', path, source, variables=list(variables or {}))
        run = NativeRun(self.conn, 'eq_' + case, variables)
        pandas_csv = run.loader('load', compiled['block'], files)
        run.add({'name': 'publish', 'type': 'data_exporter', 'upstream': ['load'],
                 'target': {'schema': 'nat', 'table': case, 'if_exists': 'replace'}})
        run_id, error = run.run()
        self.assertIsNone(error, error)
        execution_date = scalar(self.conn, "SELECT to_char(execution_date AT TIME ZONE 'UTC', "
                                           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') FROM "
                                           "pipeline.runs WHERE run_id = %s", (run_id,))
        emulate.pandas_na_values(self.conn, 'nat.%s' % case, pandas_csv['na_values'])
        response = self.python_ok(python_block(self.conn, 'data_loader', 'load', path, source,
                                               output='py.%s' % case, variables=variables,
                                               execution_date=execution_date))
        self.assertTrue(all(passed for passed, _ in self.python_tests(response)))
        self.assert_same_table(case, 'py.%s' % case, 'nat.%s' % case)
        return compiled

    def test_seed_loader(self):
        self.both('seed_loader', seed_source('data_loaders/load_api_data.py'), [FILES['month1']])

    def test_url_from_variables(self):
        source = loader_file('''
                year = kwargs['year']
                month = kwargs.get('month')
                url = f'%s/yellow_tripdata_{year}-{month:02d}.csv.gz'
                return pd.read_csv(url, sep=',', compression='gzip', dtype=taxi_dtypes,
                                   parse_dates=parse_dates)
            ''' % base_url())
        compiled = self.both('url_from_variables', source, [FILES['month2']], {'year': 2021, 'month': 2})
        self.assertIn("{{ year }}-{{ CASE WHEN month < 0", compiled['block']['source']['url'])

    def test_url_from_execution_date(self):
        source = loader_file('''
                url = '%s/rides_' + kwargs['execution_date'].strftime('%%Y-%%m') + '.csv.gz'
                return pd.read_csv(url, dtype=taxi_dtypes, parse_dates=parse_dates)
            ''' % base_url())
        self.both('url_from_execution_date', source, [FILES['by_date']])

    def test_requests_and_stringio(self):
        source = loader_file('''
                response = requests.get('%s/yellow_plain.csv')
                response.raise_for_status()
                return pd.read_csv(io.StringIO(response.text), sep=',', dtype=taxi_dtypes,
                                   parse_dates=parse_dates)
            ''' % base_url())
        self.both('requests_stringio', source, [FILES['plain']])

    def test_several_months(self):
        source = loader_file('''
                frames = []
                for month in [1, 2, 3]:
                    url = f'%s/yellow_tripdata_2021-{month:02d}.csv.gz'
                    frames.append(pd.read_csv(url, compression='gzip', dtype=taxi_dtypes,
                                              parse_dates=parse_dates))
                return pd.concat(frames, ignore_index=True)
            ''' % base_url())
        compiled = self.both('several_months', source,
                             [FILES['month1'], FILES['month2'], FILES['month3']])
        self.assertEqual(len(compiled['block']['urls']), 3)

    def test_pandas_na_strings(self):
        source = block_file('data_loader', '''
            @data_loader
            def load(*args, **kwargs):
                return pd.read_csv('%s/na_strings.csv', dtype={'id': 'Int64', 'name': 'str',
                                   'score': 'float64'}, parse_dates=['day'])

            @test
            def test_output(output, *args) -> None:
                assert output['id'].notna().all(), 'ids are missing'
            ''' % base_url())
        self.both('pandas_na_strings', source, [FILES['na']])
        nulls = scalar(self.conn, 'SELECT count(*) FROM nat.pandas_na_strings WHERE name IS NULL')
        self.assertEqual(nulls, 6)  # NA, "NA", null, "", N/A, n/a: what pandas reads as missing


class TransformerEquivalence(EquivalenceCase):
    """Transformers of eq.rides: Python writes py.<case>; the compiled transformer runs after a
    loader `SELECT * FROM eq.rides` named as its upstream and is published to nat.<case>."""

    def both(self, case, source, upstream='load', expect_native_error=None):
        """Runs a transformer both ways; returns (python response, compiled, native test results)."""
        path = 'transformers/%s.py' % case
        compiled = compile_ok(self, 'transformer', case, path, source, upstream=[upstream])
        run = NativeRun(self.conn, 'eq_' + case)
        run.add({'name': upstream, 'type': 'data_loader', 'sql': 'SELECT * FROM eq.rides'})
        run.renamed_block('t', compiled['block'], [upstream], 'nat.%s' % case)
        run.add({'name': 'publish', 'type': 'data_exporter', 'upstream': ['t'],
                 'target': {'schema': 'nat', 'table': case, 'if_exists': 'replace'}})
        _, error = run.run()
        response = python_block(self.conn, 'transformer', case, path, source,
                                upstream=[(upstream, 'eq.rides')], output='py.%s' % case)
        if expect_native_error:
            self.assertIsNotNone(error, 'the native run should have failed')
            self.assertIn(expect_native_error, error)
            return response, compiled, None
        self.assertIsNone(error, error)
        self.python_ok(response)
        native_tests = run.finish()
        self.assert_same_table(case, 'py.%s' % case, 'nat.%s' % case)
        if compiled.get('log'):
            lines = emulate.log_lines(self.conn, compiled['log'], {upstream: 'eq.rides'})
            self.assertEqual(lines, response['log'])
        return response, compiled, native_tests

    def test_seed_transformer(self):
        source = seed_source('transformers/transform_taxi_data.py')
        response, compiled, _ = self.both('seed_transformer', source, upstream='load_api_data')
        self.assertEqual(compiled['block']['sql'],
                         'SELECT * FROM {{ load_api_data }} WHERE "passenger_count" > 0')
        self.assertEqual(len(response['log']), 2)
        self.assertTrue(all(passed for passed, _ in self.python_tests(response)))

    # Missing values: the tail rows have no passenger_count (bigint: pandas' Int64, where NA
    # stays NA under ~ and !=) and no payment_type or store_and_fwd_flag (double precision and
    # text: numpy dtypes, where a comparison with NaN is False and != is True). Each case keeps
    # or drops those rows only if the compiled SQL follows the right one of the two rules.

    def test_negation_of_a_float_keeps_missing(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data[~(data['payment_type'] > 1) | ~(data['trip_distance'] > 1.5)]
            ''')
        self.both('negation_float', source)
        self.assertGreater(scalar(self.conn, 'SELECT count(*) FROM nat.negation_float WHERE '
                                             'payment_type IS NULL'), 0)

    def test_negation_of_an_integer_drops_missing(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data[~(data['passenger_count'] > 1)]
            ''')
        self.both('negation_integer', source)
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM nat.negation_integer WHERE '
                                           'passenger_count IS NULL'), 0)

    def test_not_equal_on_float_and_text_keeps_missing(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                data = data[data['store_and_fwd_flag'] != 'Y']
                return data[data['payment_type'] != 2]
            ''')
        self.both('not_equal_float_text', source)
        self.assertGreater(scalar(self.conn, 'SELECT count(*) FROM nat.not_equal_float_text WHERE '
                                             'payment_type IS NULL'), 0)

    def test_not_equal_on_an_integer_drops_missing(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data[data['passenger_count'] != 1]
            ''')
        self.both('not_equal_integer', source)
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM nat.not_equal_integer WHERE '
                                           'passenger_count IS NULL'), 0)

    def test_isin_notna_isna(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                keep = ~data['payment_type'].isin([1, 2]) & data['VendorID'].notna()
                return data[keep | data['RatecodeID'].isna()]

            @test
            def test_output(output, *args) -> None:
                assert 'VendorID' in output.columns, 'VendorID is not a column'
            ''')
        _, compiled, _ = self.both('isin_notna_isna', source)
        self.assertIn('pg_attribute', compiled['block']['tests'][0]['assert'])  # run natively

    def test_missing_column_fails_its_test_both_ways(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data

            @test
            def test_output(output, *args) -> None:
                assert 'vendor_id' in output.columns, 'vendor_id is not a column'
            ''')
        response, _, _ = self.both('missing_column', source,
                                   expect_native_error='test failed: vendor_id is not a column')
        self.assertEqual(self.python_tests(response), [(False, 'vendor_id is not a column')])

    def test_query(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data.query('passenger_count > 0 & trip_distance > 1 or not (payment_type in [1, 2])')
            ''')
        self.both('query', source)

    def test_derived_columns(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                data = data[data['passenger_count'] > 0]
                data['pickup_date'] = data['tpep_pickup_datetime'].dt.date
                data['source'] = 'yellow'
                data['one'] = 1
                data['fare_copy'] = data['fare_amount']
                return data
            ''')
        self.both('derived_columns', source)

    def test_homework_rename_and_tests(self):
        # Module 2's homework: drop rides without passengers or distance, add the pickup date,
        # rename CamelCase to snake_case, and check it.
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                data = data[(data['passenger_count'] > 0) & (data['trip_distance'] > 0)]
                data['tpep_pickup_date'] = data['tpep_pickup_datetime'].dt.date
                data.columns = (data.columns
                                .str.replace('(?<=[a-z])(?=[A-Z])', '_', regex=True)
                                .str.lower())
                return data

            @test
            def test_vendor(output, *args) -> None:
                assert 'vendor_id' in output.columns, 'vendor_id is not a column'

            @test
            def test_passengers(output, *args) -> None:
                assert output['passenger_count'].isin([0]).sum() == 0, 'rides with no passengers'

            @test
            def test_distance(output, *args) -> None:
                assert (output['trip_distance'] > 0).all(), 'rides with no distance'
            ''')
        response, compiled, native_tests = self.both('homework', source)
        self.assertEqual(self.native_tests(native_tests), self.python_tests(response))
        self.assertEqual([t for t, _ in native_tests], [True, True, True])

    def test_renames_by_dict_and_by_rule(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                data = data.rename(columns={'VendorID': 'Vendor ID', 'RatecodeID': 'rate_code'})
                data = data[data['Vendor ID'] == 2]
                data.columns = (data.columns.str.replace(' ', '_').str.lower())
                data.columns = [re.sub(r'(?<!^)(?=[A-Z])', '_', c).lower() for c in data.columns]
                return data
            ''')
        self.both('renames', source)

    def test_dropna_and_printed_counts(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                kept = data.dropna(subset=['VendorID', 'passenger_count'])
                print('rows:', len(data))
                print(f'kept {kept.shape[0]}; {(data["trip_distance"] > 5).sum()} long')
                print(f'{kept["RatecodeID"].count()} with a rate code')
                return kept
            ''')
        response, _, _ = self.both('dropna_prints', source)
        self.assertEqual(len(response['log']), 3)

    def test_tests_judged_alike(self):
        # One assert per @test, so the Python path reports each; VendorID has NULLs (the tail).
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data

            @test
            def test_a(output, *args):
                assert (output['trip_distance'] >= 0).all(), 'a'

            @test
            def test_b(output, *args):
                assert output['tpep_pickup_datetime'].notna().all(), 'b'

            @test
            def test_c(output, *args):
                assert not output['VendorID'].isna().any(), 'c'

            @test
            def test_d(output, *args):
                assert output['fare_amount'].min() >= 0, 'd'

            @test
            def test_e(output, *args):
                assert (output['passenger_count'] != 0).all(), 'e'

            @test
            def test_f(output, *args):
                assert len(output) > %d, 'f'

            @test
            def test_g(output, *args):
                assert (output['payment_type'] > 0).all(), 'g: NaN is not > 0 in pandas'

            @test
            def test_h(output, *args):
                assert (output['passenger_count'] >= 0).all(), 'h: NA is skipped by all()'
            ''' % (ARGS.rows - 1))
        path = 'transformers/tests_alike.py'
        compiled = compile_ok(self, 'transformer', 'tests_alike', path, source, upstream=['load'])
        response = python_block(self.conn, 'transformer', 'tests_alike', path, source,
                                upstream=[('load', 'eq.rides')], output='py.tests_alike')
        python = self.python_tests(response)
        native = [emulate.run_test(self.conn, t, 'py.tests_alike') for t in compiled['block']['tests']]
        self.assertEqual(self.native_tests(native), python)
        self.assertIn(False, [p for p, _ in python])  # c and g fail: the check can tell
        self.assertIn(True, [p for p, _ in python])

    def test_failing_test_fails_both_ways(self):
        source = block_file('transformer', '''
            @transformer
            def transform(data, *args, **kwargs):
                return data[data['trip_distance'] > 0]

            @test
            def test_output(output, *args) -> None:
                assert output['passenger_count'].isin([0]).sum() == 0, 'There are rides with zero passengers'
            ''')
        response, _, _ = self.both('failing_test', source,
                                   expect_native_error='test failed: There are rides with zero passengers')
        self.assertEqual(self.python_tests(response), [(False, 'There are rides with zero passengers')])


class ExporterEquivalence(EquivalenceCase):
    """Exporters of eq.rides: each publishes where its code says; the table is then moved to
    py.<case> or nat.<case>."""

    def both(self, case, source, target):
        """Runs an exporter both ways and compares the tables it published."""
        path = 'data_exporters/%s.py' % case
        compiled = compile_ok(self, 'data_exporter', case, path, source, upstream=['up'])
        response = self.python_ok(python_block(self.conn, 'data_exporter', case, path, source,
                                               upstream=[('up', 'eq.rides')]))
        move_table(self.conn, target, 'py', case)
        run = NativeRun(self.conn, 'eq_' + case)
        run.add({'name': 'up', 'type': 'data_loader', 'sql': 'SELECT * FROM eq.rides'})
        run.renamed_block('export', compiled['block'], ['up'], target)
        _, error = run.run()
        self.assertIsNone(error, error)
        run.finish()
        move_table(self.conn, target, 'nat', case)
        self.assert_same_table(case, 'py.%s' % case, 'nat.%s' % case)
        return response

    def test_seed_exporter(self):
        self.both('seed_exporter', seed_source('data_exporters/export_taxi_data_to_postgres.py'),
                  'ny_taxi.yellow_taxi_data')

    def test_append_keeping_the_case(self):
        source = block_file('data_exporter', '''
            @data_exporter
            def export(df, **kwargs) -> None:
                Postgres.with_config(ConfigFileLoader(path.join(get_repo_path(), 'io_config.yaml'),
                                                      'default')).export(
                    df, 'eq_out', 'Rides', index=False, if_exists='append', case_sensitive=True)
            ''')
        self.both('append_case_sensitive', source, 'eq_out."Rides"')


class SeedPipelineEquivalence(EquivalenceCase):
    """The seed's whole api_to_postgres pipeline, compiled (loader, filter and replacing
    exporter: the fusion shape) against its three Python blocks in a row."""

    def test_whole_pipeline(self):
        names = [('data_loader', 'load_api_data', []),
                 ('transformer', 'transform_taxi_data', ['load_api_data']),
                 ('data_exporter', 'export_taxi_data_to_postgres', ['transform_taxi_data'])]
        folders = {'data_loader': 'data_loaders', 'transformer': 'transformers',
                   'data_exporter': 'data_exporters'}
        compiled, sources = {}, {}
        for kind, name, upstream in names:
            path = '%s/%s.py' % (folders[kind], name)
            sources[name] = (kind, path, seed_source(path))
            compiled[name] = compile_ok(self, kind, name, path, sources[name][2], upstream=upstream)
        sql(self.conn, 'DROP SCHEMA IF EXISTS py_stage CASCADE; CREATE SCHEMA py_stage')
        started = time.monotonic()
        for kind, name, upstream in names:
            k, path, source = sources[name]
            output = 'py_stage.%s' % name if kind != 'data_exporter' else None
            self.python_ok(python_block(self.conn, kind, name, path, source,
                                        upstream=[(u, 'py_stage.%s' % u) for u in upstream],
                                        output=output))
        TIMINGS['python'] = time.monotonic() - started
        move_table(self.conn, 'ny_taxi.yellow_taxi_data', 'py', 'seed_pipeline')
        loader = compiled['load_api_data']['block']
        self.assertFalse(emulate.file_has_na_strings(FILES['month1'], loader['pandas_csv']['na_values']))
        run = NativeRun(self.conn, 'eq_seed_pipeline')
        run.loader('load_api_data', loader, [FILES['month1']])
        run.renamed_block('transform_taxi_data', compiled['transform_taxi_data']['block'],
                          ['load_api_data'], None)
        run.renamed_block('export_taxi_data_to_postgres',
                          compiled['export_taxi_data_to_postgres']['block'],
                          ['transform_taxi_data'], 'ny_taxi.yellow_taxi_data')
        started = time.monotonic()
        run_id, error = run.run()
        TIMINGS['native'] = time.monotonic() - started
        self.assertIsNone(error, error)
        run.finish()
        move_table(self.conn, 'ny_taxi.yellow_taxi_data', 'nat', 'seed_pipeline')
        self.assert_same_table('seed_pipeline', 'py.seed_pipeline', 'nat.seed_pipeline')
        fused = scalar(self.conn, "SELECT count(*) FROM pipeline.run_log WHERE run_id = %s AND "
                                  "message LIKE '%%one COPY for%%'", (run_id,))
        self.assertEqual(fused, 1, 'the compiled seed should run as one fused COPY')


def summary():
    """The compared tables, for the report."""
    print('\n%-26s %9s %8s  %s' % ('case', 'rows', 'columns', 'checksum (md5 of the sorted rows)'))
    for case, rows, checksum, ncolumns in RESULTS:
        print('%-26s %9d %8d  %s' % (case, rows, ncolumns, checksum))
    if len(TIMINGS) == 2:
        print('\nthe seed pipeline: %.1f s as three Python blocks, %.1f s compiled (one run, '
              'wall clock)' % (TIMINGS['python'], TIMINGS['native']))


def main():
    """Parses our options, runs the cases, prints the compared tables."""
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument('--www', required=True)
    parser.add_argument('--http-port', type=int, required=True)
    parser.add_argument('--rows', type=int, default=20000)
    ARGS, rest = parser.parse_known_args()
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    summary()
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == '__main__':
    main()
