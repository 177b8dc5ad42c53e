"""Python blocks inside the server, checked from outside: the seed's api_to_postgres blocks
(test/fixtures/mage_python) run through pipeline._python_block, each result compared with what
pandas computes from the same block code in this process. Run by run_in_server.sh, which
starts the cluster and the HTTP server and passes:

  in_server_checks.py --project DIR --http-port N [unittest options]

Connection from PGHOST/PGPORT (user postgres, database postgres)."""

import argparse
import contextlib
import io
import json
import os
import sys
import threading
import time
import unittest

import pandas as pd
import psycopg2
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'python'))
from pg_pipeline_runtime.database import RemoteDatabase  # noqa: E402  (reads tables back)

ARGS = None  # the command line, set in main()
FOLDERS = {'data_loader': 'data_loaders', 'transformer': 'transformers',
           'data_exporter': 'data_exporters', 'custom': 'custom', 'sensor': 'sensors',
           'conditional': 'conditionals'}
SEED_URL_HOST = '127.0.0.1:54340'


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


def rel(name, schema='pyt'):
    """A block's output relation in the test schema, quoted."""
    return '"%s"."%s"' % (schema, name)


class Project:
    """The fixture Mage project: its blocks from metadata.yaml, their files' source."""

    def __init__(self, folder, pipeline='api_to_postgres'):
        self.folder = folder
        self.pipeline = pipeline
        with open(os.path.join(folder, 'pipelines', pipeline, 'metadata.yaml')) as f:
            self.blocks = {b['uuid']: b for b in yaml.safe_load(f)['blocks']}

    def path(self, name):
        """The block file's path in the project, as Mage lays it out."""
        return '%s/%s.py' % (FOLDERS[self.blocks[name]['type']], name)

    def source(self, name):
        """The block file's text, the loader's URL pointed at this run's HTTP port."""
        with open(os.path.join(self.folder, self.path(name))) as f:
            return f.read().replace(SEED_URL_HOST, '127.0.0.1:%d' % ARGS.http_port)

    def request(self, name, **changes):
        """The request the executor would send for block name (changes override fields)."""
        block = self.blocks[name]
        kind = block['type']
        request = {
            'kind': kind, 'block': name, 'path': self.path(name), 'source': self.source(name),
            'upstream': [{'name': u, 'relation': rel(u)} for u in block['upstream_blocks']],
            'output': rel(name) if kind in ('data_loader', 'transformer') else None,
            'variables': {}, 'execution_date': '2021-01-01T00:00:00+00:00', 'run_id': 1,
            'pipeline': self.pipeline, 'project_dir': self.folder, 'io_config': {},
            'lowercase_columns': True,
        }
        request.update(changes)
        return request


def run(conn, request):
    """pipeline._python_block's response to request."""
    return scalar(conn, 'SELECT pipeline._python_block(%s::jsonb)', (json.dumps(request),))


def block_function(source, decorator):
    """The function source decorates with decorator, run here the way Mage runs it (the
    decorators already in globals, so the file's imports of them are skipped)."""
    found = {}
    namespace = {d: (lambda kind: lambda f: found.setdefault(kind, f))(d)
                 for d in ('data_loader', 'transformer', 'data_exporter', 'test', 'custom')}
    exec(compile(source, 'block', 'exec'), namespace)
    return found[decorator]


def read_table(relation):
    """A table's rows as a DataFrame (COPY TO through psycopg2, not the server's _copy_out)."""
    db = RemoteDatabase(os.environ['PGHOST'], os.environ['PGPORT'], 'postgres', 'postgres', None)
    try:
        return db.read_relation(relation)
    finally:
        db.close()


def line_of(source, text):
    """The 1-based line of source that contains text."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


LOADED_TYPES = [
    ['VendorID', 'bigint'], ['tpep_pickup_datetime', 'timestamp'],
    ['tpep_dropoff_datetime', 'timestamp'], ['passenger_count', 'bigint'],
    ['trip_distance', 'double precision'], ['RatecodeID', 'bigint'],
    ['store_and_fwd_flag', 'text'], ['PULocationID', 'bigint'], ['DOLocationID', 'bigint'],
    ['payment_type', 'double precision'], ['fare_amount', 'double precision'],
    ['extra', 'double precision'], ['mta_tax', 'double precision'],
    ['tip_amount', 'double precision'], ['tolls_amount', 'double precision'],
    ['improvement_surcharge', 'double precision'], ['total_amount', 'double precision'],
    ['congestion_surcharge', 'double precision']]


SEED = {}  # what setUpModule ran and computed, shared by the test classes


def setUpModule():
    """Runs the seed's loader and transformer in the server, and the same code here."""
    conn = connect()
    sql(conn, 'DROP SCHEMA IF EXISTS pyt CASCADE; CREATE SCHEMA pyt; DROP SCHEMA IF EXISTS ny_taxi CASCADE')
    p = Project(ARGS.project)
    SEED['loaded'] = block_function(p.source('load_api_data'), 'data_loader')()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        transform = block_function(p.source('transform_taxi_data'), 'transformer')
        SEED['transformed'] = transform(SEED['loaded'].copy()).reset_index(drop=True)
    SEED['printed'] = printed.getvalue().splitlines()
    SEED['load_response'] = run(conn, p.request('load_api_data'))
    SEED['transform_response'] = run(conn, p.request('transform_taxi_data'))
    conn.close()


class SeedPipelineTest(unittest.TestCase):
    """The three seed blocks, in order: loader, transformer, exporter (replace, fail, append)."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()
        cls.project = Project(ARGS.project)
        cls.loaded, cls.transformed, cls.printed = SEED['loaded'], SEED['transformed'], SEED['printed']
        cls.load_response, cls.transform_response = SEED['load_response'], SEED['transform_response']

    def test_loader_writes_the_dataframe_with_the_yaml_loaders_types(self):
        r = self.load_response
        self.assertIsNone(r['error'])
        self.assertEqual(r['rows'], ARGS.rows)
        self.assertEqual(r['columns'], LOADED_TYPES)
        self.assertEqual(r['tests'], [{'name': 'test_output', 'passed': True, 'message': '', 'line': None}])
        in_catalog = sql(self.conn, "SELECT column_name, data_type FROM information_schema.columns "
                                    "WHERE table_schema = 'pyt' AND table_name = 'load_api_data' "
                                    "ORDER BY ordinal_position")
        short = {'timestamp without time zone': 'timestamp'}
        self.assertEqual([[c, short.get(t, t)] for c, t in in_catalog], LOADED_TYPES)

    def test_loader_table_holds_what_pandas_read(self):
        pd.testing.assert_frame_equal(read_table(rel('load_api_data')), self.loaded)

    def test_transformer_filters_exactly_as_pandas_does(self):
        r = self.transform_response
        self.assertIsNone(r['error'])
        self.assertEqual(r['rows'], len(self.transformed))
        self.assertLess(len(self.transformed), ARGS.rows)
        pd.testing.assert_frame_equal(read_table(rel('transform_taxi_data')), self.transformed)
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM pyt.transform_taxi_data '
                                           'WHERE passenger_count IS NULL OR passenger_count = 0'), 0)

    def test_transformer_prints_are_log_lines_and_its_test_passes(self):
        r = self.transform_response
        self.assertEqual(r['log'], self.printed)
        self.assertRegex(r['log'][0], r'^Preprocessing: records with zero passengers: [1-9]\d*$')
        self.assertTrue(r['tests'][0]['passed'])

    def export(self, if_exists='replace', schema='ny_taxi'):
        """The seed exporter's response, with another if_exists policy or schema if asked."""
        source = self.project.source('export_taxi_data_to_postgres')
        source = source.replace("if_exists='replace'", "if_exists='%s'" % if_exists)
        source = source.replace("schema_name = 'ny_taxi'", "schema_name = '%s'" % schema)
        return run(self.conn, self.project.request('export_taxi_data_to_postgres', source=source)), source

    def test_export_1_replace_creates_the_table_with_lower_case_columns(self):
        r, _ = self.export()
        self.assertIsNone(r['error'])
        self.assertEqual(r['log'], ['created ny_taxi.yellow_taxi_data with %d rows' % len(self.transformed)])
        columns = [c for (c,) in sql(self.conn, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_schema = 'ny_taxi' AND table_name = "
                                                "'yellow_taxi_data' ORDER BY ordinal_position")]
        self.assertEqual(columns, [c.lower() for c, _ in LOADED_TYPES])
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM ny_taxi.yellow_taxi_data'), len(self.transformed))

    def test_export_2_replace_twice_keeps_one_copy(self):
        r, _ = self.export()
        self.assertIsNone(r['error'])
        self.assertEqual(r['log'], ['replaced ny_taxi.yellow_taxi_data with %d rows' % len(self.transformed)])
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM ny_taxi.yellow_taxi_data'), len(self.transformed))
        self.assertEqual(sql(self.conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'ny_taxi'"),
                         [('yellow_taxi_data',)])

    def test_export_3_fail_refuses_an_existing_table(self):
        r, source = self.export('fail')
        self.assertEqual(r['error']['sqlstate'], '42P07')
        self.assertIn('table ny_taxi.yellow_taxi_data already exists (if_exists="fail")', r['error']['message'])
        self.assertIn(r['error']['line'], range(line_of(source, 'loader.export('), line_of(source, "if_exists=") + 2))
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM ny_taxi.yellow_taxi_data'), len(self.transformed))

    def test_export_4_append_appends(self):
        r, _ = self.export('append')
        self.assertIsNone(r['error'])
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM ny_taxi.yellow_taxi_data'), 2 * len(self.transformed))

    def test_export_5_into_a_missing_schema_with_a_role_that_may_not_create_schemas(self):
        # alice may create tables in ny_taxi_alice but not schemas: the exporter must not ask
        # for CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the database.
        sql(self.conn, 'DROP ROLE IF EXISTS alice; CREATE ROLE alice IN ROLE pipeline_user; CREATE SCHEMA ny_taxi_alice; '
                       'GRANT USAGE, CREATE ON SCHEMA ny_taxi_alice TO alice; '
                       'GRANT USAGE ON SCHEMA pyt, pipeline TO alice; '
                       'GRANT SELECT ON pyt.transform_taxi_data TO alice; '
                       'GRANT EXECUTE ON FUNCTION pipeline._python_block(jsonb) TO alice')
        self.assertFalse(scalar(self.conn, "SELECT has_database_privilege('alice', 'postgres', 'CREATE')"))
        sql(self.conn, 'SET ROLE alice')
        try:
            r, _ = self.export(schema='ny_taxi_alice')
            denied, _ = self.export(schema='ny_taxi_denied')
        finally:
            sql(self.conn, 'RESET ROLE')
        self.assertIsNone(r['error'])
        self.assertEqual(scalar(self.conn, 'SELECT tableowner FROM pg_tables WHERE schemaname = '
                                           "'ny_taxi_alice'"), 'alice')
        self.assertEqual(denied['error']['sqlstate'], '42501')  # creating a missing schema needs CREATE


class FailureTest(unittest.TestCase):
    """A failing @test, an exception in the user's code, a failure after an export."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()
        cls.project = Project(ARGS.project)

    def transformer(self, old, new, output):
        """The seed transformer's response with old replaced by new in its source."""
        source = self.project.source('transform_taxi_data')
        self.assertIn(old, source)
        source = source.replace(old, new)
        return run(self.conn, self.project.request('transform_taxi_data', source=source,
                                                   output=rel(output))), source

    def test_a_failing_test_reports_the_users_message(self):
        r, source = self.transformer("data['passenger_count'] > 0", "data['passenger_count'] >= 0",
                                     'transform_keeping_zero')
        self.assertIsNone(r['error'])
        self.assertEqual(r['tests'], [{'name': 'test_output', 'passed': False,
                                       'message': 'There are rides with zero passengers',
                                       'line': line_of(source, 'There are rides with zero passengers')}])
        self.assertGreater(r['rows'], 0)

    def test_an_exception_reports_the_line_in_the_users_file(self):
        r, source = self.transformer("zero_passengers_df = data[data['passenger_count']",
                                     "zero_passengers_df = data[data['passenger_cnt']", 'transform_broken')
        line = line_of(source, "data['passenger_cnt']")
        self.assertEqual(r['error']['line'], line)
        self.assertEqual(r['error']['message'],
                         "KeyError: 'passenger_cnt' (transformers/transform_taxi_data.py, line %d)" % line)
        self.assertIn('File "transformers/transform_taxi_data.py", line %d, in transform' % line, r['error']['detail'])
        self.assertIsNone(r['rows'])
        self.assertIsNone(scalar(self.conn, "SELECT to_regclass('pyt.transform_broken')"))

    def test_a_failure_after_an_export_leaves_the_old_table(self):
        sql(self.conn, 'DROP SCHEMA IF EXISTS keep CASCADE; CREATE SCHEMA keep; '
                       'CREATE TABLE keep.t AS SELECT 1 AS old')
        source = '''from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
from mage_ai.settings.repo import get_repo_path
from mage_ai.data_preparation.decorators import data_exporter
import pandas as pd

@data_exporter
def export(*args, **kwargs):
    with Postgres.with_config(ConfigFileLoader(get_repo_path() + '/io_config.yaml', 'dev')) as loader:
        loader.export(pd.DataFrame({'new': [1, 2]}), 'keep', 't', if_exists='replace')
    raise RuntimeError('failed after the export')
'''
        r = run(self.conn, self.project.request('export_taxi_data_to_postgres', source=source))
        self.assertEqual(r['error']['message'], 'RuntimeError: failed after the export '
                                                '(data_exporters/export_taxi_data_to_postgres.py, line 11)')
        self.assertEqual(sql(self.conn, 'SELECT * FROM keep.t'), [(1,)])


TRICKY_FRAME = '''
import numpy as np
import pandas as pd

def tricky():
    texts = ['plain', '', None, 'comma, inside', 'quote " inside', 'line\\nbreak', 'carriage\\rreturn',
             '\\\\N', ' spaced ', 'NA', 'null', 'ünïcödé ✓']
    n = len(texts)
    return pd.DataFrame({
        'Text Column': pd.Series(texts, dtype=object),
        'Count': pd.array([None if i % 4 == 0 else i * 10 ** 12 for i in range(n)], dtype='Int64'),
        'ratio': [np.nan, 0.1, -0.0, 1e300, 5e-324, np.inf, -np.inf, 2 / 3, 1.0, 12345.678, np.nan, 3.0],
        'flag': pd.array([True, False, None] * 4, dtype='boolean'),
        'at': pd.to_datetime(['2021-01-01 00:30:10', None, '2021-01-31 23:59:59.123456'] * 4),
        'at_utc': pd.to_datetime(['2021-01-01 00:30:10+02:00', None, '2021-06-01'] * 4, utc=True),
    })
'''


class RoundTripTest(unittest.TestCase):
    """Awkward values go through an output table and come back to the next block unchanged."""

    def test_values_survive_between_blocks(self):
        conn = connect()
        sql(conn, 'CREATE SCHEMA IF NOT EXISTS pyt')
        loader = TRICKY_FRAME + '''
from mage_ai.data_preparation.decorators import data_loader

@data_loader
def load(*args, **kwargs):
    return tricky()
'''
        checker = TRICKY_FRAME + '''
from mage_ai.data_preparation.decorators import transformer, test

@transformer
def same(data, *args, **kwargs):
    return data

@test
def test_unchanged(output, *args):
    pd.testing.assert_frame_equal(output, tricky())
'''
        r = run(conn, {'kind': 'data_loader', 'block': 'tricky', 'source': loader, 'output': rel('tricky')})
        self.assertIsNone(r['error'])
        self.assertEqual([t for _, t in r['columns']],
                         ['text', 'bigint', 'double precision', 'boolean', 'timestamp', 'timestamptz'])
        rows = sql(conn, 'SELECT "Text Column" IS NULL, "Text Column" = \'\', "Text Column" FROM pyt.tricky')
        self.assertEqual(rows[1:4], [(False, True, ''), (True, None, None), (False, False, 'comma, inside')])
        self.assertEqual(rows[7][2], '\\N')
        self.assertEqual(sql(conn, "SELECT min(at)::text, max(at)::text, min(at_utc AT TIME ZONE 'UTC')::text, "
                                   "max(at_utc AT TIME ZONE 'UTC')::text, count(*) FILTER (WHERE ratio IS NULL), "
                                   "string_agg(ratio::text, ' ' ORDER BY ratio) FILTER (WHERE ratio::text IN "
                                   "('-0', 'Infinity', '-Infinity', '5e-324')), max(\"Count\") FROM pyt.tricky"),
                         [('2021-01-01 00:30:10', '2021-01-31 23:59:59.123456', '2020-12-31 22:30:10',
                           '2021-06-01 00:00:00', 2, '-Infinity -0 5e-324 Infinity', 11 * 10 ** 12)])
        r = run(conn, {'kind': 'transformer', 'block': 'same', 'source': checker, 'output': rel('same'),
                       'upstream': [{'name': 'tricky', 'relation': rel('tricky')}]})
        self.assertIsNone(r['error'])
        self.assertEqual(r['tests'][0]['passed'], True, r['tests'][0]['message'])


    def test_append_into_other_column_types_goes_through_input_functions(self):
        # Buffers that do not match the table's types exactly go as CSV, for COPY's input
        # functions: int64 into integer, float64 into numeric, bool into text, a timestamp into
        # timestamptz (read as UTC), date objects into date.
        conn = connect()
        sql(conn, 'DROP SCHEMA IF EXISTS casts CASCADE; CREATE SCHEMA casts; CREATE TABLE casts.t '
                  '("text column" varchar(40), count integer, ratio numeric, flag text, at timestamptz, '
                  'at_utc timestamptz, day date)')
        source = TRICKY_FRAME + '''
import datetime
from mage_ai.io.postgres import Postgres
from mage_ai.data_preparation.decorators import data_exporter

@data_exporter
def export(*args, **kwargs):
    frame = tricky()
    frame['Count'] = frame['Count'] // 10 ** 12
    frame['day'] = [datetime.date(2021, 1, i + 1) for i in range(len(frame))]
    Postgres().export(frame, 'casts', 't', if_exists='append')
'''
        r = run(conn, {'kind': 'data_exporter', 'block': 'casts', 'source': source})
        self.assertIsNone(r['error'])
        self.assertEqual(sql(conn, "SELECT count(*), count(*) FILTER (WHERE \"text column\" = ''), sum(count), "
                                   "string_agg(ratio::text, ' ' ORDER BY ratio) FILTER (WHERE ratio IN (0, 'Infinity')), "
                                   "string_agg(DISTINCT flag, ' '), min(at AT TIME ZONE 'UTC')::text, max(day)::text "
                                   "FROM casts.t"),
                         [(12, 1, 54, '0 Infinity', 'f t', '2021-01-01 00:30:10', '2021-01-12')])


class MoreBlocksTest(unittest.TestCase):
    """Postgres.load on this database, get_variable, a sensor, privileges and row-level security."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()
        cls.project = Project(ARGS.project)
        sql(cls.conn, 'DROP ROLE IF EXISTS bob; CREATE ROLE bob IN ROLE pipeline_user; GRANT USAGE ON SCHEMA pyt, pipeline TO bob; '
                      'GRANT EXECUTE ON FUNCTION pipeline._python_block(jsonb) TO bob')

    def as_bob(self, query, params=None):
        """query's rows, run as the unprivileged role bob."""
        sql(self.conn, 'SET ROLE bob')
        try:
            return sql(self.conn, query, params)
        finally:
            sql(self.conn, 'RESET ROLE')

    def test_load_reads_this_database_typed(self):
        source = '''from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
from mage_ai.settings.repo import get_repo_path
from mage_ai.data_preparation.decorators import data_loader, test
from os import path

@data_loader
def load_data_from_postgres(*args, **kwargs):
    query = 'SELECT * FROM pyt.load_api_data WHERE passenger_count = 1;'
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    with Postgres.with_config(ConfigFileLoader(config_path, 'dev')) as loader:
        return loader.load(query)

@test
def test_types(output, *args):
    assert str(output['passenger_count'].dtype) == 'Int64', output.dtypes
    assert str(output['tpep_pickup_datetime'].dtype) == 'datetime64[ns]', output.dtypes
'''
        r = run(self.conn, self.project.request('load_api_data', source=source, output=rel('ones')))
        self.assertIsNone(r['error'])
        self.assertEqual(r['rows'], scalar(self.conn, 'SELECT count(*) FROM pyt.load_api_data WHERE passenger_count = 1'))
        self.assertTrue(r['tests'][0]['passed'], r['tests'][0]['message'])

    def test_get_variable_reads_another_blocks_output(self):
        source = '''from mage_ai.data_preparation.decorators import custom
from mage_ai.data_preparation.variable_manager import get_variable

@custom
def count(*args, **kwargs):
    print(len(get_variable('api_to_postgres', 'load_api_data', 'output_0')))
'''
        r = run(self.conn, {'kind': 'custom', 'block': 'c', 'source': source, 'pipeline': 'api_to_postgres',
                            'outputs': {'load_api_data': rel('load_api_data')}})
        self.assertIsNone(r['error'])
        self.assertEqual(r['log'], [str(ARGS.rows)])

    def test_a_sensor_answers(self):
        source = '''from mage_ai.data_preparation.decorators import sensor
@sensor
def check(*args, **kwargs) -> bool:
    return True
'''
        self.assertIs(run(self.conn, {'kind': 'sensor', 'block': 's', 'source': source})['result'], True)

    def test_reading_an_upstream_needs_select_privilege(self):
        request = self.project.request('transform_taxi_data', output=rel('bobs'))
        r = self.as_bob('SELECT pipeline._python_block(%s::jsonb)', (json.dumps(request),))[0][0]
        self.assertEqual(r['error']['sqlstate'], '42501')
        self.assertTrue(r['error']['message'].startswith(
            'reading upstream block "load_api_data" from "pyt"."load_api_data": permission denied'), r['error'])

    def test_copy_in_refuses_row_level_security(self):
        sql(self.conn, 'CREATE TABLE pyt.guarded (a int); ALTER TABLE pyt.guarded ENABLE ROW LEVEL SECURITY; '
                       'GRANT INSERT ON pyt.guarded TO bob; CREATE TABLE pyt.closed (a int)')
        with self.assertRaisesRegex(psycopg2.errors.FeatureNotSupported, 'row-level security'):
            self.as_bob("SELECT pipeline._copy_in('pyt.guarded', 'a\n1\n')")
        with self.assertRaisesRegex(psycopg2.errors.InsufficientPrivilege, 'permission denied for table closed'):
            self.as_bob("SELECT pipeline._copy_in('pyt.closed', 'a\n1\n')")
        with self.assertRaisesRegex(psycopg2.errors.InsufficientPrivilege, 'permission denied for table closed'):
            self.as_bob("SELECT pipeline._copy_out('pyt.closed')")
        self.assertEqual(sql(self.conn, "SELECT pipeline._copy_in('pyt.guarded', 'a\n1\n')"), [(1,)])


class LimitsTest(unittest.TestCase):
    """Cancel and statement_timeout reach Python code; a memory ceiling turns into MemoryError."""

    def block(self, body, **request):
        """A custom block whose function runs body (indented lines)."""
        source = ('import time\nimport numpy as np\nfrom mage_ai.data_preparation.decorators import custom\n'
                  '@custom\ndef f(*args, **kwargs):\n' + body)
        request.update(kind='custom', block='limits', source=source)
        return request

    def test_statement_timeout_stops_a_busy_loop(self):
        conn = connect()
        sql(conn, "SET statement_timeout = '1s'")
        started = time.monotonic()
        with self.assertRaisesRegex(psycopg2.errors.QueryCanceled, 'statement timeout'):
            run(conn, self.block('    while True:\n        pass\n'))
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(scalar(conn, 'SELECT 1'), 1)

    def test_cancel_stops_a_sleeping_block(self):
        conn, other = connect(), connect()
        pid = scalar(conn, 'SELECT pg_backend_pid()')
        result = {}

        def call():
            try:
                run(conn, self.block('    time.sleep(600)\n'))
            except psycopg2.Error as e:
                result['error'] = e

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 30
        while not scalar(other, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND query LIKE "
                                "'%%_python_block%%' AND state = 'active'", (pid,)):
            self.assertLess(time.monotonic(), deadline, 'the block did not start')
            time.sleep(0.05)
        started = time.monotonic()
        self.assertTrue(scalar(other, 'SELECT pg_cancel_backend(%s)', (pid,)))
        caller.join(30)
        self.assertFalse(caller.is_alive(), 'the block did not stop')
        self.assertIsInstance(result.get('error'), psycopg2.errors.QueryCanceled)
        self.assertLess(time.monotonic() - started, 5)

    def test_a_memory_ceiling_gives_memory_error(self):
        conn = connect()
        r = run(conn, self.block('    big = np.ones(10 ** 9)\n', memory_limit_mb=400))
        self.assertTrue(r['error']['message'].startswith('MemoryError'), r['error'])
        self.assertEqual(r['error']['hint'], 'The block may use 400 MB (memory_limit_mb).')
        self.assertIsNone(run(conn, self.block('    big = np.ones(10 ** 7)\n'))['error'])  # and the limit is gone


class RemoteProfileTest(unittest.TestCase):
    """A profile marked pg_pipeline_remote goes through psycopg2 (to this same server here)."""

    @classmethod
    def setUpClass(cls):
        cls.conn = connect()
        cls.project = Project(ARGS.project)
        cls.remote_dir = ARGS.remote_project
        os.makedirs(cls.remote_dir, exist_ok=True)
        with open(os.path.join(cls.remote_dir, 'io_config.yaml'), 'w') as f:
            f.write('dev:\n  POSTGRES_DBNAME: postgres\n  POSTGRES_USER: postgres\n'
                    '  POSTGRES_PASSWORD: unused\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: %s\n'
                    '  POSTGRES_CONNECT_TIMEOUT: 10\n' % os.environ['PGPORT'])
        os.chmod(cls.remote_dir, 0o755)

    def test_export_and_load_through_psycopg2(self):
        remote = {'dev': {'pg_pipeline_remote': True}}
        source = self.project.source('export_taxi_data_to_postgres').replace(
            "schema_name = 'ny_taxi'", "schema_name = 'ny_taxi_remote'")
        r = run(self.conn, self.project.request('export_taxi_data_to_postgres', source=source,
                                                project_dir=self.remote_dir, io_config=remote))
        self.assertIsNone(r['error'])
        rows = scalar(self.conn, 'SELECT count(*) FROM pyt.transform_taxi_data')
        self.assertEqual(r['log'], ['created ny_taxi_remote.yellow_taxi_data with %d rows on the remote server' % rows])
        self.assertEqual(scalar(self.conn, 'SELECT count(*) FROM ny_taxi_remote.yellow_taxi_data'), rows)
        loader = '''from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
from mage_ai.settings.repo import get_repo_path
from mage_ai.data_preparation.decorators import data_loader

@data_loader
def load(*args, **kwargs):
    with Postgres.with_config(ConfigFileLoader(get_repo_path() + '/io_config.yaml', 'dev')) as loader:
        return loader.load('SELECT * FROM ny_taxi_remote.yellow_taxi_data')
'''
        r = run(self.conn, self.project.request('load_api_data', source=loader, output=rel('remote_loaded'),
                                                project_dir=self.remote_dir, io_config=remote))
        self.assertIsNone(r['error'])
        self.assertEqual(r['rows'], rows)
        pd.testing.assert_frame_equal(read_table(rel('remote_loaded')),
                                      read_table('ny_taxi_remote.yellow_taxi_data'))

    def test_an_unset_env_var_of_a_remote_profile_is_named(self):
        r = run(self.conn, self.project.request('export_taxi_data_to_postgres',
                                                io_config={'dev': {'pg_pipeline_remote': True}}))
        self.assertIn('POSTGRES_HOST uses environment variable POSTGRES_HOST, which is not set',
                      r['error']['message'])


def main():
    """Parses our options, leaves the rest to unittest."""
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument('--project', required=True)
    parser.add_argument('--remote-project', required=True)
    parser.add_argument('--http-port', type=int, required=True)
    parser.add_argument('--rows', type=int, required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == '__main__':
    main()
