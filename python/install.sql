-- The SQL side of Python blocks, to paste into the extension's install script (or run after
-- CREATE EXTENSION pg_pipeline while it is not there yet). Needs CREATE EXTENSION plpython3u
-- first. '$libdir/pg_pipeline' is the extension's module_pathname; in the install script it may
-- be written MODULE_PATHNAME.

-- The formats of these functions' data are described in src/pg/python_bridge.hpp. Settings
-- that change how values are read or written are fixed for the duration of each call, so the
-- Python side can rely on them whatever the session says (a timestamp without a zone written
-- into a timestamptz column is taken as UTC).

-- COPY FROM one chunk of CSV text into target: the rows inserted. With header, the first line
-- names the columns the chunk fills. NULL is the unquoted null_string; quoted, it is a value.
-- INSERT privilege, row-level security and read-only transactions are checked as COPY does.
CREATE FUNCTION pipeline._copy_in(target regclass, data text, header boolean DEFAULT true,
                                  null_string text DEFAULT '')
RETURNS bigint LANGUAGE c VOLATILE
SET datestyle = 'ISO, MDY' SET timezone = 'UTC'
AS '$libdir/pg_pipeline', 'pipeline_copy_in';

-- COPY FROM column buffers (numpy's bytes) into target: the rows inserted. What the runtime
-- uses to write a DataFrame: no CSV formatting in Python, no CSV parsing in pandas.
CREATE FUNCTION pipeline._copy_in_columns(target regclass, rows bigint, names text[],
                                          kinds text[], data bytea[], nulls bytea[])
RETURNS bigint LANGUAGE c VOLATILE
SET datestyle = 'ISO, MDY' SET timezone = 'UTC'
AS '$libdir/pg_pipeline', 'pipeline_copy_in_columns';

-- The relation's rows as CSV text in chunks of about 4 MB, the header first, read as the caller
-- (privileges and row-level security apply). Dates, times and floats are written the same way
-- whatever the session's settings, so the Python reader can rely on them.
CREATE FUNCTION pipeline._copy_out(relation regclass, null_string text DEFAULT '')
RETURNS SETOF text LANGUAGE c VOLATILE
SET datestyle = 'ISO, MDY' SET timezone = 'UTC' SET intervalstyle = 'postgres'
SET extra_float_digits = 1
AS '$libdir/pg_pipeline', 'pipeline_copy_out';

-- The relation's rows as column chunks, read as the caller: what the runtime uses to read an
-- upstream block's table into a DataFrame.
CREATE FUNCTION pipeline._copy_out_columns(relation regclass)
RETURNS SETOF bytea LANGUAGE c VOLATILE
SET datestyle = 'ISO, MDY' SET timezone = 'UTC' SET intervalstyle = 'postgres'
SET extra_float_digits = 1
AS '$libdir/pg_pipeline', 'pipeline_copy_out_columns';

-- The directory PL/Python imports the runtime from: <sharedir>/extension/pg_pipeline/python.
CREATE FUNCTION pipeline._python_path() RETURNS text LANGUAGE c STABLE
AS '$libdir/pg_pipeline', 'pipeline_python_path';

-- Runs one Mage Python block (request and response: python/pg_pipeline_runtime/runner.py).
-- The runtime is imported once per process and kept in GD.
CREATE FUNCTION pipeline._python_block(request jsonb) RETURNS jsonb LANGUAGE plpython3u VOLATILE
AS $$
runner = GD.get('pg_pipeline_runner')
if runner is None:
    import sys
    path = plpy.execute('SELECT pipeline._python_path() AS path')[0]['path']
    if path not in sys.path:
        sys.path.insert(0, path)
    from pg_pipeline_runtime import runner
    GD['pg_pipeline_runner'] = runner
return runner.run_block(plpy, request)
$$;

-- Block code runs as the server's operating-system user: only superusers, and roles a superuser
-- grants it to, may run it.
REVOKE ALL ON FUNCTION pipeline._python_block(jsonb) FROM PUBLIC;
