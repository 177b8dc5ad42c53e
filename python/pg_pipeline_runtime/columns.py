"""DataFrames as the column buffers of pipeline._copy_in_columns and _copy_out_columns (format
in src/pg/python/bridge.hpp): numbers, booleans and timestamps travel as numpy's own bytes and
NULL flags, everything else as strings; there is no CSV on the Python side, which is where
pandas spent most of the time (to_csv / read_csv) and memory.

Writing: int and bool columns (plain or nullable) go as 'i' and 'b', floats as 'f' with NaN as
NULL, datetime64 as 't' and tz-aware ones as 'z' (microseconds, rounded to the nearest like
Postgres's input does), any other column as 's': str() of each value, None/NaN/NA/NaT as NULL.
Reading gives the dtypes of dtypes.pandas_kind: Int64, float64, boolean, datetime64[ns],
datetime64[ns, UTC], object columns of datetime.date for date columns (they travel as
timestamps), and object columns of strings with NaN for NULL, as read_csv would.
"""

import codecs
import struct
import warnings

import numpy as np
import pandas as pd

from . import dtypes

INT64, FLOAT64, BOOL, TIMESTAMP, TIMESTAMPTZ, TEXT = 'i', 'f', 'b', 't', 'z', 's'
CHUNK_ROWS = 100_000  # rows per _copy_in_columns call

INT_DTYPES = {'Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32',
              'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32'}
FLOAT_DTYPES = {'float16', 'float32', 'float64', 'Float32', 'Float64'}
BOOL_DTYPES = {'bool', 'boolean'}
NS_PER_US = 1000
US_MIN, US_MAX = -(2 ** 63 - 1) // NS_PER_US + 1, (2 ** 63 - 1) // NS_PER_US  # datetime64[ns]'s range


class ColumnError(ValueError):
    """A value that cannot cross between pandas and Postgres."""

    sqlstate = '22000'


def python_encoding(pg_encoding):
    """The Python codec of a Postgres server encoding (SQL_ASCII passes UTF-8 bytes through)."""
    name = {'UTF8': 'utf-8', 'SQL_ASCII': 'utf-8', 'EUC_JIS_2004': 'euc_jis_2004',
            'SJIS': 'shift_jis', 'SHIFT_JIS_2004': 'shift_jis_2004'}.get(pg_encoding)
    if name is None:
        name = pg_encoding.lower().replace('win', 'cp').replace('_', '')
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ColumnError('the database encoding %s has no Python codec' % pg_encoding) from None


def microseconds(values):
    """datetime64[ns] values as int64 microseconds, rounded to the nearest (NaT stays masked)."""
    us, rest = np.divmod(values.view('int64'), NS_PER_US)
    return us + (rest >= NS_PER_US // 2)


def text_values(series, mask, encoding):
    """The column's values as NUL-separated strings ('' for NULL), encoded."""
    strings = ['' if m else (v if type(v) is str else str(v))
               for v, m in zip(series.to_numpy(dtype=object), mask)]
    joined = '\0'.join(strings)
    if joined.count('\0') != max(len(strings) - 1, 0):
        raise ColumnError('column "%s" holds a NUL character, which Postgres text cannot hold' % series.name)
    try:
        return joined.encode(encoding)
    except UnicodeEncodeError as e:
        raise ColumnError('column "%s" holds %r, which the database encoding cannot represent'
                          % (series.name, e.object[e.start:e.end])) from None


def column_payload(series, encoding='utf-8'):
    """(kind, values, NULL flags) of one column as bytes; the flags are b'' when none is NULL."""
    name = str(series.dtype)
    mask = series.isna().to_numpy(dtype=bool)
    if name in INT_DTYPES:
        kind, values = INT64, series.to_numpy(dtype='int64', na_value=0)
    elif name in FLOAT_DTYPES:
        kind, values = FLOAT64, series.to_numpy(dtype='float64', na_value=np.nan)
    elif name in BOOL_DTYPES:
        kind, values = BOOL, series.to_numpy(dtype='bool', na_value=False)
    elif isinstance(series.dtype, pd.DatetimeTZDtype):
        kind, values = TIMESTAMPTZ, microseconds(series.dt.tz_convert(None).to_numpy('datetime64[ns]'))
    elif name.startswith('datetime64'):
        kind, values = TIMESTAMP, microseconds(series.to_numpy('datetime64[ns]'))
    else:
        kind, values = TEXT, text_values(series, mask, encoding)
    data = values if kind == TEXT else np.ascontiguousarray(values).tobytes()
    return kind, data, mask.tobytes() if mask.any() else b''


def frame_payloads(frame, rows=CHUNK_ROWS, encoding='utf-8'):
    """Yields (rows, kinds, data, nulls) for each chunk of rows of frame."""
    for start in range(0, len(frame), rows):
        part = frame.iloc[start:start + rows]
        payloads = [column_payload(part.iloc[:, i], encoding) for i in range(part.shape[1])]
        yield len(part), [p[0] for p in payloads], [p[1] for p in payloads], [p[2] for p in payloads]
        del part, payloads


def decode_chunk(chunk, encoding='utf-8'):
    """One _copy_out_columns chunk: (rows, [(kind, values, mask or None)]); the arrays are views
    of chunk, text a list of strings."""
    rows, ncolumns = struct.unpack_from('<II', chunk, 0)
    offset, out = 8, []
    for _ in range(ncolumns):
        kind, has_nulls = chr(chunk[offset]), chunk[offset + 1]
        offset += 2
        mask = None
        if has_nulls:
            mask = np.frombuffer(chunk, np.bool_, rows, offset)
            offset += rows
        if kind == TEXT:
            (length,) = struct.unpack_from('<Q', chunk, offset)
            offset += 8
            values = chunk[offset:offset + length].decode(encoding).split('\0')
            offset += length
        else:
            width, dtype = (1, np.bool_) if kind == BOOL else (8, '<f8' if kind == FLOAT64 else '<i8')
            values = np.frombuffer(chunk, dtype, rows, offset)
            offset += rows * width
        out.append((kind, values, mask))
    return rows, out


class FrameBuilder:
    """A DataFrame's columns filled chunk by chunk into arrays sized for the rows expected (grown
    by half when more come), so that no column exists twice: the float64 columns share one 2D
    block that becomes the DataFrame's own, and the others join it as they are."""

    def __init__(self, kinds, capacity):
        self.kinds = kinds
        self.capacity = max(capacity, 1)
        self.filled = 0
        self.floats = [i for i, k in enumerate(kinds) if k == FLOAT64]
        self.block_row = {c: r for r, c in enumerate(self.floats)}
        self.block = np.empty((len(self.floats), self.capacity))
        self.values = [None if k == FLOAT64 else self._empty(k, self.capacity) for k in kinds]
        self.masks = [None] * len(kinds)  # made at the first NULL

    @staticmethod
    def _empty(kind, n):
        """Room for n values of kind."""
        return np.empty(n, dtype=object if kind == TEXT else np.bool_ if kind == BOOL else np.int64)

    def _grow(self, needed):
        """Makes room for at least needed rows, keeping what is filled."""
        capacity = max(needed, int(self.capacity * 1.5))
        block = np.empty((len(self.floats), capacity))
        block[:, :self.filled] = self.block[:, :self.filled]
        self.block = block
        for i, kind in enumerate(self.kinds):
            for store in (self.values, self.masks):
                if store[i] is not None:
                    grown = np.zeros(capacity, bool) if store is self.masks else self._empty(kind, capacity)
                    grown[:self.filled] = store[i][:self.filled]
                    store[i] = grown
        self.capacity = capacity

    def append(self, rows, decoded):
        """Copies one decoded chunk in."""
        if self.filled + rows > self.capacity:
            self._grow(self.filled + rows)
        start, stop = self.filled, self.filled + rows
        for i, (kind, values, mask) in enumerate(decoded):
            if kind == FLOAT64:
                self.block[self.block_row[i], start:stop] = values
            else:
                self.values[i][start:stop] = values
            if mask is not None:
                if self.masks[i] is None:
                    self.masks[i] = np.zeros(self.capacity, bool)
                self.masks[i][start:stop] = mask
        self.filled = stop

    def _column(self, i, name):
        """Column i as a pandas array (NULLs as NA, NaN or NaT)."""
        n, kind, values = self.filled, self.kinds[i], self.values[i]
        mask = self.masks[i][:n] if self.masks[i] is not None else np.zeros(n, bool)
        if kind == INT64:
            return pd.arrays.IntegerArray(values[:n], mask)
        if kind == BOOL:
            return pd.arrays.BooleanArray(values[:n], mask)
        if kind in (TIMESTAMP, TIMESTAMPTZ):
            us = values[:n]
            present = us[~mask]
            if len(present) and (present.min() < US_MIN or present.max() > US_MAX):
                raise ColumnError('column "%s" holds timestamps outside the years 1677 to 2262, '
                                  "which pandas' datetime64[ns] cannot hold" % name)
            us *= NS_PER_US
            us[mask] = np.iinfo(np.int64).min  # NaT
            stamps = us.view('datetime64[ns]')
            if kind == TIMESTAMPTZ:
                return pd.arrays.DatetimeArray(stamps, dtype=pd.DatetimeTZDtype(tz='UTC'))
            return stamps
        text = values[:n]
        text[mask] = np.nan
        return text

    def frame(self, names):
        """The DataFrame, its columns named names (duplicates allowed)."""
        n = self.filled
        if n < self.capacity:  # fewer rows than counted: let the spare room go
            self.block = self.block[:, :n].copy()
            self.values = [v[:n].copy() if v is not None else None for v in self.values]
        block = self.block[:, :n]
        for i in self.floats:
            if self.masks[i] is not None:
                block[self.block_row[i]][self.masks[i][:n]] = np.nan
        if self.floats:
            frame = pd.DataFrame(block.T, columns=[names[i] for i in self.floats], copy=False)
        else:
            frame = pd.DataFrame(index=pd.RangeIndex(n))
        with warnings.catch_warnings():  # one block per column beyond the floats is intended
            warnings.simplefilter('ignore', pd.errors.PerformanceWarning)
            for i, name in enumerate(names):
                if self.kinds[i] != FLOAT64:
                    frame.insert(i, name, self._column(i, name), allow_duplicates=True)
                    self.values[i] = self.masks[i] = None
        return frame


def frame_from_chunks(chunks, columns, encoding='utf-8', expected_rows=0):
    """A DataFrame from _copy_out_columns chunks of a relation whose columns are [(name, type)],
    expected_rows long (a count, to size the arrays once; more or fewer rows are fine)."""
    names = [name for name, _ in columns]
    builder = None
    for chunk in chunks:
        rows, decoded = decode_chunk(chunk, encoding)
        if builder is None:
            builder = FrameBuilder([kind for kind, _, _ in decoded], max(expected_rows, rows))
        builder.append(rows, decoded)
        del chunk, decoded
    if builder is None:
        frame = pd.DataFrame({i: pd.Series([], dtype=dtypes.pandas_kind(t)) for i, (_, t) in enumerate(columns)})
        frame.columns = names
        return frame
    frame = builder.frame(names)
    for i, (_, pg_type) in enumerate(columns):
        if dtypes.is_date(pg_type):
            frame.isetitem(i, dtypes.as_dates(frame.iloc[:, i]))
    return frame
