"""df.query('...') strings: parsed as pandas parses them (& and | read as `and` / `or`, below
comparisons, then Python's grammar) and turned into a Mask whose bare names are the frame's
columns: comparisons with literals, `in` / `not in` lists, and / or / not / ~.
"""

import ast
import io
import tokenize

from .compile_base import Refusal, sql_literal
from .compile_frame import COMPARE_OPS, FLIPPED, Column, Mask, comparison, isin_mask, paren


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
