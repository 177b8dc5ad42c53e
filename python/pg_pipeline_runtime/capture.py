"""A block's output as log lines: print() and writes to stdout/stderr, the logger passed to the
block (kwargs['logger']) and Python warnings. Lines are capped so a print in a loop cannot
exhaust the backend's memory."""

import contextlib
import logging
import sys
import warnings

MAX_LINES = 10_000
MAX_LINE_CHARS = 4_000


class LogLines:
    """Collected log lines. Lines from the logger and warnings first end the partial line a
    print left open, so lines keep the order they were produced in."""

    def __init__(self, max_lines=MAX_LINES):
        self.lines = []
        self.dropped = 0
        self.max_lines = max_lines
        self.writers = []  # LineWriters whose partial lines come first

    def add(self, line):
        """Appends one line (cut to MAX_LINE_CHARS), or counts it as dropped past the cap."""
        if len(self.lines) >= self.max_lines:
            self.dropped += 1
            return
        self.lines.append(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + '...')

    def add_event(self, line):
        """Appends a line that does not come from a stream, after the streams' partial lines."""
        for writer in self.writers:
            writer.close_line()
        self.add(line)

    def result(self):
        """The lines, with a last one saying how many were dropped."""
        if self.dropped:
            return self.lines + ['(%d more log lines dropped)' % self.dropped]
        return list(self.lines)


class LineWriter:
    """A text stream that turns what is written to it into log lines."""

    def __init__(self, log, prefix=''):
        self.log = log
        self.prefix = prefix
        self.partial = ''
        log.writers.append(self)

    def write(self, text):
        """Adds every completed line; keeps the unfinished rest."""
        text = self.partial + str(text)
        *complete, self.partial = text.split('\n')
        for line in complete:
            self.log.add(self.prefix + line.rstrip('\r'))
        return len(text)

    def flush(self):
        """Nothing is buffered beyond the unfinished line."""

    def close_line(self):
        """Adds the unfinished line, if any."""
        if self.partial:
            self.log.add(self.prefix + self.partial)
            self.partial = ''

    def isatty(self):
        """Not a terminal: no colours or progress bars."""
        return False


class LogHandler(logging.Handler):
    """A logging handler adding 'LEVEL message' lines."""

    def __init__(self, log):
        super().__init__(logging.INFO)
        self.log = log
        self.setFormatter(logging.Formatter('%(levelname)s %(message)s'))

    def emit(self, record):
        """Adds the record's lines."""
        for line in self.format(record).split('\n'):
            self.log.add_event(line)


@contextlib.contextmanager
def capturing(log, name):
    """Sends stdout, stderr and warnings to log for the with block; yields the block's logger."""
    out, err = LineWriter(log), LineWriter(log, 'stderr: ')
    logger = logging.getLogger('pg_pipeline.block.' + name)
    logger.handlers[:] = [LogHandler(log)]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def show(message, category, filename, lineno, file=None, line=None):
        """warnings.showwarning, into the log."""
        log.add_event('warning: %s: %s (%s, line %s)' % (category.__name__, message, filename, lineno))

    try:
        # catch_warnings restores showwarning; the filters stay Python's defaults.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings():
            warnings.showwarning = show
            yield logger
    finally:
        out.close_line()
        err.close_line()
        log.writers.clear()
        logger.handlers[:] = []
