"""@test functions: each `assert <condition>, '<message>'` becomes one native test on the
block's output (`{{ self }}`) with the same message. A test the compiler cannot translate keeps
the whole block in Python, so no test is ever dropped.

  output is not None                 row_count {min: 0} (a compiled block always returns rows)
  len(output) > 0, output.shape[0]   row_count {min, max}
  not output.empty                   row_count {min: 1}
  'c' in output.columns              assert: the catalog has column c on {{ self }} (see below)
  <mask>.sum() == 0 (or other OP n)  assert: SELECT count(*) = 0 FROM {{ self }} WHERE <mask>
  <mask>.all() / .any()              assert: no row where the mask is False / some row where True
  output['c'].notna().all()          not_null [c]  (and isna().sum() == 0, not isna().any())
  output['c'].min() >= 0 (max)       assert: SELECT min(c) >= 0 FROM {{ self }}

A column that exists is checked in pg_attribute rather than by selecting it, so a missing
column fails the test with its message instead of failing the block with "column does not
exist": `'{{ self }}'::regclass` is safe because {{ self }} renders as a quoted relation name
of identifiers.
"""

import ast

from .compile_base import Refusal, describe, quote_literal, sql_literal
from .compile_transform import Column, Frame, Mask, TransformEvaluator, paren

ROW_COUNT_OPS = (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq)
SQL_OPS = {ast.Eq: '=', ast.NotEq: '<>', ast.Lt: '<', ast.LtE: '<=', ast.Gt: '>', ast.GtE: '>='}
FLIPPED = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq,
           ast.NotEq: ast.NotEq}


def compile_tests(request, block_file, path):
    """The native tests of every @test function, in file order; raises Refusal naming the test."""
    tests = []
    for fn in block_file.tests:
        try:
            tests.extend(TestReader(request, block_file, fn, path).tests())
        except Refusal as r:
            raise Refusal(r.node, '%s (in @test %s: a test that cannot be translated keeps the '
                                  'whole block in Python)' % (r.message, fn.name)) from None
    return tests


class TestReader:
    """One @test function's asserts."""

    def __init__(self, request, block_file, fn, path):
        self.fn = fn
        self.path = path
        a = fn.args
        if a.posonlyargs or a.kwonlyargs or a.defaults or not a.args:
            raise Refusal(fn, 'only tests of the form def %s(output, *args, **kwargs) are compiled'
                          % fn.name)
        self.output = a.args[0].arg
        self.frame = Frame('{{ self }}')
        self.evaluator = TransformEvaluator(request, block_file, fn, None)
        self.evaluator.locals[self.output] = self.frame

    def tests(self):
        """The tests of the function body."""
        out = []
        for index, statement in enumerate(self.fn.body):
            if isinstance(statement, ast.Pass) or (index == 0 and isinstance(statement, ast.Expr)
                                                   and isinstance(statement.value, ast.Constant)):
                continue
            if not isinstance(statement, ast.Assert):
                raise Refusal(statement, '%s in a test is not compiled (only assert statements are)'
                              % describe(statement))
            test = self.condition(statement.test)
            test['message'] = self.message(statement)
            out.append(test)
        return out

    def message(self, statement):
        """The assert's message, or what the Python path reports without one."""
        if statement.msg is None:
            return 'assertion failed (%s, line %d)' % (self.path, statement.lineno)
        if isinstance(statement.msg, ast.Constant) and isinstance(statement.msg.value, str):
            if '{{' in statement.msg.value or '}}' in statement.msg.value:
                raise Refusal(statement.msg, 'a message holding "{{" is not compiled')
            return statement.msg.value
        raise Refusal(statement.msg, 'a message computed at run time is not compiled')

    def is_output(self, node):
        """Whether node is the test's output parameter itself."""
        return isinstance(node, ast.Name) and node.id == self.output

    def condition(self, node):
        """The native test for one assert condition."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.negated(node, node.operand)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.comparison(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
                and not node.keywords and node.func.attr in ('all', 'any'):
            mask = self.mask(node.func.value)
            if node.func.attr == 'all':
                if getattr(mask, 'not_null', None):
                    return {'not_null': [mask.not_null]}
                return self.count_assert(mask, exact_negation=True, op='=', n=0)
            return self.count_assert(mask, op='>', n=0)
        raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))

    def negated(self, node, inner):
        """not <x>.any(), not output.empty."""
        if isinstance(inner, ast.Attribute) and inner.attr == 'empty' and self.is_output(inner.value):
            return {'row_count': {'min': 1}}
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                and inner.func.attr == 'any' and not inner.args and not inner.keywords:
            mask = self.mask(inner.func.value)
            if getattr(mask, 'is_null', None):
                return {'not_null': [mask.is_null]}
            return self.count_assert(mask, op='=', n=0)
        raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))

    def comparison(self, node):
        """The compare shapes: is not None, row counts, column membership, sums, min/max."""
        op, left, right = type(node.ops[0]), node.left, node.comparators[0]
        if op is ast.IsNot and self.is_output(left) and isinstance(right, ast.Constant) and right.value is None:
            return {'row_count': {'min': 0}}
        if op in (ast.In, ast.NotIn):
            return self.has_column(node, op is ast.In, left, right)
        if op not in SQL_OPS:
            raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))
        if isinstance(left, ast.Constant) and not isinstance(right, ast.Constant):
            left, right, op = right, left, FLIPPED[op]
        if not isinstance(right, ast.Constant) or isinstance(right.value, bool) \
                or not isinstance(right.value, (int, float)):
            raise Refusal(node, '%s: only comparisons with a literal number are compiled' % describe(node))
        n = right.value
        if self.is_row_count(left):
            return self.row_count(node, op, n)
        if isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and not left.args \
                and not left.keywords:
            if left.func.attr == 'sum':
                mask = self.mask(left.func.value)
                if getattr(mask, 'is_null', None) and op is ast.Eq and n == 0:
                    return {'not_null': [mask.is_null]}
                return self.count_assert(mask, op=SQL_OPS[op], n=n)
            if left.func.attr in ('min', 'max'):
                column = self.evaluator.value(left.func.value)
                if isinstance(column, Column):
                    return {'assert': 'SELECT %s(%s) %s %s FROM {{ self }}' % (
                        left.func.attr, column.sql(), SQL_OPS[op], sql_literal(right, n))}
        raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))

    def is_row_count(self, node):
        """len(output) or output.shape[0]."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'len' \
                and len(node.args) == 1 and not node.keywords:
            return self.is_output(node.args[0]) or (
                isinstance(node.args[0], ast.Attribute) and node.args[0].attr == 'index'
                and self.is_output(node.args[0].value))
        return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == 'shape' and self.is_output(node.value.value)
                and isinstance(node.slice, ast.Constant) and node.slice.value == 0)

    def row_count(self, node, op, n):
        """len(output) <op> n as row_count bounds."""
        if not isinstance(n, int) or op not in ROW_COUNT_OPS:
            raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))
        bounds = {ast.Gt: {'min': n + 1}, ast.GtE: {'min': n}, ast.Lt: {'max': n - 1},
                  ast.LtE: {'max': n}, ast.Eq: {'min': n, 'max': n}}[op]
        if any(v < 0 for v in bounds.values()):
            raise Refusal(node, '%s can never hold; it is not compiled' % describe(node))
        return {'row_count': bounds}

    def has_column(self, node, present, left, right):
        """'c' in output.columns."""
        if not (isinstance(left, ast.Constant) and isinstance(left.value, str)
                and isinstance(right, ast.Attribute) and right.attr == 'columns'
                and self.is_output(right.value)):
            raise Refusal(node, '%s is not a test pg_pipeline compiles' % describe(node))
        if '{{' in left.value or '}}' in left.value:
            raise Refusal(left, 'a column name holding "{{" is not compiled')
        return {'assert': "SELECT count(*) = %d FROM pg_catalog.pg_attribute WHERE attrelid = "
                          "'{{ self }}'::regclass AND attname = %s AND attnum > 0 AND NOT "
                          "attisdropped" % (1 if present else 0, quote_literal(left.value))}

    def mask(self, node):
        """A boolean Series of the output, marked when it is a plain notna / isna of a column."""
        value = self.evaluator.value(node)
        if isinstance(value, Column):
            column = value
            value = Mask(self.frame, lambda exact: column.sql())
        if not isinstance(value, Mask) or value.frame is not self.frame:
            raise Refusal(node, '%s is not a condition on the output pg_pipeline compiles'
                          % describe(node))
        call = node if isinstance(node, ast.Call) else None
        if call is not None and isinstance(call.func, ast.Attribute) and not call.args \
                and isinstance(call.func.value, ast.Subscript) and self.is_output(call.func.value.value) \
                and isinstance(call.func.value.slice, ast.Constant) \
                and isinstance(call.func.value.slice.value, str):
            name = call.func.value.slice.value
            if call.func.attr in ('notna', 'notnull'):
                value.not_null = name
            elif call.func.attr in ('isna', 'isnull'):
                value.is_null = name
        return value

    def count_assert(self, mask, op, n, exact_negation=False):
        """SELECT count(*) <op> n FROM {{ self }} WHERE <mask> (or where it is False)."""
        condition = 'NOT %s' % paren(mask.build(True)) if exact_negation else mask.build(False)
        if not isinstance(n, int):
            raise Refusal(self.fn, 'a count compared with %r is not compiled' % (n,))
        return {'assert': 'SELECT count(*) %s %d FROM {{ self }} WHERE %s' % (op, n, condition)}
