"""Transformers: boolean row filters, derived columns, column renames and printed counts over
the upstream DataFrame become one `SELECT * [, <derived>] FROM {{ upstream }} WHERE ...` plus
the renames to apply to its output (rename_columns). The DataFrames and their SQL are in
compile_frame.py (which explains how pandas' missing values are kept), query strings in
compile_query.py, renaming rules in compile_rename.py.
"""

import ast

from .compile_base import (Const, Refusal, describe, keywords_of, not_a_shape, sql_literal)
from .compile_frame import (COMPARE_OPS, FLIPPED, Column, DateAccessor, DerivedSql, Frame, Mask,
                            Scalar, Shape, comparison, constant_column, date_of, isin_mask, paren)
from .compile_query import QueryReader, query_tree
from .compile_rename import (Names, NamesStr, NameVar, case_change, literal_replace,
                             regex_replace)
from .compile_module import Helper
from .compile_values import Evaluator


class TransformEvaluator(Evaluator):
    """Reads a @transformer function (and, with the self frame, @test conditions)."""

    # -- values ------------------------------------------------------------------------------

    def value(self, node):
        """Also comparisons, &, |, ~ (masks) and comprehensions over column names."""
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
        """frame['c'], frame[mask], frame.shape[0]."""
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
        """frame.columns, frame.shape, column.dt.date, columns.str."""
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

    def call(self, node):
        """Also a helper function (compile_module.Helper) called on a column name."""
        if isinstance(node.func, ast.Name):
            callee = self.lookup(node.func)
            if isinstance(callee, Helper):
                return self.helper_call(node, callee)
        return super().call(node)

    def helper_call(self, node, helper):
        """helper(c) in a comprehension over df.columns: its body evaluated with its parameter
        the column name, in a scope of its own (it sees the file's names, not the caller's)."""
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise Refusal(node, 'helper function %s is compiled only when called with one argument'
                          % helper.fn.name)
        argument = self.value(node.args[0])
        if not isinstance(argument, NameVar):
            raise Refusal(node, 'helper function %s is compiled only when called on a column name '
                                '(in a comprehension over df.columns)' % helper.fn.name)
        saved = self.locals, self.local_names
        from .compile_module import assigned_names
        self.locals = {helper.parameter: argument}
        self.local_names = assigned_names(helper.fn) | {helper.parameter}
        try:
            for statement in helper.assignments:
                self.bind(statement.targets[0], self.value(statement.value))
            result = self.value(helper.result)
        finally:
            self.locals, self.local_names = saved
        if not isinstance(result, NameVar):
            raise Refusal(helper.result, 'helper function %s returns %s, not a column name expression '
                                         'pg_pipeline compiles' % (helper.fn.name, describe(helper.result)))
        return result

    def module_call(self, node, path):
        """len(frame) and re.sub on a column name."""
        if path == 'builtins.len' and len(node.args) == 1 and not node.keywords:
            frame = self.value(node.args[0])
            if isinstance(frame, Frame):
                return Scalar(frame.count_sql())
        if path == 're.sub':
            return self.re_sub(node)
        return super().module_call(node, path)

    def method_call(self, node, holder, name):
        """Methods of columns, frames, masks and column names."""
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
        """Also frame['c'] = ... and frame.columns = ...."""
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
        elif isinstance(value, Column) and value.frame is frame:
            sql = value.sql()  # another frame's column would be aligned by index in pandas
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
                     'SQL and before the tests')
    return block, notes


def check_block_name(node, name):
    """An upstream block name usable as {{ name }}."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise Refusal(node, 'the upstream block name %r cannot be written as a template' % (name,))
