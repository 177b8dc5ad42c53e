"""What Mage would have written: runs a Mage pipeline's loader and transformers in this process
the way Mage runs them (decorators in globals, each block's output the next one's input, every
@test run), and compares the table the exporter would publish (column names lower-cased, as
Mage's Postgres exporter does) with the table pg_pipeline published in the server.

  mage_reference.py --project DIR --pipeline NAME --table SCHEMA.TABLE

The project's metadata.yaml gives the blocks and their order; the exporter is not run here (it
would write to a database): its input, lower-cased, is what it publishes. Reads the server's
table with psycopg2 and COPY (PGHOST, PGPORT; user and database postgres). Prints one line
saying what matched and exits 1 on any difference."""

import argparse
import contextlib
import io
import os
import sys
import warnings

import pandas as pd
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from in_server_checks import FOLDERS, block_function, read_table  # noqa: E402


def run_blocks(project, pipeline):
    """The exporter's input and each block's prints, computed here in Mage's order."""
    with open(os.path.join(project, 'pipelines', pipeline, 'metadata.yaml')) as f:
        blocks = yaml.safe_load(f)['blocks']
    outputs, printed, exported = {}, [], None
    for block in blocks:
        kind = block['type']
        with open(os.path.join(project, FOLDERS[kind], block['uuid'] + '.py')) as f:
            source = f.read()
        inputs = [outputs[u] for u in block['upstream_blocks']]
        if kind == 'data_exporter':
            exported = inputs[0]
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = block_function(source, kind)(*[i.copy() for i in inputs])
            try:
                check = block_function(source, 'test')
            except KeyError:
                check = None
            if check is not None:
                check(result)  # an AssertionError fails the comparison, as it fails the block
        printed.extend(out.getvalue().splitlines())
        outputs[block['uuid']] = result
    return exported, printed


def as_published(frame):
    """frame as Mage's Postgres exporter publishes it: lower-case column names (and a fresh
    index: a table has none)."""
    frame = frame.reset_index(drop=True).copy()
    frame.columns = [c.lower() for c in frame.columns]
    return frame


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--project', required=True)
    parser.add_argument('--pipeline', required=True)
    parser.add_argument('--table', required=True)
    args = parser.parse_args()
    warnings.simplefilter('ignore')  # (pandas' SettingWithCopyWarning of the course's code: the run logs it)
    exported, printed = run_blocks(args.project, args.pipeline)
    expected = as_published(exported)
    actual = read_table(args.table)
    try:
        pd.testing.assert_frame_equal(actual, expected)
    except AssertionError as e:
        print('FAIL: %s differs from what Mage would publish: %s' % (args.table, e))
        print('expected dtypes:\n%s\nactual dtypes:\n%s' % (expected.dtypes, actual.dtypes))
        sys.exit(1)
    print('%s equals what Mage would publish: %d rows, %d columns (%s); the blocks printed %d lines'
          % (args.table, len(actual), len(actual.columns), ', '.join(actual.columns), len(printed)))


if __name__ == '__main__':
    main()
