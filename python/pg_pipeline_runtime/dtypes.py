"""Column types between pandas and Postgres.

DataFrame -> Postgres uses the YAML loader's table (src/core/dtypes.cpp), so a column typed
'Int64' in a Mage loader becomes bigint whichever way it is loaded. Postgres -> pandas is the
reverse used when a block's upstream relation is read: integers -> Int64, floating and numeric
-> float64, boolean -> boolean, timestamp -> datetime64[ns], timestamptz -> datetime64[ns, UTC],
date -> object columns of datetime.date (None for NULL: what a Mage block gets from the block
before it, which Mage passes on as parquet, or from read_sql; so a date column a transformer
derives with .dt.date is still a date column when the next block exports it), everything else
-> object (strings as Postgres prints them).
"""

import re

import pandas as pd
from pandas.api.types import infer_dtype

# The YAML loader's pandas dtype names (src/core/dtypes.cpp, PandasTable), keep them in step.
PANDAS_TO_PG = {
    'Int8': 'smallint', 'Int16': 'smallint', 'Int32': 'integer', 'Int64': 'bigint',
    'int8': 'smallint', 'int16': 'smallint', 'int32': 'integer', 'int64': 'bigint',
    'UInt8': 'smallint', 'UInt16': 'integer', 'UInt32': 'bigint', 'UInt64': 'numeric(20,0)',
    'uint8': 'smallint', 'uint16': 'integer', 'uint32': 'bigint', 'uint64': 'numeric(20,0)',
    'float16': 'real', 'float32': 'real', 'float64': 'double precision',
    'Float32': 'real', 'Float64': 'double precision', 'float': 'double precision',
    'str': 'text', 'string': 'text', 'object': 'text', 'category': 'text',
    'bool': 'boolean', 'boolean': 'boolean',
    'datetime64': 'timestamp', 'datetime64[ns]': 'timestamp', 'datetime64[us]': 'timestamp',
    'datetime64[ms]': 'timestamp', 'datetime64[s]': 'timestamp',
    'datetime64[ns, UTC]': 'timestamptz', 'datetime': 'timestamp',
    'timedelta64[ns]': 'interval',
}

# What an object column holds (pandas' infer_dtype) -> a Postgres type; anything else is text.
OBJECT_KINDS = {
    'boolean': 'boolean', 'date': 'date', 'decimal': 'numeric', 'integer': 'numeric',
    'floating': 'double precision', 'mixed-integer-float': 'double precision',
}

PG_INTEGERS = {'smallint', 'integer', 'bigint'}
PG_FLOATS = {'real', 'double precision', 'numeric'}


def pg_type_for(series):
    """The Postgres type of a DataFrame column."""
    dtype = series.dtype
    name = str(dtype)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return 'timestamptz'
    if name in PANDAS_TO_PG and name != 'object':
        return PANDAS_TO_PG[name]
    if name.startswith('datetime64'):
        return 'timestamp'
    if name.startswith('timedelta64'):
        return 'interval'
    if name == 'object':
        return OBJECT_KINDS.get(infer_dtype(series, skipna=True), 'text')
    return 'text'


def base_type(pg_type):
    """A format_type() name without type modifiers: 'numeric(10,2)' -> 'numeric'."""
    return re.sub(r'\(\d+(,\d+)?\)', '', pg_type).strip()


def pandas_kind(pg_type):
    """The pandas dtype a Postgres column is read as (see the module comment)."""
    t = base_type(pg_type)
    if t.endswith('[]'):
        return 'object'
    if t in PG_INTEGERS:
        return 'Int64'
    if t in PG_FLOATS:
        return 'float64'
    if t == 'boolean':
        return 'boolean'
    if t == 'timestamp without time zone':
        return 'datetime64[ns]'
    if t == 'timestamp with time zone':
        return 'datetime64[ns, UTC]'
    return 'object'


def is_date(pg_type):
    """Whether a Postgres column type is date (read as datetime.date objects)."""
    return base_type(pg_type) == 'date'


def as_dates(series):
    """A column of timestamps (or their text) as an object column of datetime.date, None for NULL."""
    stamps = pd.to_datetime(series)
    dates = stamps.dt.date.to_numpy(dtype=object)
    dates[stamps.isna().to_numpy()] = None
    return pd.Series(dates, index=series.index, dtype=object, name=series.name)
