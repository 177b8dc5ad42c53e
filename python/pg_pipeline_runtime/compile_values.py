"""Evaluating the statements of a block function without running them: names, literal constants,
the run's variables (kwargs), and strings built from them (f-strings, str.format, +, strftime of
the execution date), which become pg_pipeline templates: `{{ year }}`,
`{{ to_char(execution_date AT TIME ZONE 'UTC', 'YYYY-MM') }}`.

Each kind of block (compile_loader, compile_transform, compile_exporter) extends Evaluator with
the calls it knows; anything the evaluator cannot know is a Refusal naming the code.
"""

import ast
import string

from .compile_base import (Args, Const, Kwargs, Module, Refusal, check_no_template, describe,
                           is_docstring, literal_value, not_a_shape, quote_literal)

# Mage's own keyword arguments besides the run's variables (runner.block_kwargs); only
# execution_date has a native counterpart that a compiled block may read.
MAGE_KWARGS = {'pipeline_uuid', 'block_uuid', 'run_id', 'configuration', 'logger',
               'interval_start_datetime', 'interval_end_datetime'}
# Names a template gives its own value whatever the variables say (yaml-reference, Templates).
TEMPLATE_NAMES = {'run_id', 'pipeline', 'execution_date', 'interval_start', 'interval_end', 'self'}

# strftime directives with a to_char pattern that prints the same (numbers only: names of
# months and days depend on the locale). Python pads these with zeros, as to_char does.
STRFTIME_TO_CHAR = {'Y': 'YYYY', 'm': 'MM', 'd': 'DD', 'H': 'HH24', 'M': 'MI', 'S': 'SS',
                    'y': 'YY', 'j': 'DDD'}
EXECUTION_DATE_UTC = "(execution_date AT TIME ZONE 'UTC')"


class Text:
    """A string known in part: literal pieces and SQL expressions evaluated at run time, kept as
    [('lit', text) | ('sql', expression)]."""

    def __init__(self, pieces):
        self.pieces = [p for p in pieces if p != ('lit', '')]

    def is_constant(self):
        """Whether no piece depends on the run."""
        return all(kind == 'lit' for kind, _ in self.pieces)

    def constant(self):
        """The text, when it is constant."""
        return ''.join(text for _, text in self.pieces)

    def __add__(self, other):
        """The two texts one after the other."""
        return Text(self.pieces + other.pieces)

    def template(self, node, what):
        """The text as a pg_pipeline template string ({{ name }} or {{ expression }})."""
        dynamic = not self.is_constant()
        out = []
        for kind, text in self.pieces:
            if kind == 'query':
                raise Refusal(node, '%s depends on the data; it is not compiled' % what)
            if kind == 'sql':
                out.append('{{ %s }}' % text)
            elif dynamic and ('{' in text or '}' in text):
                raise Refusal(node, '%s mixes braces with run-time values; pg_pipeline would read '
                                    'them as a template' % what)
            else:
                check_no_template(node, text, what)
                out.append(text)
        return ''.join(out)


class Variable:
    """A run variable (kwargs['name']): its type is the run's, so only str() of it is known."""

    def __init__(self, name):
        self.name = name


class ExecutionDate:
    """kwargs['execution_date']: a UTC datetime in Python, the timestamptz execution_date here."""


class IntExpr:
    """An integer known at run time: a SQL bigint expression."""

    def __init__(self, sql):
        self.sql = sql


def as_text(node, value):
    """str(value) as Text, for values whose str() the compiler knows."""
    if isinstance(value, Text):
        return value
    if isinstance(value, Const):
        if isinstance(value.value, (str, int, float)) and not isinstance(value.value, bool):
            return Text([('lit', str(value.value))])
        raise Refusal(node, 'str() of %r is not compiled' % (value.value,))
    if isinstance(value, Variable):
        # A bare name renders as its text; Python's str() matches for strings and numbers
        # (a boolean variable would print True here and true there: see python/README.md).
        return Text([('sql', value.name)])
    if isinstance(value, IntExpr):
        return Text([('sql', value.sql)])
    if hasattr(value, 'as_text'):  # a kind's own value that prints (a transformer's counts)
        return value.as_text()
    raise Refusal(node, 'str() of %s is not compiled' % describe(node))


def zero_padded(node, value, width):
    """format(value, '0<width>d') for an int known at run time, as Python pads it (sign first,
    never cut)."""
    if isinstance(value, Variable):
        v = value.name
    elif isinstance(value, IntExpr):
        v = '(%s)' % value.sql
    else:
        raise Refusal(node, 'the format of %s is not compiled' % describe(node))
    return Text([('sql', "CASE WHEN %(v)s < 0 THEN '-' || lpad((-%(v)s)::text, greatest(%(w)d, "
                         "length((-%(v)s)::text)), '0') ELSE lpad(%(v)s::text, greatest(%(x)d, "
                         "length(%(v)s::text)), '0') END" % {'v': v, 'w': width - 1, 'x': width})])


def formatted(node, value, spec, conversion):
    """One {value!conversion:spec} of an f-string or str.format, as Text."""
    if isinstance(conversion, int):  # an f-string's: -1 for none, else the letter's code
        conversion = chr(conversion) if conversion >= 0 else None
    if conversion not in (None, 's'):
        raise Refusal(node, 'the conversion !%s is not compiled' % conversion)
    if isinstance(value, Const) and isinstance(value.value, (str, int, float)):
        try:
            return Text([('lit', format(value.value, spec))])
        except (ValueError, TypeError) as e:
            raise Refusal(node, 'the format %r fails in Python: %s' % (spec, e)) from None
    if not spec:
        return as_text(node, value)
    if (len(spec) >= 2 and spec[0] == '0' and spec[-1] == 'd' and spec[1:-1].isdigit()):
        return zero_padded(node, value, int(spec[1:-1]))
    raise Refusal(node, 'the format spec %r of a run-time value is not compiled' % spec)


def strftime(node, fmt):
    """execution_date.strftime(fmt) as a to_char template in UTC (as Python's datetime is)."""
    pattern, i = [], 0
    literal = []

    def flush():
        """Ends a run of literal characters, quoted for to_char."""
        if literal:
            text = ''.join(literal)
            if '"' in text or '\\' in text:
                raise Refusal(node, 'the strftime format %r is not compiled' % fmt)
            pattern.append('"%s"' % text)  # quoted: to_char would read letters as patterns
            literal.clear()

    while i < len(fmt):
        if fmt[i] == '%':
            code = fmt[i + 1:i + 2]
            if code == '%':
                literal.append('%')
            elif code in STRFTIME_TO_CHAR:
                flush()
                pattern.append(STRFTIME_TO_CHAR[code])
            else:
                raise Refusal(node, 'strftime %%%s is not compiled (only %s)'
                              % (code, ', '.join('%' + c for c in STRFTIME_TO_CHAR)))
            i += 2
        else:
            literal.append(fmt[i])
            i += 1
    flush()
    return Text([('sql', 'to_char(%s, %s)' % (EXECUTION_DATE_UTC, quote_literal(''.join(pattern))))])


class Evaluator:
    """Reads a block function statement by statement, keeping what each local name holds."""

    def __init__(self, request, block_file, fn, log):
        self.request = request
        self.log = log
        self.variables = set(request.get('variables') or [])
        self.module_names = block_file.names
        self.fn = fn
        self.locals = {}
        from .compile_module import assigned_names  # the set Python makes local
        self.local_names = assigned_names(fn)
        self.notes = []

    # -- names -------------------------------------------------------------------------------

    def lookup(self, node):
        """What a Name holds."""
        name = node.id
        if name in self.locals:
            return self.locals[name]
        if name in self.local_names:
            raise Refusal(node, '%s is read before it is assigned' % name)
        if name in self.module_names:
            return self.module_names[name]
        if name in ('str', 'len', 'print', 'range', 'int'):
            return Module('builtins.' + name)
        raise Refusal(node, 'the name %s is not known to the compiler' % name)

    def bind(self, target, value):
        """Assigns value to a Name target."""
        if not isinstance(target, ast.Name):
            raise not_a_shape(target, 'assignment to %s' % describe(target))
        self.locals[target.id] = value

    # -- expressions -------------------------------------------------------------------------

    def value(self, node):
        """What an expression evaluates to (a Const, Text, Variable, ... or a kind's own value)."""
        if isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.Dict)) and self.is_plain(node):
            return Const(literal_value(node))
        if isinstance(node, ast.Name):
            return self.lookup(node)
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.concat(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.sequence(node)
        raise not_a_shape(node)

    def is_plain(self, node):
        """Whether node is a literal that names nothing."""
        try:
            ast.literal_eval(node)
            return True
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False

    def sequence(self, node):
        """A list or tuple display holding more than literals: kinds may allow some."""
        raise not_a_shape(node)

    def fstring(self, node):
        """An f-string as Text."""
        text = Text([])
        for part in node.values:
            if isinstance(part, ast.Constant):
                text = text + Text([('lit', part.value)])
            else:
                spec = ''
                if part.format_spec is not None:
                    spec_value = self.fstring(part.format_spec)
                    if not spec_value.is_constant():
                        raise Refusal(part, 'a format spec computed at run time is not compiled')
                    spec = spec_value.constant()
                text = text + formatted(part, self.value(part.value), spec, part.conversion)
        return text

    def concat(self, node):
        """a + b of two strings."""
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(left.value + right.value)
            except TypeError as e:
                raise Refusal(node, 'this + fails in Python: %s' % e) from None
        parts = []
        for side, value in ((node.left, left), (node.right, right)):
            if isinstance(value, Text) or (isinstance(value, Const) and isinstance(value.value, str)):
                parts.append(as_text(side, value))
            else:  # a variable's type is the run's: Python may add numbers or fail
                raise Refusal(side, '+ of %s, whose type is known only at run time, is not '
                                    'compiled; use str() or an f-string' % describe(side))
        return parts[0] + parts[1]

    def subscript(self, node):
        """kwargs['name'], or an item of a constant."""
        holder = self.value(node.value)
        key = self.value(node.slice)
        if isinstance(holder, Kwargs):
            return self.kwarg(node, key, None)
        if isinstance(holder, Const) and isinstance(key, Const):
            try:
                return Const(holder.value[key.value])
            except (KeyError, IndexError, TypeError) as e:
                raise Refusal(node, 'this lookup fails in Python: %r' % e) from None
        raise not_a_shape(node)

    def kwarg(self, node, key, default):
        """kwargs['name'] or kwargs.get('name'[, default]): a variable or the execution date."""
        if not isinstance(key, Const) or not isinstance(key.value, str):
            raise Refusal(node, 'a kwargs key computed at run time is not compiled')
        name = key.value
        if name == 'execution_date':
            return ExecutionDate()
        if name in MAGE_KWARGS or name in TEMPLATE_NAMES:
            raise Refusal(node, "kwargs['%s'] means something else in a native template" % name)
        if name in self.variables:
            if not name.isidentifier() or not name.isascii():
                raise Refusal(node, 'the variable %r cannot be named in a template' % name)
            return Variable(name)
        if name in MAGE_KWARGS:
            raise Refusal(node, "kwargs['%s'] has no native counterpart" % name)
        raise Refusal(node, "kwargs['%s'] is not a variable of the pipeline (its variables: %s)"
                      % (name, ', '.join(sorted(self.variables)) or 'none'))

    def attribute(self, node):
        """An attribute read: a module's name, or a kind's own."""
        holder = self.value(node.value)
        if isinstance(holder, Module):
            return Module(holder.path + '.' + node.attr)
        if isinstance(holder, ExecutionDate) and node.attr in ('year', 'month', 'day', 'hour'):
            return IntExpr('extract(%s FROM %s)::bigint' % (node.attr, EXECUTION_DATE_UTC))
        return self.other_attribute(node, holder)

    def other_attribute(self, node, holder):
        """Attributes a kind knows; none here."""
        raise not_a_shape(node)

    def call(self, node):
        """A call: the ones every kind shares, else the kind's own."""
        func = node.func
        if isinstance(func, ast.Attribute):
            holder = self.value(func.value)
            if isinstance(holder, Kwargs) and func.attr == 'get':
                return self.kwargs_get(node)
            if isinstance(holder, ExecutionDate) and func.attr == 'strftime':
                fmt = self.value(node.args[0]) if len(node.args) == 1 and not node.keywords else None
                if not isinstance(fmt, Const) or not isinstance(fmt.value, str):
                    raise Refusal(node, 'strftime with a format computed at run time is not compiled')
                return strftime(node, fmt.value)
            if isinstance(holder, Const) and isinstance(holder.value, str) and func.attr == 'format':
                return self.str_format(node, holder.value)
            if isinstance(holder, Module):
                return self.module_call(node, holder.path + '.' + func.attr)
            return self.method_call(node, holder, func.attr)
        callee = self.value(func)
        if isinstance(callee, Module):
            return self.module_call(node, callee.path)
        raise not_a_shape(node)

    def kwargs_get(self, node):
        """kwargs.get('name'[, default]): a declared variable is always there, so the default
        is never used."""
        if node.keywords or not 1 <= len(node.args) <= 2:
            raise not_a_shape(node)
        return self.kwarg(node, self.value(node.args[0]), node.args[1:] or None)

    def str_format(self, node, fmt):
        """'...{}...'.format(a, name=b) as Text."""
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise not_a_shape(node)
        args = [(a, self.value(a)) for a in node.args]
        kwargs = {k.arg: (k.value, self.value(k.value)) for k in node.keywords}
        text, auto = Text([]), 0
        try:
            fields = list(string.Formatter().parse(fmt))
        except ValueError as e:
            raise Refusal(node, 'the format string fails in Python: %s' % e) from None
        for literal, field, spec, conversion in fields:
            text = text + Text([('lit', literal)])
            if field is None:
                continue
            if field == '':
                field, auto = str(auto), auto + 1
            if field.isdigit() and int(field) < len(args):
                arg_node, value = args[int(field)]
            elif field in kwargs:
                arg_node, value = kwargs[field]
            else:
                raise Refusal(node, 'the format field {%s} is not compiled' % field)
            if spec and ('{' in spec):
                raise Refusal(node, 'nested format fields are not compiled')
            text = text + formatted(arg_node, value, spec or '', conversion)
        return text

    def module_call(self, node, path):
        """Calls of imported functions: str() here; kinds add theirs."""
        if path == 'builtins.str' and len(node.args) == 1 and not node.keywords:
            return as_text(node.args[0], self.value(node.args[0]))
        raise Refusal(node, '%s() is not a call pg_pipeline compiles' % path.replace('builtins.', ''))

    def method_call(self, node, holder, name):
        """Methods a kind knows; none here."""
        raise Refusal(node, '.%s() is not a shape pg_pipeline compiles' % name)

    # -- statements --------------------------------------------------------------------------

    def run_body(self, body):
        """Reads the function body; returns what its final `return` gives (the last statement)."""
        for index, statement in enumerate(body):
            if index == 0 and is_docstring(statement):
                continue
            if isinstance(statement, ast.Return):
                if index != len(body) - 1:
                    raise Refusal(body[index + 1], 'code after return is not compiled')
                return statement, (self.value(statement.value) if statement.value else Const(None))
            self.statement(statement)
        return None, Const(None)

    def statement(self, statement):
        """One statement of the function body."""
        if is_docstring(statement) or isinstance(statement, ast.Pass):
            return
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            self.assign(statement.targets[0], statement.value)
            return
        if isinstance(statement, ast.AnnAssign) and statement.value is not None:
            self.assign(statement.target, statement.value)
            return
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            self.expression_statement(statement.value)
            return
        raise not_a_shape(statement)

    def assign(self, target, value_node):
        """target = value."""
        value = self.value(value_node)
        if isinstance(value_node, ast.Name) and isinstance(value, Const) and isinstance(value.value, (list, dict)):
            raise Refusal(value_node, 'a second name for the list or dict %s is not compiled'
                          % value_node.id)
        self.bind(target, value)

    def expression_statement(self, call):
        """A call made for its effect: print here; kinds add theirs."""
        if isinstance(call.func, ast.Name) and call.func.id == 'print' and 'print' not in self.locals:
            self.print_call(call)
            return
        self.value(call)

    def print_call(self, call):
        """print(...): kept as a log query (compile_log.py)."""
        self.log.add_print(self, call)

    def bind_parameters(self, names, upstream, vararg, kwarg):
        """Binds the block function's parameters: upstream values, *args, **kwargs."""
        for name, value in zip(names, upstream):
            self.locals[name] = value
        if vararg:
            self.locals[vararg] = Args()
        if kwarg:
            self.locals[kwarg] = Kwargs()
