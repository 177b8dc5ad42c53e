"""Data loaders: `pd.read_csv(url, sep=..., compression=..., dtype=..., parse_dates=...)` of one
file, the `requests.get(url)` + `pd.read_csv(io.StringIO(response.text))` variant, and several
files read in a loop (or a list comprehension) and joined with `pd.concat`, become a native
loader with a `source` (see compile.py for the exact block).

What pandas does that COPY does not is made explicit in the block's `pandas_csv` key, which the
native loader must honour (python/README.md, "Compiled blocks"): dtype entries for columns the
file lacks are ignored, a file column without a declared type would be inferred (the native
loader fails instead), and pandas' NA strings are NULL.
"""

import ast

from .compile_base import (Const, Refusal, check_no_template, describe, keywords_of, no_starred,
                           not_a_shape)
from .compile_values import Evaluator, Text, as_text

# pandas dtypes whose column keeps its Postgres type whichever way the block runs: the Python
# path reads an upstream table back as Int64 / float64 / object / boolean / datetime64 and
# writes it again, so int32, float32, unsigned and the like would change type after one Python
# block while a native pipeline keeps them.
STABLE_DTYPES = {'Int64': 'bigint', 'int64': 'bigint', 'float64': 'double precision',
                 'Float64': 'double precision', 'float': 'double precision', 'str': 'text',
                 'string': 'text', 'object': 'text', 'category': 'text', 'bool': 'boolean',
                 'boolean': 'boolean'}
TEXT_DTYPES = {'str', 'string', 'object', 'category'}

# pandas 1.5's default NA strings (pandas._libs.parsers.STR_NA_VALUES, Debian 12's pandas):
# read_csv makes these fields missing, quoted or not, in every column.
PANDAS_NA_VALUES = sorted(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan',
                           '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'n/a', 'nan',
                           'null'])

# What pandas' compression='infer' makes of a file name's ending.
COMPRESSED_SUFFIXES = ('.gz', '.bz2', '.zip', '.xz', '.zst', '.tar')
ENCODINGS = {'utf-8': None, 'utf8': None, 'UTF-8': None, 'UTF8': None, 'latin-1': 'LATIN1',
             'latin1': 'LATIN1', 'iso-8859-1': 'LATIN1', 'ISO-8859-1': 'LATIN1'}
READ_CSV_OPTIONS = {'filepath_or_buffer', 'sep', 'delimiter', 'compression', 'dtype',
                    'parse_dates', 'header', 'encoding', 'low_memory', 'quotechar'}
MAX_FILES = 1000


class CsvRead:
    """One pd.read_csv: the URL as Text, and its options as the native source's keys."""

    def __init__(self, node, url, options, pandas_csv):
        self.node = node
        self.url = url
        self.options = options
        self.pandas_csv = pandas_csv


class Response:
    """requests.get(url): the URL it fetched."""

    def __init__(self, url):
        self.url = url


class Body:
    """response.text or response.content."""

    def __init__(self, response, text_mode):
        self.response = response
        self.text_mode = text_mode


class Buffer:
    """io.StringIO(response.text) or io.BytesIO(response.content)."""

    def __init__(self, body):
        self.body = body


class EmptyFrame:
    """pd.DataFrame(): what a loop concatenates onto."""


class Reads:
    """Several read_csv results in order (a list appended to, or a concat)."""

    def __init__(self, reads):
        self.reads = reads


class LoaderEvaluator(Evaluator):
    """Reads a @data_loader function."""

    def module_call(self, node, path):
        """pandas, requests and io calls, and range()."""
        handlers = {'pandas.read_csv': self.read_csv, 'pandas.concat': self.concat_frames,
                    'pandas.DataFrame': self.empty_frame, 'requests.get': self.requests_get,
                    'builtins.range': self.range_call}
        if path in handlers:
            return handlers[path](node)
        if path in ('io.StringIO', 'io.BytesIO'):
            return self.buffer(node, path == 'io.StringIO')
        return super().module_call(node, path)

    def other_attribute(self, node, holder):
        """response.text and response.content."""
        if isinstance(holder, Response) and node.attr in ('text', 'content'):
            return Body(holder, node.attr == 'text')
        return super().other_attribute(node, holder)

    def method_call(self, node, holder, name):
        """response.raise_for_status() and frames.append(read)."""
        if isinstance(holder, Response) and name == 'raise_for_status' and not node.args:
            return Const(None)  # the native loader fails on an HTTP error status too
        if name == 'append' and len(node.args) == 1 and not node.keywords:
            return self.append(node, holder)
        return super().method_call(node, holder, name)

    def sequence(self, node):
        """[frame, frame, ...] as given to pd.concat."""
        return Reads(self.flatten(node, [self.value(e) for e in node.elts]))

    def value(self, node):
        """Also list comprehensions of reads."""
        if isinstance(node, ast.ListComp):
            return self.list_comprehension(node)
        return super().value(node)

    # -- pandas, requests, io ---------------------------------------------------------------

    def read_csv(self, node):
        """pd.read_csv(...) as a CsvRead."""
        no_starred(node)
        options = keywords_of(node, READ_CSV_OPTIONS)
        if len(node.args) > 1:
            raise Refusal(node.args[1], 'positional arguments of read_csv after the file are not '
                                        'compiled; name them')
        source = node.args[0] if node.args else options.pop('filepath_or_buffer', None)
        if source is None:
            raise Refusal(node, 'read_csv without a file is not compiled')
        where = self.value(source)
        consts = {k: self.constant(v, k) for k, v in options.items()}
        url, text_mode = self.file_of(source, where)
        compiled = {'url': url.template(source, 'the URL')}
        compiled.update(self.compression(node, url, where, consts.get('compression', 'infer')))
        compiled.update(self.separator(node, consts))
        if 'quotechar' in consts and consts['quotechar'] != '"':
            compiled['quote'] = self.one_char(options['quotechar'], consts['quotechar'], 'quotechar')
        if consts.get('header', 'infer') not in ('infer', 0):
            raise Refusal(options['header'], 'read_csv(header=%r) is not compiled' % consts['header'])
        if 'encoding' in consts:
            compiled.update(self.encoding(options['encoding'], consts['encoding'], text_mode))
        columns, parse_dates = self.column_types(options, consts)
        if not columns and not parse_dates:
            raise Refusal(node, 'read_csv without dtype= makes pandas infer every column type from '
                                'the data; the native loader needs them declared')
        if columns:
            compiled['columns'] = columns
        if parse_dates:
            compiled['parse_dates'] = parse_dates
        optional = [c for c in columns if c not in parse_dates]
        pandas_csv = {'optional_columns': optional, 'na_values': PANDAS_NA_VALUES}
        return CsvRead(node, url, compiled, pandas_csv)

    def constant(self, node, name):
        """A read_csv option's value, which must be known when compiling."""
        value = self.value(node)
        if not isinstance(value, Const):
            raise Refusal(node, 'read_csv(%s=...) must be a constant to compile' % name)
        return value.value

    def file_of(self, node, where):
        """The URL read_csv reads, and whether it reads text that requests decoded."""
        if isinstance(where, Buffer):
            return where.body.response.url, where.body.text_mode
        if isinstance(where, (Text, Const)):
            url = as_text(node, where)
            first = url.pieces[0] if url.pieces else ('lit', '')
            if first[0] != 'lit' or not first[1].lower().startswith(('http://', 'https://')):
                raise Refusal(node, 'read_csv of %s: only http(s) URLs that start with a literal '
                                    'scheme are compiled' % describe(node))
            return url, False
        raise Refusal(node, 'read_csv of %s is not compiled' % describe(node))

    def compression(self, node, url, where, compression):
        """The source's compression: pandas' 'infer' looks at the end of the file name."""
        if isinstance(where, Buffer):
            if where.body.text_mode and compression not in ('infer', None):
                raise Refusal(node, 'read_csv of response.text with compression= fails in pandas')
            if compression in ('infer', None):
                return {'compression': 'none'}
        if compression == 'infer':
            last = url.pieces[-1] if url.pieces else ('lit', '')
            if last[0] != 'lit':
                raise Refusal(node, "compression='infer' of a URL that ends in a run-time value "
                                    "is not compiled; say compression='gzip' or None")
            name = last[1].lower()
            if name.endswith('.gz') and not name.endswith('.tar.gz'):
                return {'compression': 'gzip'}
            if name.endswith(COMPRESSED_SUFFIXES):
                raise Refusal(node, 'only gzip-compressed files are compiled')
            return {'compression': 'none'}
        if compression == 'gzip':
            return {'compression': 'gzip'}
        if compression is None:
            return {'compression': 'none'}
        raise Refusal(node, 'read_csv(compression=%r) is not compiled' % (compression,))

    def separator(self, node, consts):
        """sep= (or delimiter=): one byte, as the native loader takes it."""
        if 'sep' in consts and 'delimiter' in consts:
            raise Refusal(node, 'read_csv with both sep= and delimiter= fails in pandas')
        key = 'sep' if 'sep' in consts else 'delimiter'
        if key not in consts:
            return {}
        sep = consts[key]
        node_of = next(k.value for k in node.keywords if k.arg == key)
        self.one_char(node_of, sep, key)
        return {} if sep == ',' else {'delimiter': sep}

    def one_char(self, node, value, name):
        """A one-byte option (pandas reads longer separators as regular expressions)."""
        if not isinstance(value, str) or len(value.encode('utf-8')) != 1 or value in '\r\n':
            raise Refusal(node, 'read_csv(%s=%r) is not compiled: the native loader takes one byte'
                          % (name, value))
        return value

    def encoding(self, node, encoding, text_mode):
        """encoding= as COPY's ENCODING (only UTF-8 and Latin-1)."""
        if text_mode:
            raise Refusal(node, 'read_csv(encoding=) of response.text is not compiled')
        if encoding not in ENCODINGS:
            raise Refusal(node, 'read_csv(encoding=%r) is not compiled' % (encoding,))
        return {'encoding': ENCODINGS[encoding]} if ENCODINGS[encoding] else {}

    def column_types(self, options, consts):
        """dtype= and parse_dates= as the source's columns and parse_dates."""
        dtype = consts.get('dtype', {})
        if not isinstance(dtype, dict):
            raise Refusal(options['dtype'], 'read_csv(dtype=) must be a dict of column -> dtype name')
        parse_dates = consts.get('parse_dates', [])
        if not isinstance(parse_dates, (list, tuple)) or not all(isinstance(c, str) for c in parse_dates):
            raise Refusal(options['parse_dates'], 'read_csv(parse_dates=) must be a list of column '
                                                  'names to compile')
        if len(set(parse_dates)) != len(parse_dates):
            raise Refusal(options['parse_dates'], 'a column is listed twice in parse_dates')
        columns = {}
        for name, written in dtype.items():
            where = options['dtype']
            if not isinstance(name, str) or not isinstance(written, str):
                raise Refusal(where, 'dtype %r: %r is not compiled (write dtype names as strings)'
                              % (name, written))
            if written not in STABLE_DTYPES:
                raise Refusal(where, 'dtype %r for column %r is not compiled: only %s keep their '
                                     'Postgres type when the next block runs in Python'
                              % (written, name, ', '.join(sorted(STABLE_DTYPES))))
            if name in parse_dates and written not in TEXT_DTYPES:
                raise Refusal(where, 'column %r is both %s and in parse_dates' % (name, written))
            check_no_template(where, name, 'the column name')
            columns[name] = written
        return columns, list(parse_dates)

    def requests_get(self, node):
        """requests.get(url[, timeout=...])."""
        no_starred(node)
        keywords_of(node, {'timeout'})
        if len(node.args) != 1:
            raise not_a_shape(node)
        url = as_text(node.args[0], self.value(node.args[0]))
        first = url.pieces[0] if url.pieces else ('lit', '')
        if first[0] != 'lit' or not first[1].lower().startswith(('http://', 'https://')):
            raise Refusal(node.args[0], 'requests.get of a URL that does not start with http(s):// '
                                        'is not compiled')
        return Response(url)

    def buffer(self, node, wants_text):
        """io.StringIO(response.text) / io.BytesIO(response.content)."""
        if len(node.args) != 1 or node.keywords:
            raise not_a_shape(node)
        body = self.value(node.args[0])
        if not isinstance(body, Body) or body.text_mode != wants_text:
            raise not_a_shape(node)
        return Buffer(body)

    def empty_frame(self, node):
        """pd.DataFrame() with nothing in it."""
        if node.args or node.keywords:
            raise not_a_shape(node)
        return EmptyFrame()

    def range_call(self, node):
        """range(...) of constants: a loop the compiler unrolls."""
        if node.keywords or not 1 <= len(node.args) <= 3:
            raise not_a_shape(node)
        bounds = [self.value(a) for a in node.args]
        if not all(isinstance(b, Const) and type(b.value) is int for b in bounds):
            raise Refusal(node, 'range() of values known only at run time is not compiled')
        values = list(range(*[b.value for b in bounds])[:MAX_FILES + 1])
        return Const(values)

    # -- several files ----------------------------------------------------------------------

    def flatten(self, node, values):
        """The reads in a list of frames (an empty pd.DataFrame() adds nothing)."""
        reads = []
        for v in values:
            if isinstance(v, CsvRead):
                reads.append(v)
            elif isinstance(v, Reads):
                reads.extend(v.reads)
            elif isinstance(v, EmptyFrame) or (isinstance(v, Const) and v.value == []):
                continue
            else:
                raise Refusal(node, 'pd.concat of something other than read_csv results is not '
                                    'compiled')
        return reads

    def concat_frames(self, node):
        """pd.concat(frames[, ignore_index=...]) of read_csv results, in order."""
        no_starred(node)
        options = keywords_of(node, {'ignore_index', 'axis'})
        if len(node.args) != 1:
            raise not_a_shape(node)
        for name, value_node in options.items():
            value = self.value(value_node)
            if not isinstance(value, Const) or (name == 'axis' and value.value not in (0, 'index')) \
                    or (name == 'ignore_index' and not isinstance(value.value, bool)):
                raise Refusal(value_node, 'pd.concat(%s=%s) is not compiled' % (name, describe(value_node)))
        frames = self.value(node.args[0])
        if isinstance(frames, Const) and frames.value == []:
            raise Refusal(node, 'pd.concat of no frames fails in pandas')
        if not isinstance(frames, Reads):
            raise Refusal(node.args[0], 'pd.concat of %s is not compiled' % describe(node.args[0]))
        if not frames.reads:
            raise Refusal(node, 'pd.concat of no files is not compiled')
        return frames

    def append(self, node, holder):
        """frames.append(read) on a list that holds only reads."""
        target = node.func.value
        item = self.value(node.args[0])
        if not isinstance(target, ast.Name) or not isinstance(item, CsvRead) or \
                not (isinstance(holder, Reads) or (isinstance(holder, Const) and holder.value == [])):
            raise not_a_shape(node)
        self.locals[target.id] = Reads(self.flatten(node, [holder, item]))
        return Const(None)

    def statement(self, statement):
        """Also for loops over constants."""
        if isinstance(statement, ast.For):
            self.unroll(statement)
            return
        super().statement(statement)

    def loop_values(self, node):
        """The values a for loop or comprehension goes over: a constant list, tuple or range."""
        values = self.value(node)
        if not isinstance(values, Const) or not isinstance(values.value, (list, tuple)):
            raise Refusal(node, 'a loop over %s is not compiled: only constant lists and ranges'
                          % describe(node))
        if len(values.value) > MAX_FILES:
            raise Refusal(node, 'a loop over more than %d files is not compiled' % MAX_FILES)
        return values.value

    def unroll(self, loop):
        """for name in <constants>: body, read once per value."""
        if loop.orelse or not isinstance(loop.target, ast.Name):
            raise not_a_shape(loop)
        for value in self.loop_values(loop.iter):
            self.locals[loop.target.id] = Const(value)
            for statement in loop.body:
                if isinstance(statement, (ast.Break, ast.Continue, ast.Return)):
                    raise not_a_shape(statement)
                self.statement(statement)

    def list_comprehension(self, node):
        """[read_csv(...) for name in <constants>]."""
        if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async \
                or not isinstance(node.generators[0].target, ast.Name):
            raise not_a_shape(node)
        generator = node.generators[0]
        name = generator.target.id
        saved = self.locals.get(name)
        reads = []
        for value in self.loop_values(generator.iter):
            self.locals[name] = Const(value)
            reads.append(self.value(node.elt))
        if saved is None:
            self.locals.pop(name, None)
        else:
            self.locals[name] = saved
        return Reads(self.flatten(node, reads))


def compile_loader(request, block_file, fn, log):
    """The native block of a @data_loader, or raises Refusal."""
    from .compile_module import parameters
    names, vararg, kwarg = parameters(fn, 0)
    evaluator = LoaderEvaluator(request, block_file, fn, log)
    evaluator.bind_parameters(names, [], vararg, kwarg)
    returned, value = evaluator.run_body(fn.body)
    if returned is None:
        raise Refusal(fn, 'the loader returns nothing; only loaders that return read_csv are compiled')
    reads = [value] if isinstance(value, CsvRead) else value.reads if isinstance(value, Reads) else None
    if not reads:
        raise Refusal(returned, 'returning %s is not compiled: a loader returns read_csv (or '
                                'pd.concat of read_csv)' % describe(returned.value))
    first = reads[0]
    for other in reads[1:]:
        if other.options.keys() - {'url'} != first.options.keys() - {'url'} or any(
                other.options[k] != first.options[k] for k in first.options if k != 'url'):
            raise Refusal(other.node, 'the files are read with different options; only files read '
                                      'alike are compiled into one loader')
    block = {'type': 'data_loader', 'source': dict(first.options), 'pandas_csv': first.pandas_csv}
    notes = ['pandas_csv: the loader reads the file as pandas does (declared columns in '
             'optional_columns may be missing from the file; a file column with no declared type '
             'fails the load; na_values are NULL, quoted or not)']
    if len(reads) > 1:
        block['urls'] = [r.options['url'] for r in reads]
        notes.append('%d files are loaded in order into one table: source.url is the first, urls '
                     'lists all of them' % len(reads))
    return block, notes + evaluator.notes
