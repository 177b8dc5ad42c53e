"""DataFrames as the column buffers of pipeline._copy_in_columns and _copy_out_columns (format
in src/pg/python_bridge.hpp): numbers, booleans and timestamps travel as numpy's own bytes and
NULL flags, everything else as strings; there is no CSV on the Python side, which is where
pandas spent most of the time (to_csv / read_csv) and memory.

Writing: int and bool columns (plain or nullable) go as 'i' and 'b', floats as 'f' with NaN as
NULL, datetime64 as 't' and tz-aware ones as 'z' (microseconds, rounded to the nearest like
Postgres's input does), any other column as 's': str() of each value, None/NaN/NA/NaT as NULL.
Reading gives the dtypes of dtypes.pandas_kind: Int64, float64, boolean, datetime64[ns],
datetime64[ns, UTC], and object columns of strings with NaN for NULL, as read_csv would.
"""

import codecs
import struct

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
    """One _copy_out_columns chunk: (rows, [(kind, values, mask or None)]), copied out of it."""
    rows, ncolumns = struct.unpack_from('<II', chunk, 0)
    offset, out = 8, []
    for _ in range(ncolumns):
        kind, has_nulls = chr(chunk[offset]), chunk[offset + 1]
        offset += 2
        mask = None
        if has_nulls:
            mask = np.frombuffer(chunk, np.bool_, rows, offset).copy()
            offset += rows
        if kind == TEXT:
            (length,) = struct.unpack_from('<Q', chunk, offset)
            offset += 8
            values = chunk[offset:offset + length].decode(encoding).split('\0')
            offset += length
        else:
            width, dtype = (1, np.bool_) if kind == BOOL else (8, '<f8' if kind == FLOAT64 else '<i8')
            values = np.frombuffer(chunk, dtype, rows, offset).copy()
            offset += rows * width
        out.append((kind, values, mask))
    return rows, out


def to_pandas(name, kind, values, mask):
    """A column's values (ndarray, or list of strings) and NULL mask as a pandas array."""
    if kind == INT64:
        return pd.arrays.IntegerArray(values, mask)
    if kind == BOOL:
        return pd.arrays.BooleanArray(values, mask)
    if kind == FLOAT64:
        values[mask] = np.nan
        return values
    if kind in (TIMESTAMP, TIMESTAMPTZ):
        present = values[~mask]
        if len(present) and (present.min() < US_MIN or present.max() > US_MAX):
            raise ColumnError('column "%s" holds timestamps outside the years 1677 to 2262, '
                              "which pandas' datetime64[ns] cannot hold" % name)
        ns = values * NS_PER_US
        ns[mask] = np.iinfo(np.int64).min  # NaT
        stamps = ns.view('datetime64[ns]')
        if kind == TIMESTAMPTZ:
            return pd.arrays.DatetimeArray(stamps, dtype=pd.DatetimeTZDtype(tz='UTC'))
        return stamps
    array = np.empty(len(values), dtype=object)
    array[:] = values
    array[mask] = np.nan
    return array


def frame_from_chunks(chunks, columns, encoding='utf-8'):
    """A DataFrame from _copy_out_columns chunks of a relation whose columns are [(name, type)]:
    each column's pieces are joined, then freed, one column at a time."""
    pieces = [[] for _ in columns]
    kinds = [None] * len(columns)
    for chunk in chunks:
        rows, decoded = decode_chunk(chunk, encoding)
        for i, (kind, values, mask) in enumerate(decoded):
            kinds[i] = kind
            pieces[i].append((values, mask if mask is not None else rows))
        del chunk, decoded
    arrays = {}
    for i, (name, pg_type) in enumerate(columns):
        if not pieces[i]:
            arrays[i] = pd.Series([], dtype=dtypes.pandas_kind(pg_type))
            continue
        if kinds[i] == TEXT:
            values = [v for part, _ in pieces[i] for v in part]
        else:
            values = np.concatenate([part for part, _ in pieces[i]])
        mask = np.concatenate([m if isinstance(m, np.ndarray) else np.zeros(m, dtype=bool)
                               for _, m in pieces[i]])
        pieces[i] = None
        arrays[i] = to_pandas(name, kinds[i], values, mask)
        del values, mask
    frame = pd.DataFrame(arrays, copy=False)
    frame.columns = [name for name, _ in columns]
    return frame
