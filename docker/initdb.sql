-- First start of the container: the extensions, in the database pg_cron schedules in.
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS plpython3u;  -- Python blocks (pg_pipeline enables them when it finds it)
CREATE EXTENSION IF NOT EXISTS pg_pipeline;
