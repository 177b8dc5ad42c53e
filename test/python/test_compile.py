"""The compiler of Mage Python blocks (pg_pipeline_runtime/compile.py), without a database: each
shape compiles to exactly the expected native block, each near miss stays Python with a reason
naming the file, line and column, and the seed's three blocks (test/fixtures/mage_python)
compile native. Whether the native blocks do what the Python does is compile_equivalence.py's
job (in a server)."""

import json
import os
import unittest

import support
from pg_pipeline_runtime.compile import compile_block
from pg_pipeline_runtime.compile_loader import PANDAS_NA_VALUES

FIXTURE = os.path.join(support.REPO, 'test', 'fixtures', 'mage_python')
PREAMBLE = {
    'data_loader': "if 'data_loader' not in globals():\n"
                   "    from mage_ai.data_preparation.decorators import data_loader\n",
    'transformer': "if 'transformer' not in globals():\n"
                   "    from mage_ai.data_preparation.decorators import transformer\n",
    'data_exporter': "if 'data_exporter' not in globals():\n"
                     "    from mage_ai.data_preparation.decorators import data_exporter\n",
}
TEST_PREAMBLE = "if 'test' not in globals():\n    from mage_ai.data_preparation.decorators import test\n"
FOLDER = {'data_loader': 'data_loaders', 'transformer': 'transformers', 'data_exporter': 'data_exporters'}
URL = 'http://127.0.0.1:54350/files/rides.csv.gz'
DTYPES = {'VendorID': 'Int64', 'passenger_count': 'Int64', 'trip_distance': 'float64',
          'store_and_fwd_flag': 'str'}


def request(kind, source, upstream=None, variables=(), io_config=None, **more):
    """A compile request for a block file."""
    if upstream is None:
        upstream = [] if kind == 'data_loader' else ['load']
    out = {'kind': kind, 'block': 'b', 'path': '%s/b.py' % FOLDER.get(kind, kind), 'source': source,
           'upstream': upstream, 'variables': list(variables), 'io_config': io_config or {}}
    out.update(more)
    return out


def compiled(kind, source, **kw):
    """compile_block's response for source (with the preamble), checked to be JSON-able."""
    response = compile_block(request(kind, PREAMBLE[kind] + TEST_PREAMBLE + source, **kw))
    json.dumps(response)
    return response


def loader(body, extra_top=''):
    """A loader file whose function body is body (indented by 4)."""
    return ('import io\nimport pandas as pd\nimport requests\n' + extra_top +
            '\n@data_loader\ndef load_data(*args, **kwargs):\n' + body)


def transformer(body, extra_top=''):
    """A transformer file whose function body is body."""
    return ('import re\nimport pandas as pd\n' + extra_top +
            '\n@transformer\ndef transform(data, *args, **kwargs):\n' + body)


def read_csv_source(url=URL, **columns):
    """The expected source of a read_csv of DTYPES and two parse_dates."""
    source = {'url': url, 'compression': 'gzip', 'columns': dict(DTYPES),
              'parse_dates': ['tpep_pickup_datetime', 'tpep_dropoff_datetime']}
    source.update(columns)
    return source


def pandas_csv():
    """The pandas_csv key of a read of DTYPES."""
    return {'optional_columns': list(DTYPES), 'na_values': PANDAS_NA_VALUES}


READ = ("    dtypes = %r\n    parse_dates = ['tpep_pickup_datetime', 'tpep_dropoff_datetime']\n"
        % DTYPES)


class CompileTestCase(unittest.TestCase):

    def assert_native(self, response, block, notes=None, log=None):
        """The response is native with exactly block (and notes, log when given)."""
        self.assertTrue(response['native'], response.get('reason'))
        self.assertEqual(response['block'], block)
        if notes is not None:
            self.assertEqual(response['notes'], notes)
        self.assertEqual(response.get('log'), log)

    def assert_python(self, response, source, text, reason_part, kind=None):
        """The response keeps the block in Python, naming the place of `text` in source."""
        self.assertFalse(response['native'], json.dumps(response.get('block')))
        line, column = position(source, text)
        folder = FOLDER.get(kind, None)
        prefix = '%s/b.py, line %d, column %d: ' % (folder, line, column) if folder else None
        if prefix:
            self.assertTrue(response['reason'].startswith(prefix),
                            '%r does not start with %r' % (response['reason'], prefix))
        self.assertIn(reason_part, response['reason'])


def position(source, text):
    """1-based (line, column) of the first occurrence of text in source."""
    index = source.index(text)
    line = source.count('\n', 0, index) + 1
    column = index - (source.rfind('\n', 0, index) + 1) + 1
    return line, column


class SeedTest(CompileTestCase):
    """The seed's api_to_postgres blocks, as the fixture has them, compile native."""

    def fixture(self, kind, name, upstream):
        path = '%s/%s.py' % (FOLDER[kind], name)
        with open(os.path.join(FIXTURE, path)) as f:
            source = f.read()
        return compile_block({'kind': kind, 'block': name, 'path': path, 'source': source,
                              'upstream': upstream, 'variables': [],
                              'io_config': {'dev': {'pg_pipeline_remote': False}}})

    def test_load_api_data(self):
        columns = {'VendorID': 'Int64', 'store_and_fwd_flag': 'str', 'RatecodeID': 'Int64',
                   'PULocationID': 'Int64', 'DOLocationID': 'Int64', 'passenger_count': 'Int64',
                   'trip_distance': 'float64', 'fare_amount': 'float64', 'extra': 'float64',
                   'mta_tax': 'float64', 'tip_amount': 'float64', 'tolls_amount': 'float64',
                   'ehail_fee': 'float64', 'improvement_surcharge': 'float64',
                   'total_amount': 'float64', 'payment_type': 'float64', 'trip_type': 'float64',
                   'congestion_surcharge': 'float64'}
        response = self.fixture('data_loader', 'load_api_data', [])
        self.assert_native(response, {
            'type': 'data_loader',
            'source': {'url': 'http://127.0.0.1:54340/files/yellow_tripdata_2021-01.csv.gz',
                       'compression': 'gzip', 'columns': columns,
                       'parse_dates': ['tpep_pickup_datetime', 'tpep_dropoff_datetime']},
            'pandas_csv': {'optional_columns': list(columns), 'na_values': PANDAS_NA_VALUES},
            'tests': [{'row_count': {'min': 0}, 'message': 'The output is undefined'}]})
        self.assertEqual(list(response['block']['source']['columns']), list(columns))  # order kept

    def test_transform_taxi_data(self):
        response = self.fixture('transformer', 'transform_taxi_data', ['load_api_data'])
        self.assert_native(response, {
            'type': 'transformer',
            'sql': 'SELECT * FROM {{ load_api_data }} WHERE "passenger_count" > 0',
            'tests': [{'assert': 'SELECT count(*) = 0 FROM {{ self }} WHERE "passenger_count" IN (0)',
                       'message': 'There are rides with zero passengers'}]},
            log=["SELECT concat('Preprocessing: records with zero passengers: ', (SELECT "
                 "count(\"passenger_count\") FROM {{ load_api_data }} WHERE (\"passenger_count\" "
                 "IN (0)))::text)",
                 "SELECT concat('Preprocessing: records with 1 passenger or more: ', (SELECT "
                 "count(\"passenger_count\") FROM {{ load_api_data }} WHERE (\"passenger_count\" "
                 "> 0))::text)"])

    def test_export_taxi_data_to_postgres(self):
        response = self.fixture('data_exporter', 'export_taxi_data_to_postgres', ['transform_taxi_data'])
        self.assert_native(response, {
            'type': 'data_exporter',
            'target': {'schema': 'ny_taxi', 'table': 'yellow_taxi_data', 'if_exists': 'replace'},
            'rename_columns': [{'expression': 'lower(name)'}]})
        self.assertIn("exports through the io_config profile 'dev', which means this database",
                      response['notes'])


class LoaderTest(CompileTestCase):

    def test_literal_url_with_local_dtypes(self):
        body = READ + ("    return pd.read_csv('%s', sep=',', compression='gzip', dtype=dtypes, "
                       "parse_dates=parse_dates)\n" % URL)
        response = compiled('data_loader', loader(body))
        self.assert_native(response, {'type': 'data_loader', 'source': read_csv_source(),
                                      'pandas_csv': pandas_csv()})

    def test_compression_inferred_from_the_url_and_tab_separator(self):
        body = READ + ("    df = pd.read_csv('http://h/x.tsv', sep='\\t', dtype=dtypes, "
                       "parse_dates=parse_dates)\n    return df\n")
        response = compiled('data_loader', loader(body))
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source('http://h/x.tsv', compression='none',
                                                                delimiter='\t')})

    def test_fstring_of_variables_and_execution_date(self):
        body = READ + (
            "    year = kwargs['year']\n    month = kwargs.get('month')\n"
            "    color = kwargs.get('color', 'yellow')\n"
            "    url = f'https://example.com/{color}/{color}_tripdata_{year}-{month:02d}.csv.gz'\n"
            "    day = kwargs['execution_date'].strftime('%Y-%m-%d')\n"
            "    url2 = url + '?day=' + day\n"
            "    return pd.read_csv(url2, dtype=dtypes, parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body), variables=['year', 'month', 'color'])
        month = ("CASE WHEN month < 0 THEN '-' || lpad((-month)::text, greatest(1, "
                 "length((-month)::text)), '0') ELSE lpad(month::text, greatest(2, "
                 "length(month::text)), '0') END")
        url = ('https://example.com/{{ color }}/{{ color }}_tripdata_{{ year }}-{{ %s }}.csv.gz'
               "?day={{ to_char((execution_date AT TIME ZONE 'UTC'), 'YYYY\"-\"MM\"-\"DD') }}" % month)
        self.assertFalse(response['native'])  # the URL ends in a run-time value: infer refuses
        self.assertIn("compression='infer' of a URL that ends in a run-time value", response['reason'])
        body = body.replace('parse_dates=parse_dates)', "parse_dates=parse_dates, compression='gzip')")
        response = compiled('data_loader', loader(body), variables=['year', 'month', 'color'])
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source(url)})

    def test_format_of_constants_and_variables(self):
        body = READ + ("    base = 'https://example.com/{}/{name}_{:02d}.csv.gz'\n"
                       "    url = base.format(kwargs['color'], 3, name='green')\n"
                       "    return pd.read_csv(url, dtype=dtypes, parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body), variables=['color'])
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source(
                                          'https://example.com/{{ color }}/green_03.csv.gz')})

    def test_module_constants_and_execution_date_parts(self):
        top = "BASE = 'https://example.com/data'\n"
        body = READ + ("    d = kwargs['execution_date']\n"
                       "    url = f'{BASE}/{d.year}/{d.month:02d}.csv.gz'\n"
                       "    return pd.read_csv(url, dtype=dtypes, parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body, top))
        year = "extract(year FROM (execution_date AT TIME ZONE 'UTC'))::bigint"
        month_sql = "(extract(month FROM (execution_date AT TIME ZONE 'UTC'))::bigint)"
        month = ("CASE WHEN %(v)s < 0 THEN '-' || lpad((-%(v)s)::text, greatest(1, "
                 "length((-%(v)s)::text)), '0') ELSE lpad(%(v)s::text, greatest(2, "
                 "length(%(v)s::text)), '0') END" % {'v': month_sql})
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source(
                                          'https://example.com/data/{{ %s }}/{{ %s }}.csv.gz'
                                          % (year, month))})

    def test_requests_and_stringio(self):
        body = READ + ("    response = requests.get('http://h/rides.csv')\n"
                       "    response.raise_for_status()\n"
                       "    return pd.read_csv(io.StringIO(response.text), sep=',', dtype=dtypes, "
                       "parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body))
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source('http://h/rides.csv',
                                                                compression='none')})

    def test_requests_and_bytesio_gzip(self):
        body = READ + ("    response = requests.get('http://h/rides.csv.gz', timeout=30)\n"
                       "    return pd.read_csv(io.BytesIO(response.content), compression='gzip', "
                       "dtype=dtypes, parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body))
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source('http://h/rides.csv.gz')})

    def several(self, response, urls):
        """The multi-file form: source.url the first, urls all of them in order."""
        self.assert_native(response, {'type': 'data_loader', 'pandas_csv': pandas_csv(),
                                      'source': read_csv_source(urls[0]), 'urls': urls})
        self.assertIn('%d files are loaded in order into one table: source.url is the first, urls '
                      'lists all of them' % len(urls),
                      response['notes'])

    def test_loop_appending_to_a_list(self):
        body = READ + ("    frames = []\n"
                       "    for month in [10, 11, 12]:\n"
                       "        url = f'http://h/green_2020-{month}.csv.gz'\n"
                       "        df = pd.read_csv(url, dtype=dtypes, parse_dates=parse_dates)\n"
                       "        frames.append(df)\n"
                       "    return pd.concat(frames, ignore_index=True)\n")
        self.several(compiled('data_loader', loader(body)),
                     ['http://h/green_2020-%d.csv.gz' % m for m in (10, 11, 12)])

    def test_loop_concatenating_onto_an_empty_frame(self):
        body = READ + ("    data = pd.DataFrame()\n"
                       "    for m in range(1, 4):\n"
                       "        df = pd.read_csv(f'http://h/y_2021-{m:02d}.csv.gz', dtype=dtypes, "
                       "parse_dates=parse_dates)\n"
                       "        data = pd.concat([data, df])\n"
                       "    return data\n")
        self.several(compiled('data_loader', loader(body)),
                     ['http://h/y_2021-%02d.csv.gz' % m for m in (1, 2, 3)])

    def test_list_comprehension(self):
        top = "MONTHS = (10, 11)\n"
        body = READ + ("    return pd.concat([pd.read_csv('http://h/g_{}.csv.gz'.format(m), "
                       "dtype=dtypes, parse_dates=parse_dates) for m in MONTHS])\n")
        self.several(compiled('data_loader', loader(body, top)),
                     ['http://h/g_10.csv.gz', 'http://h/g_11.csv.gz'])

    def test_print_in_a_loader_is_a_log_query(self):
        body = READ + ("    print('loading', kwargs['year'])\n"
                       "    return pd.read_csv('http://h/a.csv', dtype=dtypes, parse_dates=parse_dates)\n")
        response = compiled('data_loader', loader(body), variables=['year'])
        self.assertTrue(response['native'], response.get('reason'))
        self.assertEqual(response['log'],
                         ["SELECT concat('loading', ' ', {{ quote_literal((year)::text) }})"])


class LoaderNearMissTest(CompileTestCase):

    def refused(self, body, text, reason, top='', **kw):
        source = PREAMBLE['data_loader'] + TEST_PREAMBLE + loader(body, top)
        response = compile_block(request('data_loader', source, **kw))
        self.assert_python(response, source, text, reason, 'data_loader')

    def test_converters(self):
        self.refused(READ + "    return pd.read_csv('http://h/a.csv', dtype=dtypes, "
                            "converters={'x': str.strip})\n", "{'x': str.strip}",
                     'the argument converters= of pd.read_csv is not compiled')

    def test_no_dtype(self):
        self.refused("    return pd.read_csv('http://h/a.csv')\n", "pd.read_csv('http",
                     'read_csv without dtype= makes pandas infer every column type')

    def test_dtype_that_changes_type_in_the_next_python_block(self):
        self.refused("    return pd.read_csv('http://h/a.csv', dtype={'n': 'Int32'})\n",
                     "{'n': 'Int32'}", "dtype 'Int32' for column 'n' is not compiled")

    def test_unknown_variable(self):
        self.refused("    return pd.read_csv(f\"http://h/{kwargs['yaer']}.csv\", dtype={'n': 'Int64'})\n",
                     "kwargs['yaer']", "kwargs['yaer'] is not a variable of the pipeline (its "
                     "variables: year)", variables=['year'])

    def test_variable_that_templates_read_otherwise(self):
        self.refused("    return pd.read_csv(f\"http://h/{kwargs['pipeline']}.csv\", dtype={'n': 'Int64'})\n",
                     "kwargs['pipeline']", "means something else in a native template",
                     variables=['pipeline'])

    def test_unknown_name(self):
        self.refused("    return pd.read_csv(make_url(), dtype={'n': 'Int64'})\n", 'make_url',
                     'the name make_url is not known to the compiler')

    def test_unknown_attribute(self):
        self.refused("    return pd.read_parquet('http://h/a.parquet')\n", "pd.read_parquet(",
                     'pandas.read_parquet() is not a call pg_pipeline compiles')

    def test_variable_added_with_plus(self):
        self.refused("    return pd.read_csv('http://h/' + kwargs['year'] + '.csv', dtype={'n': 'Int64'})\n",
                     "kwargs['year'] + '.csv'", '+ of', variables=['year'])

    def test_files_read_differently(self):
        self.refused("    a = pd.read_csv('http://h/a.csv', dtype={'n': 'Int64'})\n"
                     "    b = pd.read_csv('http://h/b.csv', dtype={'n': 'float64'})\n"
                     "    return pd.concat([a, b])\n", "pd.read_csv('http://h/b.csv'",
                     'the files are read with different options')

    def test_top_level_code(self):
        self.refused("    return pd.read_csv('http://h/a.csv', dtype={'n': 'Int64'})\n",
                     "print('loading module')", 'top-level code', top="print('loading module')\n")

    def test_unknown_module(self):
        self.refused("    return pd.read_csv('http://h/a.csv', dtype={'n': 'Int64'})\n",
                     'import my_helpers', 'importing my_helpers may do anything',
                     top='import my_helpers\n')

    def test_untranslatable_test_keeps_the_block_in_python(self):
        body = "    return pd.read_csv('http://h/a.csv', dtype={'n': 'Int64'})\n"
        tail = ("\n@test\ndef test_output(output, *args) -> None:\n"
                "    assert output.shape[1] == 18, 'eighteen columns'\n")
        source = PREAMBLE['data_loader'] + TEST_PREAMBLE + loader(body) + tail
        response = compile_block(request('data_loader', source))
        self.assert_python(response, source, 'output.shape[1] == 18',
                           'in @test test_output: a test that cannot be translated keeps the whole '
                           'block in Python', 'data_loader')


class TransformerTest(CompileTestCase):

    def sql_of(self, body, **kw):
        response = compiled('transformer', transformer(body), **kw)
        self.assertTrue(response['native'], response.get('reason'))
        return response['block']['sql']

    def test_comparisons_and_combinations(self):
        self.assertEqual(self.sql_of("    return data[(data['passenger_count'] > 0) & "
                                     "(data['trip_distance'] <= 2.5)]\n"),
                         'SELECT * FROM {{ load }} WHERE ("passenger_count" > 0) AND '
                         '("trip_distance" <= 2.5)')
        self.assertEqual(self.sql_of("    return data[(data['a'] == 'x') | (3 < data['b'])]\n"),
                         "SELECT * FROM {{ load }} WHERE (\"a\" = 'x') OR (\"b\" > 3)")

    def test_negation_keeps_missing_values_as_pandas_does(self):
        nullable = ("pg_typeof(\"passenger_count\") IN ('smallint'::regtype, 'integer'::regtype, "
                    "'bigint'::regtype, 'boolean'::regtype)")
        self.assertEqual(self.sql_of("    return data[~(data['passenger_count'] > 0)]\n"),
                         'SELECT * FROM {{ load }} WHERE NOT (CASE WHEN "passenger_count" IS NOT '
                         'NULL THEN "passenger_count" > 0 WHEN %s THEN NULL ELSE false END)' % nullable)
        self.assertEqual(self.sql_of("    return data[data['passenger_count'] != 0]\n"),
                         'SELECT * FROM {{ load }} WHERE CASE WHEN "passenger_count" IS NOT NULL '
                         'THEN "passenger_count" <> 0 WHEN %s THEN NULL ELSE true END' % nullable)

    def test_isin_notna_isna(self):
        self.assertEqual(self.sql_of("    return data[~data['c'].isin([1, 2]) & data['d'].notna() "
                                     "| data['e'].isnull()]\n"),
                         'SELECT * FROM {{ load }} WHERE ((NOT (coalesce("c" IN (1, 2), false))) '
                         'AND ("d" IS NOT NULL)) OR ("e" IS NULL)')

    def test_filters_in_steps_and_a_mask_variable(self):
        body = ("    mask = data['a'] > 0\n    data = data[mask]\n"
                "    data = data[data['b'].isin(['x'])]\n    return data\n")
        self.assertEqual(self.sql_of(body),
                         "SELECT * FROM {{ load }} WHERE (\"a\" > 0) AND (\"b\" IN ('x'))")

    def test_query(self):
        self.assertEqual(self.sql_of("    return data.query('passenger_count > 0 & trip_distance "
                                     "> 0 and not (c in [1, 2])')\n"),
                         'SELECT * FROM {{ load }} WHERE ("passenger_count" > 0) AND '
                         '("trip_distance" > 0) AND (NOT (coalesce("c" IN (1, 2), false)))')

    def test_derived_columns(self):
        body = ("    data['pickup_date'] = data['tpep_pickup_datetime'].dt.date\n"
                "    data['source'] = 'yellow'\n    data['one'] = 1\n    return data\n")
        self.assertEqual(self.sql_of(body),
                         "SELECT *, CASE WHEN pg_typeof(\"tpep_pickup_datetime\") = 'timestamp with "
                         "time zone'::regtype THEN (\"tpep_pickup_datetime\" AT TIME ZONE 'UTC')"
                         "::date ELSE date_trunc('day', \"tpep_pickup_datetime\")::date END AS "
                         "\"pickup_date\", 'yellow'::text AS \"source\", 1::bigint AS \"one\" FROM "
                         "{{ load }}")

    def test_dict_rename_then_filter_on_the_new_name(self):
        body = ("    data = data.rename(columns={'VendorID': 'vendor_id'})\n"
                "    return data[data['vendor_id'] == 2]\n")
        response = compiled('transformer', transformer(body))
        self.assert_native(response, {'type': 'transformer',
                                      'sql': 'SELECT * FROM {{ load }} WHERE "VendorID" = 2',
                                      'rename_columns': [{'map': {'VendorID': 'vendor_id'}}]})

    def test_camel_to_snake_idioms(self):
        cases = {
            "    data.columns = (data.columns.str.replace(' ', '_').str.lower())\n":
                "lower(replace(name, ' ', '_'))",
            "    data.columns = data.columns.str.replace('(?<=[a-z])(?=[A-Z])', '_', regex=True)"
            ".str.lower()\n":
                "lower(regexp_replace(name, '(?<=[a-z])(?=[A-Z])', '_', 'g'))",
            "    data.columns = [re.sub(r'(?<!^)(?=[A-Z])', '_', c).lower() for c in data.columns]\n":
                "lower(regexp_replace(name, '(?<!^)(?=[A-Z])', '_', 'g'))",
            "    data.columns = [re.sub('([a-z0-9])([A-Z])', r'\\g<1>_\\2', c).lower() "
            "for c in data.columns]\n":
                "lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\\1_\\2', 'g'))",
        }
        for body, expression in cases.items():
            with self.subTest(body=body):
                response = compiled('transformer', transformer(body + '    return data\n'))
                self.assert_native(response, {'type': 'transformer', 'sql': 'SELECT * FROM {{ load }}',
                                              'rename_columns': [{'expression': expression}]})

    def test_rename_in_place_and_tests_on_the_new_names(self):
        body = ("    data.rename(columns=str.lower, inplace=True)\n    return data\n"
                "\n@test\ndef test_output(output, *args) -> None:\n"
                "    assert 'vendorid' in output.columns, 'vendorid is missing'\n")
        response = compiled('transformer', transformer(body))
        self.assert_native(response, {
            'type': 'transformer', 'sql': 'SELECT * FROM {{ load }}',
            'rename_columns': [{'expression': 'lower(name)'}],
            'tests': [{'assert': "SELECT count(*) = 1 FROM pg_catalog.pg_attribute WHERE attrelid = "
                                 "'{{ self }}'::regclass AND attname = 'vendorid' AND attnum > 0 "
                                 "AND NOT attisdropped", 'message': 'vendorid is missing'}]})

    def test_prints_of_counts(self):
        body = ("    print('rows:', len(data))\n    kept = data.dropna(subset=['a'])\n"
                "    print(f'kept {kept.shape[0]} of {len(data)}; {(data[\"a\"] > 1).sum()} over one')\n"
                "    return kept\n")
        response = compiled('transformer', transformer(body))
        self.assert_native(response, {'type': 'transformer',
                                      'sql': 'SELECT * FROM {{ load }} WHERE "a" IS NOT NULL'},
                           log=["SELECT concat('rows:', ' ', (SELECT count(*) FROM {{ load }})::text)",
                                "SELECT concat('kept ', (SELECT count(*) FROM {{ load }} WHERE "
                                "(\"a\" IS NOT NULL))::text, ' of ', (SELECT count(*) FROM "
                                "{{ load }})::text, '; ', (SELECT count(*) FROM {{ load }} WHERE "
                                "(\"a\" > 1))::text, ' over one')"])


    def test_helper_function_in_a_comprehension(self):
        helper = ("def camel_to_snake(name):\n"
                  "    \"\"\"The green-taxi homework's helper.\"\"\"\n"
                  "    name = re.sub(r'(.)([A-Z][a-z]+)', r'\\1_\\2', name)\n"
                  "    return re.sub(r'([a-z0-9])([A-Z])', r'\\1_\\2', name).lower()\n\n")
        response = compiled('transformer', transformer(
            "    data.columns = [camel_to_snake(c) for c in data.columns]\n    return data\n",
            extra_top=helper))
        self.assert_native(response, {'type': 'transformer', 'sql': 'SELECT * FROM {{ load }}',
                                      'rename_columns': [{'expression': (
                                          "lower(regexp_replace(regexp_replace(name, '(.)([A-Z][a-z]+)', "
                                          "'\\1_\\2', 'g'), '([a-z0-9])([A-Z])', '\\1_\\2', 'g'))")}]})


class TransformerNearMissTest(CompileTestCase):

    def refused(self, body, text, reason, **kw):
        source = PREAMBLE['transformer'] + TEST_PREAMBLE + transformer(body)
        response = compile_block(request('transformer', source, **kw))
        self.assert_python(response, source, text, reason, 'transformer')

    def test_helper_function_that_is_not_assignments_and_a_return(self):
        helper = ("def snake(name):\n    for old in 'AB':\n        name = name.replace(old, '_')\n"
                  "    return name\n\n")
        source = PREAMBLE['transformer'] + TEST_PREAMBLE + transformer(
            "    data.columns = [snake(c) for c in data.columns]\n    return data\n", extra_top=helper)
        response = compile_block(request('transformer', source))
        self.assert_python(response, source, "for old in", 'a helper function is compiled only when '
                           'its body assigns names and returns', 'transformer')

    def test_helper_function_on_a_column(self):
        helper = "def double(x):\n    return x * 2\n\n"
        source = PREAMBLE['transformer'] + TEST_PREAMBLE + transformer(
            "    data['t'] = double(data['a'])\n    return data\n", extra_top=helper)
        response = compile_block(request('transformer', source))
        self.assert_python(response, source, "double(data['a'])", 'is compiled only when called on '
                           'a column name', 'transformer')

    def test_apply_lambda(self):
        self.refused("    data['t'] = data['a'].apply(lambda x: x * 2)\n    return data\n",
                     "data['a'].apply(", '.apply() is not a shape pg_pipeline compiles')

    def test_filter_on_a_column_computed_by_apply(self):
        self.refused("    data['fare_per_mile'] = data.apply(lambda r: r['fare'] / r['miles'], axis=1)\n"
                     "    return data[data['fare_per_mile'] > 2]\n", 'data.apply(',
                     '.apply() is not a shape pg_pipeline compiles')

    def test_filter_on_a_column_computed_in_python(self):
        self.refused("    data['d'] = data['t'].dt.date\n    return data[data['d'] > 0]\n",
                     "data['d'] > 0", "column 'd' is computed in this block")

    def test_mutated_column_read_later(self):
        self.refused("    data['a'] = 0\n    print(data['a'].count())\n    return data\n",
                     "data['a'].count()", "column 'a' is computed in this block")

    def test_renamed_away_column(self):
        self.refused("    data = data.rename(columns={'a': 'b'})\n    return data[data['a'] > 1]\n",
                     "data['a'] > 1", "column 'a' was renamed to 'b' above")

    def test_read_after_a_rule_rename(self):
        self.refused("    data.columns = data.columns.str.lower()\n    return data[data['a'] > 1]\n",
                     "data['a'] > 1", 'renamed by a rule')

    def test_string_ordering(self):
        self.refused("    return data[data['day'] >= '2021-01-15']\n", "data['day'] >= '2021",
                     'ordering a column against a string is not compiled')

    def test_if_statement(self):
        self.refused("    if len(data) > 0:\n        data = data[data['a'] > 0]\n    return data\n",
                     'if len(data)', 'is not a shape pg_pipeline compiles')

    def test_unknown_method(self):
        self.refused("    return data.drop_duplicates()\n", 'data.drop_duplicates()',
                     '.drop_duplicates() is not a shape pg_pipeline compiles')

    def test_regex_outside_the_common_subset(self):
        self.refused("    data.columns = data.columns.str.replace('\\\\W+', '_', regex=True)\n"
                     "    return data\n", "data.columns.str.replace(",
                     "the character '\\\\' in the pattern")

    def test_column_read_as_an_attribute(self):
        self.refused("    return data[data.passenger_count > 0]\n", 'data.passenger_count',
                     'data.passenger_count is not a shape pg_pipeline compiles')

    def test_column_of_another_frame(self):
        self.refused("    kept = data[data['a'] > 0]\n    data['b'] = kept['a']\n    return data\n",
                     "kept['a']", "a column computed as kept['a'] is not compiled")

    def test_run_variable_in_a_filter(self):
        self.refused("    return data[data['year'] == kwargs['year']]\n", "data['year'] ==",
                     'only comparisons of a column with a literal are compiled', variables=['year'])

    def test_query_with_a_local_variable(self):
        self.refused("    low = 2\n    return data.query('a > @low')\n", "'a > @low'",
                     "the query 'a > @low' uses @")

    def test_two_upstream_blocks(self):
        source = PREAMBLE['transformer'] + transformer("    return data\n").replace(
            'def transform(data, *args', 'def transform(data, zones, *args')
        response = compile_block(request('transformer', source, upstream=['load', 'zones']))
        self.assert_python(response, source, 'def transform', 'only transformers of exactly one '
                           'upstream block', 'transformer')

    def test_helper_function_of_several_parameters(self):
        source = PREAMBLE['transformer'] + transformer("    return data\n") + \
            "\ndef helper(x, *more):\n    return x\n"
        response = compile_block(request('transformer', source))
        self.assert_python(response, source, 'def helper', 'only helper functions of one plain '
                           'parameter are compiled', 'transformer')


class ExporterTest(CompileTestCase):
    TOP = ('from mage_ai.settings.repo import get_repo_path\nfrom mage_ai.io.config import '
           'ConfigFileLoader\nfrom mage_ai.io.postgres import Postgres\nfrom pandas import '
           'DataFrame\nimport os\n')

    def exporter(self, body):
        return (self.TOP + '\n@data_exporter\ndef export_data(df: DataFrame, **kwargs) -> None:\n'
                + body)

    def test_without_with_and_case_sensitive_append(self):
        body = ("    config_path = os.path.join(get_repo_path(), 'io_config.yaml')\n"
                "    Postgres.with_config(ConfigFileLoader(config_path, 'default')).export(\n"
                "        df, 'public', 'Rides', index=False, if_exists='append', case_sensitive=True)\n")
        response = compiled('data_exporter', self.exporter(body))
        self.assert_native(response, {'type': 'data_exporter', 'target': {
            'schema': 'public', 'table': 'Rides', 'if_exists': 'append'}})

    def test_run_says_keep_the_case(self):
        body = ("    with Postgres.with_config(ConfigFileLoader(os.path.join(get_repo_path(), "
                "'io_config.yaml'), 'dev')) as pg:\n"
                "        pg.export(df, schema_name='s', table_name='t')\n")
        response = compiled('data_exporter', self.exporter(body), lowercase_columns=False)
        self.assert_native(response, {'type': 'data_exporter', 'target': {
            'schema': 's', 'table': 't', 'if_exists': 'replace'}})

    def test_remote_profile_stays_python(self):
        body = ("    config_path = os.path.join(get_repo_path(), 'io_config.yaml')\n"
                "    with Postgres.with_config(ConfigFileLoader(config_path, 'warehouse')) as pg:\n"
                "        pg.export(df, 's', 't', index=False, if_exists='replace')\n")
        source = PREAMBLE['data_exporter'] + TEST_PREAMBLE + self.exporter(body)
        response = compile_block(request('data_exporter', source,
                                         io_config={'warehouse': {'pg_pipeline_remote': True}}))
        self.assert_python(response, source, "'warehouse'", "the io_config profile 'warehouse' is "
                           'another server', 'data_exporter')

    def test_export_of_a_changed_frame_stays_python(self):
        body = ("    config_path = os.path.join(get_repo_path(), 'io_config.yaml')\n"
                "    df2 = df.dropna()\n"
                "    with Postgres.with_config(ConfigFileLoader(config_path, 'dev')) as pg:\n"
                "        pg.export(df2, 's', 't', index=False, if_exists='replace')\n")
        source = PREAMBLE['data_exporter'] + TEST_PREAMBLE + self.exporter(body)
        response = compile_block(request('data_exporter', source))
        self.assert_python(response, source, 'df.dropna()', '.dropna() is not a shape',
                           'data_exporter')

    def test_index_true_stays_python(self):
        body = ("    config_path = os.path.join(get_repo_path(), 'io_config.yaml')\n"
                "    with Postgres.with_config(ConfigFileLoader(config_path, 'dev')) as pg:\n"
                "        pg.export(df, 's', 't', index=True)\n")
        source = PREAMBLE['data_exporter'] + TEST_PREAMBLE + self.exporter(body)
        response = compile_block(request('data_exporter', source))
        self.assert_python(response, source, 'True)', 'export(index=True) writes the index',
                           'data_exporter')


class TestsTest(CompileTestCase):
    """Each assert shape of a @test and its native test."""

    def compiled_tests(self, asserts):
        body = ("    return data\n\n@test\ndef test_output(output, *args) -> None:\n"
                '    """Checks."""\n' + asserts)
        response = compiled('transformer', transformer(body))
        self.assertTrue(response['native'], response.get('reason'))
        return response['block']['tests']

    def test_shapes(self):
        cases = [
            ("assert output is not None, 'm'", {'row_count': {'min': 0}}),
            ("assert len(output) > 0, 'm'", {'row_count': {'min': 1}}),
            ("assert output.shape[0] <= 10, 'm'", {'row_count': {'max': 10}}),
            ("assert 5 == len(output.index), 'm'", {'row_count': {'min': 5, 'max': 5}}),
            ("assert not output.empty, 'm'", {'row_count': {'min': 1}}),
            ("assert output['c'].notna().all(), 'm'", {'not_null': ['c']}),
            ("assert output['c'].isna().sum() == 0, 'm'", {'not_null': ['c']}),
            ("assert not output['c'].isnull().any(), 'm'", {'not_null': ['c']}),
            ("assert output['c'].isin([0]).sum() == 0, 'm'",
             {'assert': 'SELECT count(*) = 0 FROM {{ self }} WHERE "c" IN (0)'}),
            ("assert (output['c'] > 0).all(), 'm'",
             {'assert': 'SELECT count(*) = 0 FROM {{ self }} WHERE NOT (CASE WHEN "c" IS NOT NULL '
                        'THEN "c" > 0 WHEN pg_typeof("c") IN (\'smallint\'::regtype, '
                        '\'integer\'::regtype, \'bigint\'::regtype, \'boolean\'::regtype) THEN NULL '
                        'ELSE false END)'}),
            ("assert (output['c'] == 2).any(), 'm'",
             {'assert': 'SELECT count(*) > 0 FROM {{ self }} WHERE "c" = 2'}),
            ("assert output['fare'].min() >= 0, 'm'",
             {'assert': 'SELECT min("fare") >= 0 FROM {{ self }}'}),
            ("assert 'c' not in output.columns, 'm'",
             {'assert': "SELECT count(*) = 0 FROM pg_catalog.pg_attribute WHERE attrelid = "
                        "'{{ self }}'::regclass AND attname = 'c' AND attnum > 0 AND NOT "
                        "attisdropped"}),
        ]
        for text, test in cases:
            with self.subTest(text=text):
                test = dict(test, message='m')
                self.assertEqual(self.compiled_tests('    ' + text + '\n'), [test])

    def test_message_defaults_to_what_python_reports(self):
        tests = self.compiled_tests("    assert len(output) > 0\n")
        self.assertEqual(tests[0]['message'][:len('assertion failed (transformers/b.py, line ')],
                         'assertion failed (transformers/b.py, line ')

    def test_exporter_tests_stay_python(self):
        source = (PREAMBLE['data_exporter'] + TEST_PREAMBLE + ExporterTest.TOP +
                  "\n@data_exporter\ndef e(df, **kwargs):\n"
                  "    with Postgres.with_config(ConfigFileLoader(os.path.join(get_repo_path(), "
                  "'io_config.yaml'), 'dev')) as pg:\n        pg.export(df, 's', 't')\n"
                  "\n@test\ndef test_output(output, *args):\n    assert output is not None\n")
        response = compile_block(request('data_exporter', source))
        self.assert_python(response, source, 'def test_output', 'tests of an exporter', 'data_exporter')


class RequestTest(unittest.TestCase):

    def test_custom_blocks_and_syntax_errors_stay_python(self):
        response = compile_block({'kind': 'custom', 'block': 'c', 'path': 'custom/c.py', 'source': ''})
        self.assertEqual(response, {'native': False, 'reason': 'custom/c.py: custom blocks are not compiled'})
        response = compile_block(request('transformer', 'def f(:\n'))
        self.assertFalse(response['native'])
        self.assertTrue(response['reason'].startswith('transformers/b.py, line 1, column'))

    def test_kind_must_match_the_decorator(self):
        source = PREAMBLE['transformer'] + transformer('    return data\n')
        response = compile_block(request('data_loader', source))
        self.assertFalse(response['native'])
        self.assertIn('a @transformer function in a data_loader block is not compiled', response['reason'])


if __name__ == '__main__':
    unittest.main()
