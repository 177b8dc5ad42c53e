"""Mage's Postgres loader and exporter, as pg_pipeline runs them.

A Postgres profile means this database: load() and export() run in the block's own
transaction through plpy, whatever the profile's host says (inside Mage's docker set-up it named
the database pg_pipeline now lives in). A profile marked "pg_pipeline_remote": true (see
pipeline.set_profile) is another server, reached with psycopg2 from its POSTGRES_HOST, PORT,
DBNAME, USER, PASSWORD and CONNECT_TIMEOUT settings. Both move rows with COPY.

export(df, schema_name, table_name, index=False, if_exists='replace'|'append'|'fail') takes
Mage's other keyword arguments too: case_sensitive (keep the column names' case; otherwise they
are lower-cased as Mage does, unless the run says lowercase_columns: false), cascade_on_drop,
overwrite_types ({column: SQL type}); the rest are accepted and ignored, except the ones whose
effect cannot be had here (query_string, unique_conflict_method, unique_constraints), which
are refused.
"""

from mage_ai._unsupported import module_getattr
from mage_ai.io.config import ConfigError, ConfigKey
from pg_pipeline_runtime import context, tables
from pg_pipeline_runtime.database import RemoteDatabase, strip_query
from pg_pipeline_runtime.tables import PgPipelineError

__getattr__ = module_getattr(__name__)

REFUSED_EXPORT_OPTIONS = ('query_string', 'unique_conflict_method', 'unique_constraints')


def _log(line):
    """Adds a line to the running block's log."""
    ctx = context.current_or_none()
    if ctx is not None:
        ctx.log.add_event(line)


class Postgres:
    """A Postgres connection as a Mage block uses it: with_config(...), load, export, execute."""

    def __init__(self, dbname=None, user=None, password=None, host=None, port=None, schema=None,
                 connect_timeout=None, verbose=True, pg_pipeline_remote=False, **kwargs):
        self.settings = {ConfigKey.POSTGRES_DBNAME: dbname, ConfigKey.POSTGRES_USER: user,
                         ConfigKey.POSTGRES_PASSWORD: password, ConfigKey.POSTGRES_HOST: host,
                         ConfigKey.POSTGRES_PORT: port, ConfigKey.POSTGRES_SCHEMA: schema,
                         ConfigKey.POSTGRES_CONNECT_TIMEOUT: connect_timeout}
        self.remote = pg_pipeline_remote is True
        self.verbose = verbose
        self._db = None

    @classmethod
    def with_config(cls, config, **kwargs):
        """A Postgres for an io_config profile (a ConfigFileLoader)."""
        loader = cls(**kwargs)
        loader.settings = config
        loader.remote = bool(getattr(config, 'pg_pipeline_remote', False))
        return loader

    def _setting(self, key, default=None):
        """A connection setting from the profile (its errors name unset variables)."""
        value = self.settings.get(key)
        return default if value is None else value

    def _database(self):
        """This database, or the remote server's connection (opened on first use)."""
        if self._db is None:
            if self.remote:
                for key in (ConfigKey.POSTGRES_HOST, ConfigKey.POSTGRES_DBNAME, ConfigKey.POSTGRES_USER):
                    if self._setting(key) is None:
                        raise ConfigError('a remote Postgres profile needs %s' % key.value)
                self._db = RemoteDatabase(
                    host=self._setting(ConfigKey.POSTGRES_HOST),
                    port=self._setting(ConfigKey.POSTGRES_PORT),
                    dbname=self._setting(ConfigKey.POSTGRES_DBNAME),
                    user=self._setting(ConfigKey.POSTGRES_USER),
                    password=self._setting(ConfigKey.POSTGRES_PASSWORD),
                    connect_timeout=self._setting(ConfigKey.POSTGRES_CONNECT_TIMEOUT))
            else:
                self._db = context.current().database
        return self._db

    def open(self):
        """Connects (remote profiles); nothing to do for this database."""
        self._database()

    def close(self):
        """Closes a remote connection."""
        if self._db is not None and self.remote:
            self._db.close()
        self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def load(self, query_string, limit=None, display_query=None, verbose=True, **kwargs):
        """The query's rows as a DataFrame."""
        query = strip_query(query_string)
        if limit is not None:
            query = 'SELECT * FROM (%s\n) AS pg_pipeline_limited LIMIT %d' % (query, int(limit))
        db = self._database()
        frame = db.read_query(query)
        db.commit()
        _log('loaded %d rows from %s' % (len(frame), 'the remote server' if self.remote else 'this database'))
        return frame

    def export(self, df, schema_name=None, table_name=None, index=False, if_exists='replace',
               case_sensitive=False, cascade_on_drop=False, overwrite_types=None, **kwargs):
        """Writes df to schema_name.table_name (see the module comment)."""
        refused = [k for k in REFUSED_EXPORT_OPTIONS if kwargs.get(k)]
        if refused:
            raise PgPipelineError('export(%s=...) is not supported by pg_pipeline' % refused[0], '0A000')
        if not table_name:
            raise PgPipelineError('export() needs a table_name', '22023')
        schema = schema_name or self._setting(ConfigKey.POSTGRES_SCHEMA, 'public')
        if index:
            df = df.reset_index()
        ctx = context.current_or_none()
        lowercase = not case_sensitive and (ctx is None or ctx.request.lowercase_columns)
        rows, action = tables.publish(self._database(), df, schema, table_name, if_exists,
                                      lowercase=lowercase, overrides=overwrite_types,
                                      cascade=cascade_on_drop,
                                      run_id=ctx.request.run_id if ctx is not None else None)
        _log('%s %s.%s with %d rows%s' % (action, schema, table_name, rows,
                                          ' on the remote server' if self.remote else ''))

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        raise AttributeError('Postgres.%s is not supported by pg_pipeline' % name)

    def execute(self, query_string, **kwargs):
        """Runs a statement (committed at once on a remote server)."""
        db = self._database()
        db.execute(query_string)
        db.commit()
