"""Type maps: DataFrame columns get the YAML loader's Postgres types (checked against the table
in src/core/dtypes.cpp itself), and Postgres columns come back as the agreed pandas dtypes."""

import datetime
import decimal
import os
import re
import unittest

import numpy as np
import pandas as pd

import support
from pg_pipeline_runtime import dtypes


class PandasToPostgresTest(unittest.TestCase):

    def test_same_table_as_the_yaml_loader(self):
        with open(os.path.join(support.REPO, 'src/core/dtypes.cpp')) as f:
            core = dict(re.findall(r'\{"([^"]+)",\s*"([^"]+)"\}', f.read()))
        self.assertGreater(len(core), 30)
        self.assertEqual(dtypes.PANDAS_TO_PG, core)

    def test_columns_of_each_dtype(self):
        cases = {
            'bigint': [pd.Series([1, None], dtype='Int64'), pd.Series([1, 2], dtype='int64')],
            'integer': [pd.Series([1], dtype='int32')],
            'double precision': [pd.Series([1.5, np.nan]), pd.Series([1, 2], dtype='Float64')],
            'real': [pd.Series([1.5], dtype='float32')],
            'text': [pd.Series(['a', None]), pd.Series(['a'], dtype='string'),
                     pd.Series(['a'], dtype='category'), pd.Series([None, None], dtype=object),
                     pd.Series(['a', 1], dtype=object)],
            'boolean': [pd.Series([True, False]), pd.Series([True, None], dtype='boolean'),
                        pd.Series([True, None], dtype=object)],
            'timestamp': [pd.Series(pd.to_datetime(['2021-01-01 00:30:10', None]))],
            'timestamptz': [pd.Series(pd.to_datetime(['2021-01-01'], utc=True)),
                            pd.Series(pd.to_datetime(['2021-01-01']).tz_localize('America/New_York'))],
            'interval': [pd.Series(pd.to_timedelta(['1 minute']))],
            'date': [pd.Series([datetime.date(2021, 1, 1), None])],
            'numeric': [pd.Series([decimal.Decimal('1.10')]), pd.Series([2 ** 70, 1], dtype=object)],
        }
        for pg_type, columns in cases.items():
            for column in columns:
                self.assertEqual(dtypes.pg_type_for(column), pg_type, str(column.dtype))


class PostgresToPandasTest(unittest.TestCase):

    def test_reading_types(self):
        cases = {
            'Int64': ['bigint', 'integer', 'smallint'],
            'float64': ['double precision', 'real', 'numeric', 'numeric(10,2)'],
            'object': ['text', 'character varying(20)', 'jsonb', 'uuid', 'integer[]', 'interval', 'date'],
            'boolean': ['boolean'],
            'datetime64[ns]': ['timestamp without time zone', 'timestamp(3) without time zone'],
            'datetime64[ns, UTC]': ['timestamp with time zone'],
        }
        for kind, pg_types in cases.items():
            for pg_type in pg_types:
                self.assertEqual(dtypes.pandas_kind(pg_type), kind, pg_type)


class DatesTest(unittest.TestCase):

    def test_date_columns_are_datetime_dates_and_none(self):
        read = dtypes.as_dates(pd.Series(pd.to_datetime(['2020-10-01 00:00', None])))
        self.assertEqual(read.tolist(), [datetime.date(2020, 10, 1), None])
        self.assertEqual(dtypes.pg_type_for(read), 'date')  # so exporting it again makes a date column
        self.assertEqual(dtypes.as_dates(pd.Series(['2020-12-31', None], dtype=object)).tolist(),
                         [datetime.date(2020, 12, 31), None])


if __name__ == '__main__':
    unittest.main()
