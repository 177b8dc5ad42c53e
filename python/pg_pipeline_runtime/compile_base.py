"""What every part of the compiler shares: the refusal that sends a block back to Python with
the place in the user's file, SQL quoting, and the small values a block's code is evaluated to.

The compiler never runs the user's code: it reads the syntax tree (Python's own `ast`) and
evaluates only what it can know without running anything, literal constants and the names the
module imported. Everything else is a refusal naming the line and column, so the block stays
Python and the user can see why.
"""

import ast


class Refusal(Exception):
    """The block stays Python: why, and where in the user's file (a node, or none for the file)."""

    def __init__(self, node, message):
        super().__init__(message)
        self.node = node
        self.message = message

    def reason(self, path):
        """The sentence the response carries: 'path, line L, column C: message'."""
        if self.node is None or not hasattr(self.node, 'lineno'):
            return '%s: %s' % (path, self.message)
        return '%s, line %d, column %d: %s' % (path, self.node.lineno, self.node.col_offset + 1,
                                               self.message)


def not_a_shape(node, what=None):
    """The refusal for code outside the shapes the compiler knows, quoting the code."""
    return Refusal(node, '%s is not a shape pg_pipeline compiles' % (what or describe(node)))


def describe(node, limit=60):
    """The node's source text, shortened, for messages."""
    try:
        text = ast.unparse(node)
    except Exception:  # unparse knows every node the parser makes; this is only a guard
        text = type(node).__name__
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def quote_ident(name):
    """A column or table name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text):
    """A string as a SQL literal (standard_conforming_strings, so only quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


def check_no_template(node, text, what):
    """Refuses text that the executor would read as a template ({{ ... }}) inside generated SQL."""
    if '{{' in text or '}}' in text:
        raise Refusal(node, '%s %r holds "{{" or "}}", which pg_pipeline would read as a template'
                      % (what, text))


def sql_literal(node, value):
    """A Python constant as the SQL literal pandas compares with: ints, finite floats, strings
    and booleans."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float('inf'), float('-inf')):
            raise Refusal(node, 'comparisons with NaN or infinity are not compiled (pandas treats '
                                'NaN as missing, SQL as a number)')
        return repr(value)
    if isinstance(value, str):
        check_no_template(node, value, 'the string')
        return quote_literal(value)
    raise Refusal(node, 'the value %r is not a literal pg_pipeline compiles into SQL' % (value,))


class Const:
    """A value known when compiling: a literal, or a constant built from literals."""

    def __init__(self, value):
        self.value = value


class Module:
    """A name bound by an import: the dotted path of what it names ('pandas', 'os.path.join')."""

    def __init__(self, path):
        self.path = path


class Kwargs:
    """The block function's **kwargs: the run's variables and Mage's own keys."""


class Args:
    """The block function's *args (the upstream outputs beyond the named parameters)."""


LITERAL_NODES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.UnaryOp)


def literal_value(node):
    """The value of a plain literal (numbers, strings, booleans, None, and lists, tuples and dicts
    of them), or raises Refusal."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise not_a_shape(node) from None


def is_literal(node):
    """Whether node is a plain literal (see literal_value)."""
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def dotted(node):
    """'a.b.c' for a chain of attribute accesses on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return '.'.join(reversed(parts))


def keywords_of(call, allowed):
    """A call's keyword arguments as {name: node}; refuses **spread and names not in allowed."""
    out = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise Refusal(kw.value, '**%s in a call is not compiled' % describe(kw.value))
        if kw.arg not in allowed:
            raise Refusal(kw.value, 'the argument %s= of %s is not compiled'
                          % (kw.arg, describe(call.func)))
        out[kw.arg] = kw.value
    return out


def no_starred(call):
    """Refuses *args spread into a call."""
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            raise Refusal(arg, '*%s in a call is not compiled' % describe(arg.value))


def is_docstring(statement):
    """Whether a statement is a bare string (a docstring or a comment written as a string)."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))
