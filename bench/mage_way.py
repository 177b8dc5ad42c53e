#!/usr/bin/env python3
"""Mage's own way with the taxi month, outside the server, as a baseline for bench/mage_bench.sh:
pandas read_csv of the CSV.gz over HTTP with the seed's dtypes and parse_dates, the seed's
filter (rides with passengers), and the export Mage's Postgres.export does (the frame written as
CSV into COPY ... FROM STDIN of a new table, replacing the old one in one transaction). Prints
"SECONDS PEAK_RSS_MB ROWS_PUBLISHED".

  mage_way.py URL DSN SCHEMA.TABLE
"""

import io
import resource
import sys
import time

import pandas as pd
import psycopg2

DTYPES = {
    'VendorID': 'Int64', 'store_and_fwd_flag': 'str', 'RatecodeID': 'Int64', 'PULocationID': 'Int64',
    'DOLocationID': 'Int64', 'passenger_count': 'Int64', 'trip_distance': 'float64',
    'fare_amount': 'float64', 'extra': 'float64', 'mta_tax': 'float64', 'tip_amount': 'float64',
    'tolls_amount': 'float64', 'ehail_fee': 'float64', 'improvement_surcharge': 'float64',
    'total_amount': 'float64', 'payment_type': 'float64', 'trip_type': 'float64',
    'congestion_surcharge': 'float64'}
PG_TYPES = {'Int64': 'bigint', 'float64': 'double precision', 'object': 'text', 'bool': 'boolean',
            'datetime64[ns]': 'timestamp'}


def main(url, dsn, target):
    started = time.monotonic()
    df = pd.read_csv(url, sep=',', compression='gzip', dtype=DTYPES,
                     parse_dates=['tpep_pickup_datetime', 'tpep_dropoff_datetime'])
    df = df[df['passenger_count'] > 0]
    columns = ', '.join('"%s" %s' % (c.lower(), PG_TYPES.get(str(t), 'text')) for c, t in df.dtypes.items())
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False)
    buf.seek(0)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute('DROP TABLE IF EXISTS %s' % target)
        cur.execute('CREATE TABLE %s (%s)' % (target, columns))
        cur.copy_expert('COPY %s FROM STDIN (FORMAT csv)' % target, buf)
        cur.execute('SELECT count(*) FROM %s' % target)
        rows = cur.fetchone()[0]
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print('%.3f %.0f %d' % (seconds, peak_mb, rows))


if __name__ == '__main__':
    main(*sys.argv[1:4])
