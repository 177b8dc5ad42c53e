"""print(...) in a compiled block: each becomes a SQL query returning the line Python would have
printed, for the executor to write to the run's log. Literal pieces are SQL literals, run-time
values templates (`{{ quote_literal((year)::text) }}`), and counts of a transformer's frames
subqueries over `{{ upstream }}`.
"""

import ast

from .compile_base import Const, Refusal, describe, quote_literal
from .compile_values import as_text


class Log:
    """The log queries of one block, in the order its prints run."""

    def __init__(self):
        self.queries = []

    def add_print(self, evaluator, call):
        """Adds print(a, b, ...) (joined by spaces, as print does)."""
        if call.keywords:
            raise Refusal(call, 'print(%s=...) is not compiled' % call.keywords[0].arg)
        parts = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                raise Refusal(arg, 'print(*...) is not compiled')
            parts.append(self.part(evaluator, arg))
        pieces = []
        for index, part in enumerate(parts):
            if index:
                pieces.append(quote_literal(' '))
            pieces.extend(part)
        pieces = [p for p in pieces if p != "''"] or ["''"]
        self.queries.append('SELECT ' + (pieces[0] if len(pieces) == 1 else 'concat(%s)' % ', '.join(pieces)))

    def part(self, evaluator, node):
        """One printed value as SQL text pieces."""
        value = evaluator.value(node)
        if isinstance(value, Const):
            if isinstance(value.value, (str, int, float, bool)) or value.value is None:
                return [quote_literal(str(value.value))]
            raise Refusal(node, 'print of %s is not compiled' % describe(node))
        return self.text_pieces(node, as_text(node, value))

    def text_pieces(self, node, text):
        """Text as SQL pieces: literals, templates, and ('query', sql) subqueries."""
        out = []
        for kind, piece in text.pieces:
            if kind == 'lit':
                if '{{' in piece or '}}' in piece:
                    raise Refusal(node, 'a printed text holding "{{" is not compiled')
                out.append(quote_literal(piece))
            elif kind == 'sql':
                out.append('{{ quote_literal((%s)::text) }}' % piece)
            else:  # a query over the block's upstream
                out.append('(%s)::text' % piece)
        return out
