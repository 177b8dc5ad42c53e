"""pg_pipeline's runtime for Mage Python blocks inside PostgreSQL (PL/Python).

runner.run_block(plpy, request_json) runs one block and answers in JSON; the rest supports it:
context (the running block, for the mage_ai compatibility package), database (plpy or psycopg2),
tables (DataFrames into and out of tables), csvio (the CSV conventions), dtypes (type maps),
capture (prints and logging as log lines), errors (exceptions as responses).
"""
