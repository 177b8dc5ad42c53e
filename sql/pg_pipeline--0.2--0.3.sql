-- pg_pipeline 0.2 -> 0.3 (ALTER EXTENSION pg_pipeline UPDATE): what 0.3 adds to 0.2's catalog.
\echo Use "ALTER EXTENSION pg_pipeline UPDATE" to load this file. \quit

-- Fused chains' tests counted by the load itself (src/pg/load/copy_bridge.cpp, CopyWhere): the
-- load appends CASE WHEN <test condition i> THEN pipeline._count_row(<its random token>, i) ELSE true END
-- to its COPY's WHERE.
-- STABLE, though it counts, so that COPY keeps its multi-row inserts; a call with any other token
-- counts nothing, so anyone may call it.
CREATE FUNCTION pipeline._count_row(token bigint, i integer)
RETURNS boolean LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'pipeline_count_row';
COMMENT ON FUNCTION pipeline._count_row(bigint, integer) IS
  'internal (loads): true; counts one row into count i of the COPY running in this process whose token this is';
REVOKE ALL ON FUNCTION pipeline._count_row(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._count_row(bigint, integer) TO PUBLIC;
