"""The CSV conventions between pandas and COPY: NULLs, empty strings, quotes, commas, CR/LF,
a value that looks like the NULL marker, timestamps, booleans and floats survive both ways.

COPY's reading rule is emulated by copy_fields (a quoted field is a value, an unquoted one
equal to the NULL string is NULL), and the server's writing rule by server_csv (as
src/pg/python/bridge.cpp writes: quote a value that is empty, equals the marker or holds
, " CR LF). test/python/run_in_server.sh runs the real thing."""

import datetime
import io
import math
import unittest

import numpy as np
import pandas as pd

import support  # noqa: F401  (sys.path)
from pg_pipeline_runtime import csvio

TEXTS = ['plain', '', None, 'comma, inside', 'quote " inside', 'line\nbreak', 'carriage\rreturn',
         'crlf\r\nend', '\\N', ' spaced ', 'NA', 'null', 'ünïcödé ✓', '"', ',']


def copy_records(text):
    """Splits CSV text as COPY does: records of (value, quoted) fields."""
    records, fields, field, quoted, in_quotes, i = [], [], '', False, False, 0
    while i < len(text):
        c = text[i]
        if in_quotes:
            if c == '"' and text[i + 1:i + 2] == '"':
                field += '"'
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                field += c
        elif c == '"':
            in_quotes = quoted = True
        elif c == ',':
            fields.append((field, quoted))
            field, quoted = '', False
        elif c in '\r\n':
            if c == '\r' and text[i + 1:i + 2] == '\n':
                i += 1
            fields.append((field, quoted))
            records.append(fields)
            fields, field, quoted = [], '', False
        else:
            field += c
        i += 1
    return records


def copy_fields(text, null):
    """The rows COPY FROM ... (FORMAT csv, HEADER, NULL null) reads from text (header dropped)."""
    return [[None if (v == null and not q) else v for v, q in r] for r in copy_records(text)[1:]]


def server_csv(names, rows, null):
    """CSV as pipeline._copy_out writes it."""
    def field(v):
        if v is None:
            return null
        if v == '' or v == null or any(c in v for c in ',"\r\n'):
            return '"' + v.replace('"', '""') + '"'
        return v
    return ''.join(','.join(field(v) for v in r) + '\n' for r in [names] + rows)


class WriteTest(unittest.TestCase):

    def frame(self):
        n = len(TEXTS)
        return pd.DataFrame({
            'text': pd.Series(TEXTS, dtype=object),
            'int': pd.array([None if i % 4 == 0 else i * 10 ** 12 for i in range(n)], dtype='Int64'),
            'float': [np.nan, 0.1, -0.0, 1e300, 5e-324, np.inf, -np.inf, 2 / 3, 1.0, 12345.678,
                      np.nan, 3.0, 0.5, 100.0, -1.25][:n],
            'flag': pd.array([True, False, None] * 5, dtype='boolean')[:n],
            'at': pd.to_datetime(['2021-01-01 00:30:10', None, '2021-01-31 23:59:59.123456'] * 5)[:n],
            'at_utc': pd.to_datetime(['2021-01-01 00:30:10+02:00', None, '2021-06-01'] * 5, utc=True)[:n],
        })

    def test_every_value_and_null_survives_copy(self):
        frame = self.frame()
        null = csvio.choose_write_null(frame)
        self.assertEqual(null, '\\N1')  # the frame holds the string '\N' itself
        text = ''.join(csvio.frame_chunks(frame, list(frame.columns), null, rows=4, header_each=False))
        rows = copy_fields(text, null)
        self.assertEqual(len(rows), len(frame))
        for r, row in enumerate(rows):
            for c, name in enumerate(frame.columns):
                original, got = frame[name].iloc[r], row[c]
                if pd.isna(original):
                    self.assertIsNone(got, (name, r))
                elif name == 'text':
                    self.assertEqual(got, original)
                elif name == 'float':
                    self.assertTrue(math.copysign(1, float(got)) == math.copysign(1, original)
                                    and float(got) == original, (got, original))
                elif name == 'flag':
                    self.assertEqual(got, str(bool(original)))
                elif name.startswith('at'):
                    self.assertEqual(pd.Timestamp(got), original)
                else:
                    self.assertEqual(int(got), original)

    def test_each_chunk_has_the_header_when_asked(self):
        frame = pd.DataFrame({'Vendor ID': [1, 2, 3]})
        chunks = list(csvio.frame_chunks(frame, ['Vendor ID'], '\\N', rows=2))
        self.assertEqual(chunks, ['Vendor ID\r\n1\r\n2\r\n', 'Vendor ID\r\n3\r\n'])

    def test_a_single_empty_string_column_stays_apart_from_null(self):
        frame = pd.DataFrame({'s': ['', None]})
        text = ''.join(csvio.frame_chunks(frame, ['s'], '\\N'))
        self.assertEqual(copy_fields(text, '\\N'), [[''], [None]])

    def test_marker_choice(self):
        self.assertEqual(csvio.choose_write_null(pd.DataFrame({'a': [1.0, np.nan]})), '\\N')
        self.assertEqual(csvio.choose_write_null(pd.DataFrame({'a': ['\\N', '\\N1']})), '\\N2')
        self.assertEqual(csvio.choose_write_null(pd.DataFrame({'a': pd.Series(['\\N'], dtype='category')})), '\\N1')


class ReadTest(unittest.TestCase):

    def test_server_csv_reads_back_typed(self):
        null = csvio.random_read_null()
        columns = [('t', 'text'), ('i', 'bigint'), ('f', 'double precision'), ('b', 'boolean'),
                   ('ts', 'timestamp without time zone'), ('tz', 'timestamp with time zone'),
                   ('d', 'date'), ('n', 'numeric')]
        rows = [[v, '7', '0.1', 't', '2021-01-01 00:30:10', '2021-01-01 00:30:10+00', '2021-01-02', '1.50']
                for v in TEXTS]
        rows[1][1:] = [None] * 7
        rows[2][3] = 'f'
        rows[3][4] = '2021-01-31 23:59:59.5'
        text = server_csv([c for c, _ in columns], rows, null)
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)]  # splits inside fields too
        frame = csvio.read_frame(csvio.ChunkReader(pieces), columns, null)
        self.assertEqual([str(t) for t in frame.dtypes],
                         ['object', 'Int64', 'float64', 'boolean', 'datetime64[ns]',
                          'datetime64[ns, UTC]', 'object', 'float64'])
        self.assertEqual(frame['d'][0], datetime.date(2021, 1, 2))
        self.assertIsNone(frame['d'][1])
        self.assertEqual([None if pd.isna(v) else v for v in frame['t']], TEXTS)
        self.assertTrue(frame.iloc[1, 1:].isna().all())
        self.assertEqual(list(frame['b'][:3]), [True, pd.NA, False])
        self.assertEqual(frame['ts'][3], pd.Timestamp('2021-01-31 23:59:59.5'))
        self.assertEqual(frame['tz'][0], pd.Timestamp('2021-01-01 00:30:10', tz='UTC'))
        self.assertEqual(frame['f'][0], 0.1)

    def test_an_empty_relation_reads_as_typed_empty_columns(self):
        frame = csvio.read_frame(io.StringIO('a,b\n'), [('a', 'bigint'), ('b', 'timestamp without time zone')], '\\Nx')
        self.assertEqual(len(frame), 0)
        self.assertEqual([str(t) for t in frame.dtypes], ['Int64', 'datetime64[ns]'])

    def test_chunk_reader_reads_across_chunks(self):
        reader = csvio.ChunkReader(['ab', '', 'cde', 'f'])
        self.assertEqual([reader.read(2), reader.read(2), reader.read(5), reader.read(5), reader.read(1)],
                         ['ab', 'cd', 'e', 'f', ''])
        self.assertEqual(csvio.ChunkReader(['ab', 'c']).read(), 'abc')


if __name__ == '__main__':
    unittest.main()
