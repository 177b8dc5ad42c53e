"""Transformers: boolean row filters, derived columns, column renames and printed counts over
the upstream DataFrame become one `SELECT * [, <derived>] FROM {{ upstream }} WHERE ...` plus
the renames to apply to its output.

NULL semantics follow pandas exactly. A comparison with a missing value is False in a float,
text or timestamp column (numpy dtypes) but NA in an integer or boolean one (Int64, boolean:
the dtypes the Python path reads bigint and boolean columns as), and `!=` with a missing value
is True in the former. NA propagates through &, | and ~ as SQL's NULL does, and a row whose mask
is NA is dropped, as WHERE drops NULL. So where only & and | sit above a comparison, NULL and
False are alike and the comparison is written plainly (`"c" > 0`); under ~ and for !=, the
comparison is written for both kinds of column (`CASE WHEN "c" IS NOT NULL THEN ... WHEN <c is
an integer or boolean> THEN NULL ELSE false END`). isin, notna and isna are never NA.
"""

import ast
import io
import tokenize

from .compile_base import (Const, Refusal, describe, keywords_of, not_a_shape, quote_ident,
                           quote_literal, sql_literal)
from .compile_rename import case_change, literal_replace, regex_replace
from .compile_values import Evaluator, Text

NULLABLE_TYPES = "('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'boolean'::regtype)"
COMPARE_OPS = {ast.Eq: '=', ast.NotEq: '<>', ast.Lt: '<', ast.LtE: '<=', ast.Gt: '>', ast.GtE: '>='}
FLIPPED = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq,
           ast.NotEq: ast.NotEq}


def nullable(column_sql):
    """True when the column is one the Python path reads with pandas' NA (Int64, boolean)."""
    return 'pg_typeof(%s) IN %s' % (column_sql, NULLABLE_TYPES)


def paren(sql):
    """sql wrapped for use inside AND / OR / NOT."""
    return '(%s)' % sql


class Frame:
    """A DataFrame the block holds: rows of one relation that pass `where`, with columns
    derived in this block and renames applied in order. Mutable, as a DataFrame is."""

    def __init__(self, relation, where=None, ops=None):
        self.relation = relation    # '{{ upstream }}' or '{{ self }}'
        self.where = list(where or [])
        self.ops = list(ops or [])  # ('derive', name, sql) | ('rename', step) in code order

    def copy(self):
        """A new frame over the same rows (a filter or copy() result)."""
        return Frame(self.relation, self.where, self.ops)

    def filtered(self, condition):
        """The frame with one more condition."""
        out = self.copy()
        out.where.append(condition)
        return out

    def derived(self):
        """[(name, sql)] of derived columns, a later assignment replacing an earlier one in place."""
        out = []
        for op in self.ops:
            if op[0] == 'derive':
                names = [n for n, _ in out]
                if op[1] in names:
                    out[names.index(op[1])] = (op[1], op[2])
                else:
                    out.append((op[1], op[2]))
        return out

    def renames(self):
        """The rename steps, in order."""
        return [op[1] for op in self.ops if op[0] == 'rename']

    def column_sql(self, node, name):
        """The SQL for column `name` as the code sees it now, in terms of the relation's columns."""
        if not isinstance(name, str):
            raise Refusal(node, 'column %r: only string column names are compiled' % (name,))
        for op in reversed(self.ops):
            if op[0] == 'derive' and op[1] == name:
                raise Refusal(node, 'column %r is computed in this block; filters and values that '
                                    'read it are not compiled' % name)
            if op[0] == 'rename':
                name = self.name_before(node, op[1], name)
        return quote_ident(name)

    def name_before(self, node, step, name):
        """The name a column had before a rename step."""
        if 'expression' in step:
            raise Refusal(node, 'column %r is read after all columns were renamed by a rule; '
                                'only reads before that rename are compiled' % name)
        sources = [old for old, new in step['map'].items() if new == name]
        if len(sources) > 1:
            raise Refusal(node, 'two columns are renamed to %r' % name)
        if sources:
            return sources[0]
        if name in step['map']:
            raise Refusal(node, 'column %r was renamed to %r above' % (name, step['map'][name]))
        return name

    def derive(self, node, name, sql):
        """frame[name] = <sql>: a column added (or replaced, if derived here before)."""
        if not isinstance(name, str) or not name:
            raise Refusal(node, 'only string column names are compiled')
        for step in self.renames():
            if 'expression' in step:
                raise Refusal(node, 'a column added after all columns were renamed by a rule is '
                                    'not compiled')
            if name in step['map'] or name in step['map'].values():
                raise Refusal(node, 'assigning column %r after a rename that names it is not '
                                    'compiled' % name)
        self.ops.append(('derive', name, sql))

    def rename(self, step):
        """Appends a rename step ({'map': {...}} or {'expression': sql over name})."""
        self.ops.append(('rename', step))

    def select_sql(self):
        """The frame as one SELECT (renames are applied afterwards, see rename_columns)."""
        columns = '*' + ''.join(', %s AS %s' % (sql, quote_ident(name)) for name, sql in self.derived())
        sql = 'SELECT %s FROM %s' % (columns, self.relation)
        if self.where:
            parts = self.where if len(self.where) == 1 else [paren(w) for w in self.where]
            sql += ' WHERE ' + ' AND '.join(parts)
        return sql

    def count_sql(self, what='*'):
        """A query counting the frame's rows (or a column's non-missing values)."""
        sql = 'SELECT count(%s) FROM %s' % (what, self.relation)
        if self.where:
            sql += ' WHERE ' + ' AND '.join(paren(w) for w in self.where)
        return sql


class Column:
    """frame['name']: a Series of the frame."""

    def __init__(self, frame, name, node):
        self.frame = frame
        self.name = name
        # Resolved now: a rename or assignment later in the code must not change what this
        # Series read when it was taken.
        self.column_sql = frame.column_sql(node, name)

    def sql(self):
        """The column's SQL in terms of the relation."""
        return self.column_sql


class Mask:
    """A boolean Series over a frame's rows. build(exact) gives SQL that is TRUE where pandas'
    mask is True; with exact, also FALSE where it is False and NULL where it is NA (needed under
    a negation); without, NULL may stand for False."""

    def __init__(self, frame, build):
        self.frame = frame
        self.build = build


class Scalar:
    """A number computed from the data (a count), printable only."""

    def __init__(self, sql):
        self.sql = sql

    def as_text(self):
        return Text([('query', self.sql)])


class Shape:
    """frame.shape: only its row count (shape[0]) is compiled."""

    def __init__(self, frame):
        self.frame = frame


class DateAccessor:
    """column.dt"""

    def __init__(self, column):
        self.column = column


class Names:
    """frame.columns, or names derived from it by string methods: SQL over `name`."""

    def __init__(self, frame, sql='name'):
        self.frame = frame
        self.sql = sql


class NamesStr:
    """frame.columns.str"""

    def __init__(self, names):
        self.names = names


class NameVar:
    """The loop name of `[... for c in data.columns]`: one column name, as SQL over `name`."""

    def __init__(self, sql='name'):
        self.sql = sql


def comparison(column, op, literal):
    """column <op> literal with pandas' missing-value rules (see the module comment)."""
    def build(exact):
        col = column.sql()
        plain = '%s %s %s' % (col, op, literal)
        if op == '<>':
            return 'CASE WHEN %s IS NOT NULL THEN %s WHEN %s THEN NULL ELSE true END' % (
                col, plain, nullable(col))
        if not exact:
            return plain
        return 'CASE WHEN %s IS NOT NULL THEN %s WHEN %s THEN NULL ELSE false END' % (
            col, plain, nullable(col))
    return Mask(column.frame, build)


def isin_mask(node, column, items):
    """column.isin(items): False, never NA, for a missing value."""
    kinds = {str if isinstance(v, str) else bool if isinstance(v, bool) else float for v in items}
    if any(v is None for v in items) or len(kinds) > 1:
        raise Refusal(node, 'isin() of None or of mixed types is not compiled')
    literals = [sql_literal(node, v) for v in items]
    if not literals:
        return Mask(column.frame, lambda exact: 'false')
    in_list = '%s IN (%s)' % (column.sql(), ', '.join(literals))
    return Mask(column.frame, lambda exact: 'coalesce(%s, false)' % in_list if exact else in_list)


def date_of(column_sql):
    """.dt.date: the date of a timestamp; of a timestamptz, in UTC (the Python path's zone)."""
    return ("CASE WHEN pg_typeof(%(c)s) = 'timestamp with time zone'::regtype THEN "
            "(%(c)s AT TIME ZONE 'UTC')::date ELSE date_trunc('day', %(c)s)::date END" % {'c': column_sql})


def constant_column(node, value):
    """df['c'] = <constant>: the column pandas makes of it, typed as the Python path writes it."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return '%d::bigint' % value
    if isinstance(value, float):
        return '%s::double precision' % sql_literal(node, value)
    if isinstance(value, str):
        return '%s::text' % sql_literal(node, value)
    raise Refusal(node, 'a column of %r is not compiled' % (value,))


def query_tree(node, text):
    """df.query(text) parsed as pandas parses it: & and | are `and` / `or` (below comparisons),
    then Python's grammar."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise Refusal(node, 'the query %r does not parse: %s' % (text, e)) from None
    out = []
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in ('&', '|'):
            out.append((tokenize.NAME, 'and' if tok.string == '&' else 'or'))
        elif tok.type == tokenize.OP and tok.string in ('@', '`'):
            raise Refusal(node, 'the query %r uses %s, which is not compiled' % (text, tok.string))
        elif tok.type == tokenize.ERRORTOKEN and tok.string.strip():
            raise Refusal(node, 'the query %r uses %r, which is not compiled' % (text, tok.string))
        else:
            out.append((tok.type, tok.string))
    try:
        return ast.parse(tokenize.untokenize(out).strip(), mode='eval').body
    except SyntaxError as e:
        raise Refusal(node, 'the query %r does not parse: %s' % (text, e.msg)) from None


class TransformEvaluator(Evaluator):
    """Reads a @transformer function (and, with the self frame, @test conditions)."""

    # -- values ------------------------------------------------------------------------------

    def value(self, node):
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            return self.combine(node, 'AND' if isinstance(node.op, ast.BitAnd) else 'OR',
                                [node.left, node.right])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return self.negate(node, node.operand)
        if isinstance(node, ast.ListComp):
            return self.names_comprehension(node)
        return super().value(node)

    def mask_of(self, node):
        """A mask, or a boolean column used as one."""
        value = self.value(node)
        if isinstance(value, Column):
            column = value
            return Mask(column.frame, lambda exact: column.sql())
        if not isinstance(value, Mask):
            raise Refusal(node, '%s is not a row condition pg_pipeline compiles' % describe(node))
        return value

    def same_frame(self, node, masks):
        """The one frame a combination of masks reads."""
        frames = {id(m.frame): m.frame for m in masks}
        if len(frames) != 1:
            raise Refusal(node, 'conditions over different DataFrames are not compiled')
        return masks[0].frame

    def combine(self, node, word, operands):
        """a & b, a | b."""
        masks = [self.mask_of(o) for o in operands]
        frame = self.same_frame(node, masks)
        return Mask(frame, lambda exact: (' %s ' % word).join(paren(m.build(exact)) for m in masks))

    def negate(self, node, operand):
        """~a (and `not a` in a query string): SQL's NOT is pandas' Kleene negation when the
        operand is exact."""
        mask = self.mask_of(operand)
        return Mask(mask.frame, lambda exact: 'NOT %s' % paren(mask.build(True)))

    def compare(self, node):
        """column <op> literal (either order)."""
        if len(node.ops) != 1:
            raise Refusal(node, 'chained comparisons are not compiled')
        op = type(node.ops[0])
        if op not in COMPARE_OPS:
            raise not_a_shape(node)
        left, right = self.value(node.left), self.value(node.comparators[0])
        if isinstance(right, Column) and not isinstance(left, Column):
            left, right, op = right, left, FLIPPED[op]
            literal_node = node.left
        else:
            literal_node = node.comparators[0]
        if not isinstance(left, Column) or not isinstance(right, Const):
            raise Refusal(node, '%s: only comparisons of a column with a literal are compiled'
                          % describe(node))
        value = right.value
        if value is None:
            raise Refusal(literal_node, 'comparisons with None are not compiled')
        if isinstance(value, str) and op not in (ast.Eq, ast.NotEq):
            raise Refusal(node, 'ordering a column against a string is not compiled (its meaning '
                                'depends on the column type and collation)')
        return comparison(left, COMPARE_OPS[op], sql_literal(literal_node, value))

    def subscript(self, node):
        holder = self.value(node.value)
        if isinstance(holder, Frame):
            key = self.value(node.slice)
            if isinstance(key, Const) and isinstance(key.value, str):
                return Column(holder, key.value, node)
            if isinstance(key, Mask):
                if key.frame is not holder:
                    raise Refusal(node.slice, 'a mask over another DataFrame is not compiled')
                return holder.filtered(key.build(False))
            if isinstance(key, Column):
                return holder.filtered(self.mask_of(node.slice).build(False))
            raise Refusal(node, '%s is not a selection pg_pipeline compiles' % describe(node))
        if isinstance(holder, Shape):
            key = self.value(node.slice)
            if isinstance(key, Const) and key.value == 0:
                return Scalar(holder.frame.count_sql())
            raise Refusal(node, '%s is not compiled (shape[0] is)' % describe(node))
        return super().subscript(node)

    def other_attribute(self, node, holder):
        if isinstance(holder, Frame) and node.attr == 'columns':
            return Names(holder)
        if isinstance(holder, Frame) and node.attr == 'shape':
            return Shape(holder)
        if isinstance(holder, Column) and node.attr == 'dt':
            return DateAccessor(holder)
        if isinstance(holder, DateAccessor) and node.attr == 'date':
            return DerivedSql(holder.column.frame, date_of(holder.column.sql()))
        if isinstance(holder, Names) and node.attr == 'str':
            return NamesStr(holder)
        return super().other_attribute(node, holder)

    # -- calls -------------------------------------------------------------------------------

    def module_call(self, node, path):
        if path == 'builtins.len' and len(node.args) == 1 and not node.keywords:
            frame = self.value(node.args[0])
            if isinstance(frame, Frame):
                return Scalar(frame.count_sql())
        if path == 're.sub':
            return self.re_sub(node)
        return super().module_call(node, path)

    def method_call(self, node, holder, name):
        if isinstance(holder, Column):
            return self.column_method(node, holder, name)
        if isinstance(holder, Frame):
            return self.frame_method(node, holder, name)
        if isinstance(holder, Mask) and name == 'sum' and not node.args and not node.keywords:
            mask = holder
            return Scalar(mask.frame.filtered(mask.build(False)).count_sql())
        if isinstance(holder, NamesStr):
            return Names(holder.names.frame, self.name_method(node, holder.names.sql, name, True))
        if isinstance(holder, NameVar):
            return NameVar(self.name_method(node, holder.sql, name, False))
        return super().method_call(node, holder, name)

    def column_method(self, node, column, name):
        """Series methods: isin, notna/isna (and the -null spellings), between, count."""
        if name in ('notna', 'notnull', 'isna', 'isnull') and not node.args and not node.keywords:
            test = 'IS NOT NULL' if name in ('notna', 'notnull') else 'IS NULL'
            return Mask(column.frame, lambda exact: '%s %s' % (column.sql(), test))
        if name == 'isin' and len(node.args) == 1 and not node.keywords:
            return self.isin(node, column)
        if name == 'between' and len(node.args) == 2 and not node.keywords:
            low, high = [self.value(a) for a in node.args]
            if not all(isinstance(v, Const) and isinstance(v.value, (int, float))
                       and not isinstance(v.value, bool) for v in (low, high)):
                raise Refusal(node, 'between() of values other than numbers is not compiled')
            literal = '%s AND %s' % (sql_literal(node, low.value), sql_literal(node, high.value))
            return comparison(column, 'BETWEEN', literal)
        if name == 'count' and not node.args and not node.keywords:
            return Scalar(column.frame.count_sql(column.sql()))
        raise Refusal(node, '.%s() is not a shape pg_pipeline compiles' % name)

    def isin(self, node, column):
        """column.isin([literals])."""
        values = self.value(node.args[0])
        if not isinstance(values, Const) or not isinstance(values.value, (list, tuple, set)):
            raise Refusal(node.args[0], 'isin() of %s is not compiled (a literal list is)'
                          % describe(node.args[0]))
        return isin_mask(node.args[0], column, list(values.value))

    def frame_method(self, node, frame, name):
        """DataFrame methods: query, rename, copy, reset_index(drop=True), dropna(subset=...)."""
        if name == 'query':
            return self.query(node, frame)
        if name == 'rename':
            return self.rename(node, frame)
        if name == 'copy' and not node.args and all(k.arg == 'deep' for k in node.keywords):
            return frame.copy()
        if name == 'reset_index' and not node.args:
            options = self.options(node, {'drop', 'inplace'})
            if options.get('drop') is not True:
                raise Refusal(node, 'reset_index() without drop=True adds an index column; it is '
                                    'not compiled')
            return Const(None) if options.get('inplace') else frame.copy()
        if name == 'dropna':
            return self.dropna(node, frame)
        raise Refusal(node, '.%s() is not a shape pg_pipeline compiles' % name)

    def options(self, node, allowed):
        """A call's keyword arguments, each a constant."""
        out = {}
        for key, value_node in keywords_of(node, allowed).items():
            value = self.value(value_node)
            if not isinstance(value, Const):
                raise Refusal(value_node, '%s= must be a constant to compile' % key)
            out[key] = value.value
        return out

    def in_place(self, node, frame, options, result):
        """Applies an inplace=True call to frame (returning None), else returns the new frame."""
        if options.get('inplace'):
            frame.where, frame.ops = result.where, result.ops
            return Const(None)
        return result

    def query(self, node, frame):
        """df.query('...'): names are columns."""
        options = self.options(node, {'inplace'})
        if len(node.args) != 1:
            raise not_a_shape(node)
        text = self.value(node.args[0])
        if not isinstance(text, Const) or not isinstance(text.value, str):
            raise Refusal(node.args[0], 'query() of a string computed at run time is not compiled')
        condition = QueryReader(frame, node.args[0]).mask(query_tree(node.args[0], text.value))
        return self.in_place(node, frame, options, frame.filtered(condition.build(False)))

    def dropna(self, node, frame):
        """df.dropna(subset=[...]): rows with a missing value in one of those columns go."""
        options = self.options(node, {'subset', 'inplace', 'how'})
        subset = options.get('subset')
        if node.args or not isinstance(subset, (list, tuple)) or not subset \
                or options.get('how', 'any') != 'any':
            raise Refusal(node, 'dropna() is compiled only with subset=[columns] (it would need '
                                'every column otherwise)')
        conditions = ['%s IS NOT NULL' % frame.column_sql(node, c) for c in subset]
        return self.in_place(node, frame, options, frame.filtered(' AND '.join(conditions)))

    def rename(self, node, frame):
        """df.rename(columns={...}) or rename(columns=str.lower / str.upper)."""
        if node.args:
            raise Refusal(node, 'rename() is compiled only with columns=')
        allowed = {'columns', 'inplace', 'errors'}
        keywords = keywords_of(node, allowed)
        if 'columns' not in keywords:
            raise Refusal(node, 'rename() is compiled only with columns=')
        mapping = keywords.pop('columns')
        options = {}
        for key, value_node in keywords.items():
            value = self.value(value_node)
            if not isinstance(value, Const):
                raise Refusal(value_node, '%s= must be a constant to compile' % key)
            options[key] = value.value
        if options.get('errors', 'ignore') != 'ignore':
            raise Refusal(node, "rename(errors='raise') is not compiled")
        step = self.rename_step(mapping)
        result = frame.copy()
        result.rename(step)
        return self.in_place(node, frame, options, result)

    def rename_step(self, node):
        """The rename of columns=: a dict of names, or str.lower / str.upper."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == 'str' and 'str' not in self.locals and node.attr in ('lower', 'upper'):
            return {'expression': case_change('name', node.attr)}
        mapping = self.value(node)
        if not isinstance(mapping, Const) or not isinstance(mapping.value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.value.items()):
            raise Refusal(node, 'rename(columns=%s) is not compiled: a dict of names is'
                          % describe(node))
        return {'map': dict(mapping.value)}

    # -- column names ------------------------------------------------------------------------

    def name_method(self, node, sql, name, accessor):
        """A string method on column names (.str.x on frame.columns, or x on a name)."""
        args = [self.value(a) for a in node.args]
        if not all(isinstance(a, Const) and isinstance(a.value, str) for a in args):
            raise Refusal(node, '.%s() with values other than literal strings is not compiled' % name)
        args = [a.value for a in args]
        options = self.options(node, {'regex'} if accessor else set())
        if name in ('lower', 'upper') and not args:
            return case_change(sql, name)
        if name == 'replace' and len(args) == 2:
            regex = options.get('regex')
            if accessor and regex is None and len(args[0]) != 1:
                raise Refusal(node, '.str.replace() of a pattern longer than one character without '
                                    'regex= is not compiled: pandas versions read it differently')
            if accessor and regex:
                return regex_replace(node, sql, args[0], args[1])
            return literal_replace(node, sql, args[0], args[1])
        raise Refusal(node, '.%s() on column names is not compiled' % name)

    def re_sub(self, node):
        """re.sub(pattern, repl, <column name>) inside a comprehension over df.columns."""
        if node.keywords or len(node.args) != 3:
            raise Refusal(node, 're.sub() with count= or flags= is not compiled')
        pattern, repl, name = [self.value(a) for a in node.args]
        if not isinstance(name, NameVar) or not all(
                isinstance(v, Const) and isinstance(v.value, str) for v in (pattern, repl)):
            raise Refusal(node, 're.sub() is compiled only on a column name, with literal strings')
        return NameVar(regex_replace(node, name.sql, pattern.value, repl.value))

    def names_comprehension(self, node):
        """[<expression of c> for c in df.columns]."""
        if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async \
                or not isinstance(node.generators[0].target, ast.Name):
            raise not_a_shape(node)
        generator = node.generators[0]
        names = self.value(generator.iter)
        if not isinstance(names, Names) or names.sql != 'name':
            raise Refusal(generator.iter, 'a comprehension over %s is not compiled'
                          % describe(generator.iter))
        loop = generator.target.id
        saved = self.locals.get(loop)
        self.locals[loop] = NameVar()
        try:
            result = self.value(node.elt)
        finally:
            if saved is None:
                self.locals.pop(loop, None)
            else:
                self.locals[loop] = saved
        if isinstance(result, NameVar):
            return Names(names.frame, result.sql)
        raise Refusal(node.elt, '%s is not a column name expression pg_pipeline compiles'
                      % describe(node.elt))

    # -- statements --------------------------------------------------------------------------

    def assign(self, target, value_node):
        if isinstance(target, ast.Subscript):
            return self.set_column(target, value_node)
        if isinstance(target, ast.Attribute):
            return self.set_columns(target, value_node)
        self.bind(target, self.value(value_node))

    def set_column(self, target, value_node):
        """df['c'] = <constant | column | column.dt.date>."""
        frame = self.value(target.value)
        key = self.value(target.slice)
        if not isinstance(frame, Frame) or not isinstance(key, Const):
            raise not_a_shape(target, 'assignment to %s' % describe(target))
        value = self.value(value_node)
        if isinstance(value, Const):
            sql = constant_column(value_node, value.value)
        elif isinstance(value, Column):
            sql = value.sql()
        elif isinstance(value, DerivedSql) and value.frame is frame:
            sql = value.sql
        else:
            raise Refusal(value_node, 'a column computed as %s is not compiled'
                          % describe(value_node))
        frame.derive(target, key.value, sql)

    def set_columns(self, target, value_node):
        """df.columns = <names derived from df.columns>."""
        frame = self.value(target.value)
        if not isinstance(frame, Frame) or target.attr != 'columns':
            raise not_a_shape(target, 'assignment to %s' % describe(target))
        names = self.value(value_node)
        if not isinstance(names, Names) or names.frame is not frame:
            raise Refusal(value_node, 'df.columns = %s is not compiled: only names derived from '
                                      'df.columns by string methods are' % describe(value_node))
        if names.sql == 'name':
            return
        frame.rename({'expression': names.sql})


class DerivedSql:
    """A column computed in SQL from a frame's columns (column.dt.date)."""

    def __init__(self, frame, sql):
        self.frame = frame
        self.sql = sql


class QueryReader:
    """A df.query() string's syntax tree as a mask: bare names are the frame's columns."""

    def __init__(self, frame, node):
        self.frame = frame
        self.node = node  # the string in the user's file, for messages

    def column(self, tree):
        """A bare name in the query: a column of the frame."""
        return Column(self.frame, tree.id, self.node)

    def mask(self, tree):
        """The mask of a query expression."""
        if isinstance(tree, ast.BoolOp):
            masks = [self.mask(v) for v in tree.values]
            word = ' AND ' if isinstance(tree.op, ast.And) else ' OR '
            return Mask(self.frame, lambda exact: word.join(paren(m.build(exact)) for m in masks))
        if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.Not, ast.Invert)):
            inner = self.mask(tree.operand)
            return Mask(self.frame, lambda exact: 'NOT %s' % paren(inner.build(True)))
        if isinstance(tree, ast.Compare) and len(tree.ops) == 1:
            return self.compare(tree)
        if isinstance(tree, ast.Name):
            column = self.column(tree)
            return Mask(self.frame, lambda exact: column.sql())
        raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))

    def compare(self, tree):
        """name <op> literal, literal <op> name, name in [literals]."""
        op = type(tree.ops[0])
        left, right = tree.left, tree.comparators[0]
        if isinstance(right, ast.Name) and not isinstance(left, ast.Name):
            left, right = right, left
            op = FLIPPED.get(op, op)
            if op in (ast.In, ast.NotIn):
                raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))
        if not isinstance(left, ast.Name):
            raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))
        try:
            value = ast.literal_eval(right)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise Refusal(self.node, 'the query part %r is not compiled (only literals are '
                                     'compared)' % ast.unparse(tree)) from None
        column = self.column(left)
        if op in (ast.In, ast.NotIn):
            if not isinstance(value, (list, tuple, set)):
                raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))
            mask = isin_mask(self.node, column, list(value))
            if op is ast.NotIn:
                inner = mask
                return Mask(self.frame, lambda exact: 'NOT %s' % paren(inner.build(True)))
            return mask
        if op not in COMPARE_OPS:
            raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))
        if value is None or (isinstance(value, str) and op not in (ast.Eq, ast.NotEq)):
            raise Refusal(self.node, 'the query part %r is not compiled' % ast.unparse(tree))
        return comparison(column, COMPARE_OPS[op], sql_literal(self.node, value))


def compile_transformer(request, block_file, fn, log):
    """The native block of a @transformer, or raises Refusal."""
    from .compile_module import parameters
    upstream = list(request.get('upstream') or [])
    names, vararg, kwarg = parameters(fn, len(upstream))
    if len(names) != 1 or len(upstream) != 1:
        raise Refusal(fn, 'only transformers of exactly one upstream block, taken as the first '
                          'parameter, are compiled')
    check_block_name(fn, upstream[0])
    evaluator = TransformEvaluator(request, block_file, fn, log)
    evaluator.bind_parameters(names, [Frame('{{ %s }}' % upstream[0])], vararg, kwarg)
    returned, value = evaluator.run_body(fn.body)
    if returned is None or not isinstance(value, Frame):
        raise Refusal(returned or fn, 'only transformers that return a DataFrame of their upstream '
                                      'are compiled')
    block = {'type': 'transformer', 'sql': value.select_sql()}
    renames = value.renames()
    if renames:
        block['rename_columns'] = renames
    notes = []
    if renames:
        notes.append('rename_columns: the executor renames the output columns in order after the '
                     'SQL and before the tests (it does not do so yet)')
    return block, notes


def check_block_name(node, name):
    """An upstream block name usable as {{ name }}."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise Refusal(node, 'the upstream block name %r cannot be written as a template' % (name,))
