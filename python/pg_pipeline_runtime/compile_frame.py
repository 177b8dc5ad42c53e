"""The DataFrames of a transformer (and of its tests) as SQL: a Frame is rows of one relation
that pass conditions, with columns derived in the block and renames; a Column is one of its
Series, a Mask a boolean Series, written as SQL that keeps exactly the rows pandas keeps.

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

from .compile_base import Refusal, quote_ident, sql_literal
from .compile_values import Text

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
        """The count as a printed piece (a subquery)."""
        return Text([('query', self.sql)])


class Shape:
    """frame.shape: only its row count (shape[0]) is compiled."""

    def __init__(self, frame):
        self.frame = frame


class DateAccessor:
    """column.dt"""

    def __init__(self, column):
        self.column = column


def comparison(column, op, literal):
    """column <op> literal with pandas' missing-value rules (see the module comment)."""
    def build(exact):
        """The SQL, exact or for a monotone position (see Mask)."""
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


class DerivedSql:
    """A column computed in SQL from a frame's columns (column.dt.date)."""

    def __init__(self, frame, sql):
        self.frame = frame
        self.sql = sql
