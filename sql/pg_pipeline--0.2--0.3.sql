-- pg_pipeline 0.2 -> 0.3 (ALTER EXTENSION pg_pipeline UPDATE): what 0.3 adds to 0.2's catalog.
\echo Use "ALTER EXTENSION pg_pipeline UPDATE" to load this file. \quit

-- Fused chains' tests counted by the load itself (src/pg/load/copy_bridge.cpp, CopyWhere): the
-- load appends pipeline._count_if(<its random token>, i, <test condition i>) to its COPY's WHERE.
-- STABLE, though it counts, so that COPY keeps its multi-row inserts; a call with any other token
-- counts nothing, so anyone may call it.
CREATE FUNCTION pipeline._count_if(token bigint, i integer, condition boolean)
RETURNS boolean LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'pipeline_count_if';
COMMENT ON FUNCTION pipeline._count_if(bigint, integer, boolean) IS
  'internal (loads): true; counts condition i of the COPY running in this process whose token this is';
REVOKE ALL ON FUNCTION pipeline._count_if(bigint, integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._count_if(bigint, integer, boolean) TO PUBLIC;
