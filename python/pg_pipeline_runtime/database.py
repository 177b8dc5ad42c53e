"""The two databases a block reaches, behind one small interface used by tables.py and the
mage_ai.io.postgres compatibility class:

  LocalDatabase   the database the block runs in, through plpy, inside the block's transaction;
                  rows move as column buffers through pipeline._copy_in_columns and
                  pipeline._copy_out_columns (columns.py), COPY doing the inserting.
  RemoteDatabase  another server (an io_config profile marked pg_pipeline_remote), through
                  psycopg2, with COPY ... FROM STDIN / TO STDOUT in CSV (csvio.py) both ways.

SQL passed to execute() numbers its parameters $1, $2, ... (all text; cast them in the SQL).
"""

import itertools
import re
import tempfile

from . import columns, csvio

# Catalog query for the columns of a relation, domains read as their base type.
COLUMNS_SQL = """
SELECT a.attname AS name,
       format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL) AS type
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""

_view_numbers = itertools.count(1)


def ident(name):
    """name as a quoted SQL identifier, always quoted (as src/core's QuoteIdent, so advisory
    lock keys built from it match the executor's)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text):
    """text as a SQL string literal (standard_conforming_strings on)."""
    return "'" + str(text).replace("'", "''") + "'"


def strip_query(query):
    """A query without surrounding blanks and trailing semicolons, to nest it in other SQL
    (where it is followed by a line break, in case it ends in a -- comment)."""
    return query.strip().rstrip(';').strip()


class LocalDatabase:
    """This database through plpy; everything happens in the block's transaction."""

    remote = False

    def __init__(self, plpy):
        self.plpy = plpy
        self._plans = {}
        self._encoding = None

    def _plan(self, sql, types):
        """sql prepared for parameters of types, once per run."""
        key = (sql, tuple(types))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self.plpy.prepare(sql, list(types))
        return plan

    def execute(self, sql, params=()):
        """Runs sql with text parameters $1..$n; returns the rows as dicts."""
        if not params:
            return list(self.plpy.execute(sql))
        return list(self.plpy.execute(self._plan(sql, ['text'] * len(params)), list(params)))

    def scalar(self, sql, params=()):
        """The first value of the first row, or None."""
        rows = self.execute(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def encoding(self):
        """The Python codec of the database's encoding, for text in column buffers."""
        if self._encoding is None:
            self._encoding = columns.python_encoding(self.scalar('SELECT pg_catalog.getdatabaseencoding()'))
        return self._encoding

    def columns(self, relation):
        """[(name, type)] of relation (a quoted, possibly qualified name)."""
        return [(r['name'], r['type']) for r in self.execute(COLUMNS_SQL, (relation,))]

    def copy_in(self, relation, frame, names):
        """Copies frame's rows into relation (columns named names, in frame order), one
        _copy_in_columns call per chunk of rows; returns the rows inserted."""
        plan = self._plan('SELECT pipeline._copy_in_columns($1::regclass, $2, $3, $4, $5, $6) AS rows',
                          ['text', 'bigint', 'text[]', 'text[]', 'bytea[]', 'bytea[]'])
        total = 0
        for rows, kinds, data, nulls in columns.frame_payloads(frame, encoding=self.encoding()):
            total += self.plpy.execute(plan, [relation, rows, list(names), kinds, data, nulls])[0]['rows']
            del data, nulls
        return total

    def read_relation(self, relation):
        """relation's rows as a DataFrame, typed from its columns (dtypes.pandas_kind). A table
        is counted first (a cheap scan beside the read), so its columns are allocated once."""
        described = self.columns(relation)
        expected = 0
        if self.scalar('SELECT relkind FROM pg_class WHERE oid = $1::regclass', (relation,)) in ('r', 'p', 'm'):
            expected = self.scalar('SELECT count(*) FROM %s' % relation)
        plan = self._plan('SELECT pipeline._copy_out_columns($1::regclass) AS chunk', ['text'])
        cursor = self.plpy.cursor(plan, [relation])
        try:
            return columns.frame_from_chunks((row['chunk'] for row in cursor), described,
                                             self.encoding(), expected)
        finally:
            cursor.close()

    def read_query(self, query):
        """A query's rows as a DataFrame, read through a temporary view (dropped again)."""
        view = 'pg_temp.' + ident('pg_pipeline_load_%d' % next(_view_numbers))
        self.execute('CREATE TEMP VIEW %s AS %s' % (view, strip_query(query)))
        try:
            return self.read_relation(view)
        finally:
            self.execute('DROP VIEW %s' % view)

    def commit(self):
        """Nothing to do: the block's transaction commits with the block."""

    def close(self):
        """Nothing to do."""


class RemoteDatabase:
    """Another server through psycopg2; export() commits its own work."""

    remote = True

    # Fixed output conventions, whatever the server's defaults, so read_frame can rely on them.
    OPTIONS = '-c DateStyle=ISO,MDY -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=1'

    def __init__(self, host, port, dbname, user, password, connect_timeout=None):
        import psycopg2  # only remote profiles need it
        self.conn = psycopg2.connect(host=host, port=port, dbname=dbname, user=user,
                                     password=password, connect_timeout=connect_timeout,
                                     options=self.OPTIONS, application_name='pg_pipeline block',
                                     client_encoding='UTF8')

    def execute(self, sql, params=()):
        """Runs sql with text parameters $1..$n; returns the rows as dicts."""
        with self.conn.cursor() as cur:
            if params:
                cur.execute(re.sub(r'\$(\d+)', r'%(p\1)s', sql),
                            {'p%d' % (i + 1): v for i, v in enumerate(params)})
            else:
                cur.execute(sql)
            if cur.description is None:
                return []
            names = [d.name for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def scalar(self, sql, params=()):
        """The first value of the first row, or None."""
        rows = self.execute(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def columns(self, relation):
        """[(name, type)] of relation."""
        return [(r['name'], r['type']) for r in self.execute(COLUMNS_SQL, (relation,))]

    def copy_in(self, relation, frame, names):
        """Copies frame's rows into relation with one COPY FROM STDIN; returns the rows."""
        null = csvio.choose_write_null(frame)
        sql = 'COPY %s (%s) FROM STDIN WITH (FORMAT csv, HEADER true, NULL %s)' % (
            relation, ', '.join(ident(n) for n in names), literal(null))
        chunks = csvio.frame_chunks(frame, names, null, header_each=False)
        with self.conn.cursor() as cur:
            cur.copy_expert(sql, csvio.ChunkReader(chunks), size=1 << 20)
            return cur.rowcount

    def read_query(self, query):
        """A query's rows as a DataFrame, through COPY TO STDOUT into a temporary file."""
        query = strip_query(query)
        with self.conn.cursor() as cur:
            cur.execute('SELECT * FROM (%s\n) AS pg_pipeline_load LIMIT 0' % query)
            names = [d.name for d in cur.description]
            oids = [d.type_code for d in cur.description]
            cur.execute("SELECT t.oid, format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype "
                        "ELSE t.oid END, NULL) FROM pg_type t WHERE t.oid = ANY(%s)", (oids,))
            type_names = dict(cur.fetchall())
            null = csvio.random_read_null()
            with tempfile.TemporaryFile() as spool:
                cur.copy_expert('COPY (%s\n) TO STDOUT WITH (FORMAT csv, HEADER true, NULL %s)'
                                % (query, literal(null)), spool, size=1 << 20)
                spool.seek(0)
                described = [(n, type_names.get(o, 'text')) for n, o in zip(names, oids)]
                return csvio.read_frame(spool, described, null)

    def read_relation(self, relation):
        """relation's rows as a DataFrame."""
        return self.read_query('SELECT * FROM %s' % relation)

    def commit(self):
        """Commits the remote transaction."""
        self.conn.commit()

    def close(self):
        """Closes the connection (an uncommitted transaction rolls back)."""
        self.conn.close()
