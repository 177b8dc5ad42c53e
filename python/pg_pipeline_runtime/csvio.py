"""The CSV that carries DataFrames to and from a remote server's COPY (psycopg2), with NULLs
kept apart from values. (In this database the runtime moves column buffers: columns.py.)

pandas can tell neither way whether a CSV field was quoted: read_csv reads "" and an empty
field alike, and to_csv writes a missing value and an empty string alike. So NULL travels as
an unquoted marker instead of as nothing:
  * writing (to_csv -> COPY FROM ... NULL marker): the marker is '\\N', or '\\N1', '\\N2', ... when
    a text column of the frame holds that very string, so every value survives exactly; empty
    strings are written empty and COPY reads them as empty strings.
  * reading (COPY TO / _copy_out ... NULL marker -> read_csv): a value equal to the marker is
    quoted by the server, but read_csv would still take it for NULL, so the marker is
    '\\N' followed by 8 random hex digits, chosen per read.
Rows end in CRLF so that Python's csv writer quotes a value holding a lone CR as well as LF.
"""

import csv
import io
import secrets

import pandas as pd

from . import dtypes

CHUNK_ROWS = 100_000  # rows per to_csv call, and per _copy_in call in this database


def text_like(series):
    """True when the column's values are written as arbitrary text (so may equal a marker)."""
    return str(series.dtype) in ('object', 'string', 'category')


def choose_write_null(frame):
    """The NULL marker for writing frame: '\\N', else the first '\\N<n>' no text value equals."""
    columns = [frame.iloc[:, i] for i in range(frame.shape[1]) if text_like(frame.iloc[:, i])]
    n = 0
    while True:
        marker = '\\N' if n == 0 else '\\N%d' % n
        if not any(column.isin([marker]).any() for column in columns):
            return marker
        n += 1


def random_read_null():
    """A NULL marker for one read: no real value is expected to equal it."""
    return '\\N' + secrets.token_hex(4)


def frame_chunks(frame, names, null, rows=CHUNK_ROWS, header_each=True):
    """Yields frame as CSV text, rows at a time, with names as the header (each chunk's or the first's)."""
    for i, start in enumerate(range(0, len(frame), rows)):
        part = frame.iloc[start:start + rows]
        header = names if header_each or i == 0 else False
        yield part.to_csv(index=False, header=header, na_rep=null, lineterminator='\r\n',
                          quoting=csv.QUOTE_MINIMAL)
        del part


class ChunkReader(io.TextIOBase):
    """A read-only text file over an iterator of str chunks, so read_csv streams them."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._current = ''
        self._offset = 0

    def readable(self):
        """It is."""
        return True

    def read(self, size=-1):
        """Up to size characters (all that is left when size < 0); '' at the end."""
        if size is None or size < 0:
            rest = [self._current[self._offset:]] + list(self._chunks)
            self._current, self._offset = '', 0
            return ''.join(rest)
        while self._offset >= len(self._current):
            nxt = next(self._chunks, None)
            if nxt is None:
                return ''
            self._current, self._offset = nxt, 0
        piece = self._current[self._offset:self._offset + size]
        self._offset += len(piece)
        return piece


def read_frame(source, columns, null):
    """A DataFrame from CSV (a file or ChunkReader) whose header and types are columns, a list
    of (name, Postgres type) pairs, with NULL written as null (see the module comment)."""
    types, parse_dates, utc = {}, [], []
    for name, pg_type in columns:
        kind = dtypes.pandas_kind(pg_type)
        if kind == 'datetime64[ns]':
            parse_dates.append(name)
        elif kind == 'datetime64[ns, UTC]':
            types[name] = object
            utc.append(name)
        else:
            types[name] = object if kind == 'object' else kind
    frame = pd.read_csv(source, dtype=types, parse_dates=parse_dates, keep_default_na=False,
                        na_values=[null], true_values=['t'], false_values=['f'])
    for name in utc:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name, pg_type in columns:
        if dtypes.is_date(pg_type) and not frame.empty:
            frame[name] = dtypes.as_dates(frame[name])
    if frame.empty and len(frame.columns) == len(columns):
        frame = frame.astype({n: dtypes.pandas_kind(t) for n, t in columns})
    return frame
