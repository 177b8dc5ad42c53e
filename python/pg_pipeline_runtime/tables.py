"""DataFrames into tables: a block's output relation, and Mage's export() with its if_exists
policies, on either database (database.py).

export() publishes the way the executor's SQL exporters do (src/pg/executor.cpp, Export): one
transaction; runs publishing to one target take turns on the same advisory locks; replace
builds the new table beside the old one and renames it over, so readers never see it half
loaded and a failure leaves the old table; append creates the table when missing; fail refuses
an existing table. A missing schema is created, and only when missing (CREATE SCHEMA IF NOT
EXISTS would need CREATE on the database even when the schema exists).
"""

from . import dtypes
from .database import ident

MAX_NAME_BYTES = 63  # NAMEDATALEN - 1: Postgres would truncate a longer name


class PgPipelineError(Exception):
    """An error of ours with the SQLSTATE and hint to report."""

    def __init__(self, message, sqlstate='38000', hint=None):
        super().__init__(message)
        self.sqlstate = sqlstate
        self.hint = hint


def column_names(frame, lowercase=False):
    """The column names a frame is written with: str() of each, lower-cased if asked; refuses
    names Postgres cannot hold and duplicates."""
    names = [str(c).lower() if lowercase else str(c) for c in frame.columns]
    for name in names:
        if name == '' or len(name.encode('utf-8')) > MAX_NAME_BYTES or '\0' in name:
            raise PgPipelineError('column name %r cannot be a Postgres column name' % name, '42602',
                                  'Column names must be 1 to 63 bytes long.')
    seen = set()
    for name in names:
        if name in seen:
            raise PgPipelineError('the DataFrame has two columns named %r' % name, '42701',
                                  'Rename one of them before returning or exporting the DataFrame.')
        seen.add(name)
    return names


def column_types(frame, names, overrides=None):
    """The Postgres type of each column (dtypes.pg_type_for), or the override by name."""
    overrides = overrides or {}
    return [overrides.get(n) or dtypes.pg_type_for(frame.iloc[:, i]) for i, n in enumerate(names)]


def create_table(db, relation, names, types, unlogged=False):
    """CREATE [UNLOGGED] TABLE relation with the given columns."""
    columns = ', '.join('%s %s' % (ident(n), t) for n, t in zip(names, types))
    db.execute('CREATE %sTABLE %s (%s)' % ('UNLOGGED ' if unlogged else '', relation, columns))


def write_output(db, frame, relation, unlogged=True):
    """Creates relation for a block's output frame, its column names kept exactly, and copies
    the rows in; returns (rows, [[name, type], ...])."""
    names = column_names(frame)
    types = column_types(frame, names)
    create_table(db, relation, names, types, unlogged)
    rows = db.copy_in(relation, frame, names)
    return rows, [[n, t] for n, t in zip(names, types)]


def ensure_schema(db, schema):
    """Creates schema when it does not exist (see the module comment)."""
    if db.scalar('SELECT count(*) FROM pg_namespace WHERE nspname = $1', (schema,)) == 0:
        db.execute('CREATE SCHEMA %s' % ident(schema))


def relation_exists(db, relation):
    """Whether relation (a quoted name) exists."""
    return db.scalar('SELECT to_regclass($1) IS NOT NULL', (relation,))


def publish(db, frame, schema, table, if_exists='replace', lowercase=True, overrides=None,
            cascade=False, run_id=None):
    """Writes frame to schema.table under the if_exists policy; returns (rows, action)."""
    if if_exists not in ('replace', 'append', 'fail'):
        raise PgPipelineError('if_exists must be replace, append or fail, not %r' % (if_exists,), '22023')
    names = column_names(frame, lowercase)
    if overrides and lowercase:
        overrides = {str(k).lower(): v for k, v in overrides.items()}
    types = column_types(frame, names, overrides)
    target = ident(schema) + '.' + ident(table)
    shown = '%s.%s' % (schema, table)
    db.execute("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline schema ' || $1))", (schema,))
    db.execute("SELECT pg_advisory_xact_lock(hashtext('pg_pipeline export ' || $1))", (target,))
    ensure_schema(db, schema)
    exists = relation_exists(db, target)
    if exists and if_exists == 'fail':
        raise PgPipelineError('table %s already exists (if_exists="fail")' % shown, '42P07',
                              "Use if_exists='replace' or 'append', or drop the table.")
    if if_exists == 'append' or not exists:
        if not exists:
            create_table(db, target, names, types)
        rows = db.copy_in(target, frame, names)
        db.commit()
        return rows, 'appended to' if exists else 'created'
    fresh_name = table[:40] + '_pgp_new_' + str(run_id if run_id is not None else 0)
    fresh = ident(schema) + '.' + ident(fresh_name)
    db.execute('DROP TABLE IF EXISTS %s' % fresh)
    create_table(db, fresh, names, types)
    rows = db.copy_in(fresh, frame, names)
    drop_old(db, target, shown, cascade)
    db.execute('ALTER TABLE %s RENAME TO %s' % (fresh, ident(table)))
    db.commit()
    return rows, 'replaced'


def drop_old(db, target, shown, cascade):
    """Drops the table being replaced; dependent objects are an error unless cascade."""
    try:
        db.execute('DROP TABLE %s%s' % (target, ' CASCADE' if cascade else ''))
    except Exception as e:
        if getattr(e, 'sqlstate', None) != '2BP01' and getattr(e, 'pgcode', None) != '2BP01':
            raise
        raise PgPipelineError('cannot replace %s: other objects depend on it' % shown, '2BP01',
                              "Drop the dependent objects, pass cascade_on_drop=True, or use "
                              "if_exists='append'.") from e
