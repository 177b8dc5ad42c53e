-- The C++/Postgres boundary, both directions: a C++ exception becomes an ERROR with its real
-- SQLSTATE, detail, hint and context; a Postgres ERROR inside a guarded call reaches C++ with
-- its SQLSTATE, destructors run; after each, the session is still usable.
-- Each test file starts from a fresh catalog.
DROP EXTENSION pg_pipeline CASCADE;
CREATE EXTENSION pg_pipeline;
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hnt text; ctx text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                          hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
  RETURN st || ': ' || msg
      || CASE WHEN det <> '' THEN E'\n  detail: ' || det ELSE '' END
      || CASE WHEN hnt <> '' THEN E'\n  hint: ' || hnt ELSE '' END
      || CASE WHEN split_part(ctx, E'\n', 1) NOT LIKE 'SQL statement%' AND split_part(ctx, E'\n', 1) NOT LIKE 'PL/pgSQL%'
              THEN E'\n  context: ' || split_part(ctx, E'\n', 1) ELSE '' END;
END $$;

SELECT pipeline._boundary_selftest('ok');
-- C++ -> Postgres
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('core_error')$$);
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('std_exception')$$);
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('bad_alloc')$$);
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('unknown')$$);
-- Postgres -> C++ -> Postgres: SQLSTATE 22P02 of int4in survives the round trip
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('pg_error_rethrown')$$);
-- Postgres -> C++: caught in C++ with SQLSTATE and message, the destructor having run
SELECT pg_temp.error_of($$SELECT pipeline._boundary_selftest('pg_error_caught')$$);
-- A C++ exception thrown inside a guarded call: the guard restores the exception stack (RAII)
SELECT pipeline._boundary_selftest('cpp_throw_in_guard');
-- The plain client view of one of them
SELECT pipeline._boundary_selftest('core_error');
-- Still usable, also in a transaction block that recovers through a savepoint
BEGIN;
SAVEPOINT s;
SELECT pipeline._boundary_selftest('pg_error_rethrown');
ROLLBACK TO SAVEPOINT s;
SELECT pipeline._boundary_selftest('ok') AS after_rollback_to_savepoint;
COMMIT;
SELECT 1 + 1 AS session_alive;
