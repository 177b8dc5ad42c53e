"""Time and peak memory of the seed's three blocks inside the server. Each block runs in a fresh
connection, so its backend's memory is that block's alone; a first connection runs an empty
block to show what importing pandas and the runtime costs. Memory, from /proc/<pid>/status:
VmHWM is the peak resident size, which also counts the pages of shared_buffers the backend
touched (RssShmem: the table it read or wrote, shared with every backend); the peak of RssAnon,
sampled every 20 ms, is the backend's own memory (Python, pandas, palloc). Run by
run_in_server.sh --measure:

  measure_taxi.py --project DIR --http-port N --rows N
"""

import argparse
import json
import os
import threading
import time

import in_server_checks as checks


def memory_kb(pid, field):
    """A Vm* field of /proc/<pid>/status, in kB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid):
    """User plus system CPU time the process has used (less disturbed by a busy machine than
    the wall clock)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def measure(request):
    """(seconds, CPU seconds, VmHWM MB, peak RssAnon MB, RssShmem MB, response) of one block in
    a fresh backend."""
    conn = checks.connect()
    pid = checks.scalar(conn, 'SELECT pg_backend_pid()')
    cpu = cpu_seconds(pid)
    peak = [memory_kb(pid, 'RssAnon')]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], memory_kb(pid, 'RssAnon'))

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        response = checks.run(conn, request)
    finally:
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu
    hwm, shmem = memory_kb(pid, 'VmHWM') / 1024, memory_kb(pid, 'RssShmem') / 1024
    conn.close()
    return seconds, cpu, hwm, peak[0] / 1024, shmem, response


def main():
    """Runs and reports the measurements."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--project', required=True)
    parser.add_argument('--http-port', type=int, required=True)
    parser.add_argument('--rows', type=int, required=True)
    checks.ARGS = parser.parse_args()
    conn = checks.connect()
    checks.sql(conn, 'DROP SCHEMA IF EXISTS pyt CASCADE; CREATE SCHEMA pyt; DROP SCHEMA IF EXISTS ny_taxi CASCADE')
    conn.close()
    project = checks.Project(checks.ARGS.project)
    empty = {'kind': 'custom', 'block': 'empty',
             'source': 'from mage_ai.data_preparation.decorators import custom\n'
                       '@custom\ndef f(*args, **kwargs):\n    pass\n'}
    runs = [('(import only)', empty)] + [(name, project.request(name)) for name in
                                         ('load_api_data', 'transform_taxi_data', 'export_taxi_data_to_postgres')]
    print('%-30s %9s %7s %7s %7s %7s %7s %7s %7s %8s %7s' % (
        'block', 'rows', 'total s', 'cpu s', 'read s', 'run s', 'write s', 'tests s', 'VmHWM', 'RssAnon', 'Shmem'))
    for name, request in runs:
        seconds, cpu, hwm, anon, shmem, r = measure(request)
        if r['error']:
            raise SystemExit('%s failed: %s' % (name, json.dumps(r['error'], indent=1)))
        s = r['seconds']
        print('%-30s %9s %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.0f %8.0f %7.0f' % (
            name, r['rows'] if r['rows'] is not None else '-', seconds, cpu, s['read'], s['run'],
            s['write'], s['tests'], hwm, anon, shmem))
        for line in r['log']:
            print('    log: ' + line)
    print('(seconds: wall clock, cpu = the backend user+system time; memory in MB, RssAnon is '
          'the peak sampled during the block; load average %.1f)' % os.getloadavg()[0])


if __name__ == '__main__':
    main()
