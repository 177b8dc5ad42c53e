"""Column buffers for pipeline._copy_in_columns / _copy_out_columns: what each pandas dtype is
sent as, and chunks (built here the way src/pg/python/bridge.cpp builds them) read back into
the agreed dtypes. test/python/run_in_server.sh runs both ends for real."""

import datetime
import decimal
import struct
import unittest

import numpy as np
import pandas as pd

import support  # noqa: F401  (sys.path)
from pg_pipeline_runtime import columns


def chunk(rows, cols):
    """A _copy_out_columns chunk: cols are (kind, values, nulls or None); text values are str."""
    out = struct.pack('<II', rows, len(cols))
    for kind, values, nulls in cols:
        out += kind.encode() + bytes([nulls is not None])
        if nulls is not None:
            out += bytes(nulls)
        if kind == 's':
            text = '\0'.join(values).encode()
            out += struct.pack('<Q', len(text)) + text
        elif kind == 'b':
            out += bytes(values)
        else:
            out += np.array(values, dtype='<f8' if kind == 'f' else '<i8').tobytes()
    return out


class PayloadTest(unittest.TestCase):

    def test_kinds_values_and_nulls(self):
        us = 1609461010 * 10 ** 6  # 2021-01-01 00:30:10 UTC
        cases = [
            (pd.Series([1, None, -3], dtype='Int64'), 'i', np.array([1, 0, -3]).tobytes(), b'\0\1\0'),
            (pd.Series([1, 2], dtype='int32'), 'i', np.array([1, 2]).tobytes(), b''),
            (pd.Series([0.5, np.nan]), 'f', np.array([0.5, np.nan]).tobytes(), b'\0\1'),
            (pd.Series([True, None], dtype='boolean'), 'b', b'\1\0', b'\0\1'),
            (pd.Series(pd.to_datetime(['2021-01-01 00:30:10.0000005', None])), 't',
             np.array([us + 1, -(2 ** 63) // 1000]).tobytes(), b'\0\1'),
            (pd.Series(pd.to_datetime(['2021-01-01 02:30:10+02:00'], utc=True)), 'z', np.array([us]).tobytes(), b''),
            (pd.Series(['a', None, '', 'ü']), 's', 'a\0\0\0ü'.encode(), b'\0\1\0\0'),
            (pd.Series([datetime.date(2021, 1, 2), decimal.Decimal('1.10'), 7]), 's', b'2021-01-02\x001.10\x007', b''),
            (pd.Series(pd.to_timedelta(['1 minute', None])), 's', b'0 days 00:01:00\0', b'\0\1'),
        ]
        for series, kind, data, nulls in cases:
            got = columns.column_payload(series)
            self.assertEqual(got[0], kind, series.dtype)
            if kind == 't':  # NaT's slot is not looked at: compare the first value only
                self.assertEqual(got[1][:8], data[:8])
            else:
                self.assertEqual(got[1], data, series.dtype)
            self.assertEqual(got[2], nulls, series.dtype)

    def test_nul_in_text_is_refused(self):
        with self.assertRaisesRegex(columns.ColumnError, 'NUL character'):
            columns.column_payload(pd.Series(['a\0b'], name='s'))

    def test_chunks_of_rows(self):
        frame = pd.DataFrame({'a': range(5), 'b': list('abcde')})
        got = [(rows, kinds) for rows, kinds, _, _ in columns.frame_payloads(frame, rows=2)]
        self.assertEqual(got, [(2, ['i', 's']), (2, ['i', 's']), (1, ['i', 's'])])

    def test_encodings(self):
        self.assertEqual(columns.python_encoding('UTF8'), 'utf-8')
        self.assertEqual(columns.python_encoding('LATIN1'), 'iso8859-1')
        self.assertEqual(columns.python_encoding('WIN1252'), 'cp1252')
        with self.assertRaises(columns.ColumnError):
            columns.python_encoding('MULE_INTERNAL')


class ReadTest(unittest.TestCase):

    def test_chunks_read_back_typed(self):
        us = 1609461010 * 10 ** 6
        first = chunk(2, [('i', [7, 0], [0, 1]), ('f', [0.1, 0], [0, 1]), ('b', [1, 0], None),
                          ('t', [us, 0], [0, 1]), ('z', [us, us], None), ('s', ['x', ''], [0, 1])])
        second = chunk(1, [('i', [8], None), ('f', [2.5], None), ('b', [0], [1]),
                           ('t', [us + 500000], None), ('z', [0], None), ('s', [''], None)])
        described = [('i', 'bigint'), ('f', 'double precision'), ('b', 'boolean'),
                     ('t', 'timestamp without time zone'), ('z', 'timestamp with time zone'), ('s', 'text')]
        frame = columns.frame_from_chunks(iter([first, second]), described)
        self.assertEqual([str(t) for t in frame.dtypes],
                         ['Int64', 'float64', 'boolean', 'datetime64[ns]', 'datetime64[ns, UTC]', 'object'])
        self.assertEqual(list(frame['i']), [7, pd.NA, 8])
        self.assertTrue(np.isnan(frame['f'][1]))
        self.assertEqual(list(frame['b']), [True, False, pd.NA])
        self.assertEqual(frame['t'][2], pd.Timestamp('2021-01-01 00:30:10.5'))
        self.assertTrue(pd.isna(frame['t'][1]))
        self.assertEqual(frame['z'][2], pd.Timestamp('1970-01-01', tz='UTC'))
        self.assertEqual(frame['s'][0], 'x')
        self.assertTrue(pd.isna(frame['s'][1]))
        self.assertEqual(frame['s'][2], '')

    def test_dates_read_as_datetime_dates(self):
        midnight = 1601510400 * 10 ** 6  # 2020-10-01
        frame = columns.frame_from_chunks(iter([chunk(2, [('t', [midnight, 0], [0, 1]), ('t', [midnight, 0], None)])]),
                                          [('day', 'date'), ('day', 'date')])
        self.assertEqual(frame.iloc[:, 0].tolist(), [datetime.date(2020, 10, 1), None])
        self.assertEqual(frame.iloc[:, 1].tolist(), [datetime.date(2020, 10, 1), datetime.date(1970, 1, 1)])

    def test_more_or_fewer_rows_than_expected(self):
        chunks = [chunk(2, [('f', [1.0, 2.0], None), ('s', ['a', 'b'], None), ('i', [1, 2], [0, 1])]),
                  chunk(1, [('f', [3.0], [1]), ('s', ['c'], [1]), ('i', [3], None)])]
        described = [('f', 'double precision'), ('s', 'text'), ('i', 'bigint')]
        for expected in (0, 1, 3, 1000):
            frame = columns.frame_from_chunks(iter(chunks), described, expected_rows=expected)
            self.assertEqual(frame['f'].tolist()[:2], [1.0, 2.0], expected)
            self.assertTrue(np.isnan(frame['f'][2]))
            self.assertEqual(frame['s'].tolist()[:2], ['a', 'b'])
            self.assertTrue(pd.isna(frame['s'][2]))
            self.assertEqual(frame['i'].tolist(), [1, pd.NA, 3])

    def test_float_columns_are_one_block_in_table_order(self):
        described = [('a', 'real'), ('b', 'bigint'), ('c', 'numeric'), ('d', 'text')]
        frame = columns.frame_from_chunks(iter([chunk(1, [('f', [1.5], None), ('i', [2], None),
                                                          ('f', [3.5], None), ('s', ['x'], None)])]),
                                          described)
        self.assertEqual(list(frame.columns), ['a', 'b', 'c', 'd'])
        self.assertEqual(frame.iloc[0].tolist(), [1.5, 2, 3.5, 'x'])
        self.assertEqual(sum(1 for b in frame._mgr.blocks if b.dtype == np.float64), 1)

    def test_no_chunks_give_typed_empty_columns(self):
        frame = columns.frame_from_chunks(iter([]), [('a', 'integer'), ('b', 'date'), ('c', 'text')])
        self.assertEqual((len(frame), [str(t) for t in frame.dtypes]), (0, ['Int64', 'object', 'object']))

    def test_duplicate_names_survive(self):
        frame = columns.frame_from_chunks(iter([chunk(1, [('i', [1], None), ('i', [2], None)])]),
                                          [('a', 'bigint'), ('a', 'bigint')])
        self.assertEqual(list(frame.columns), ['a', 'a'])

    def test_timestamps_beyond_pandas_are_an_error(self):
        year_3000 = 32503680000 * 10 ** 6
        with self.assertRaisesRegex(columns.ColumnError, 'outside the years 1677 to 2262'):
            columns.frame_from_chunks(iter([chunk(1, [('t', [year_3000], None)])]), [('t', 'timestamp')])


if __name__ == '__main__':
    unittest.main()
