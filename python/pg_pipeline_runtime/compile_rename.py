"""Renaming every column by a rule: `data.columns = data.columns.str.replace(' ', '_').str.lower()`,
`[re.sub(r'(?<!^)(?=[A-Z])', '_', c).lower() for c in data.columns]` and the like become a SQL
expression over `name` (`lower(replace(name, ' ', '_'))`) that the executor applies to each
column name of the block's output (the `rename_columns` key, see compile.py).

Only string operations whose Postgres counterpart gives the same result on column names are
accepted: lower, upper, literal replace, and regular expressions written with the small subset
on which Python's `re` and Postgres's regular expressions agree (see check_pattern).
"""

import re

from .compile_base import Refusal, quote_literal

# Characters a pattern may hold outside classes and groups, taken literally by both engines.
LITERAL_CHARS = set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ -')
CLASS_RANGE = re.compile(r'\[\^?(?:[A-Za-z0-9_ ]-[A-Za-z0-9_ ]|[A-Za-z0-9_ ])+\]')


def check_pattern(node, pattern):
    """Refuses a regular expression outside the subset both engines read alike: literal letters,
    digits, '_', ' ', '-'; classes of those and their ranges ([a-z0-9]); '.'; groups and
    lookaround ((...), (?=...), (?!...), (?<=...), (?<!...)); anchors ^ $; and +, * or ? after
    a character, class or '.'. No alternation, escapes, counted repeats or lazy quantifiers."""
    i, depth, can_repeat = 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == '[':
            m = CLASS_RANGE.match(pattern, i)
            if not m:
                raise Refusal(node, 'the character class at %r is not compiled' % pattern[i:])
            i, can_repeat = m.end(), True
            continue
        if c == '(':
            for opener in ('(?<=', '(?<!', '(?=', '(?!', '('):
                if pattern.startswith(opener, i):
                    break
            if opener == '(' and pattern.startswith('(?', i):
                raise Refusal(node, 'the group %r is not compiled' % pattern[i:i + 4])
            i, depth, can_repeat = i + len(opener), depth + 1, False
            continue
        if c == ')':
            if depth == 0:
                raise Refusal(node, 'the pattern %r does not parse' % pattern)
            i, depth, can_repeat = i + 1, depth - 1, False
            continue
        if c in '+*?':
            if not can_repeat:
                raise Refusal(node, 'the quantifier at %r is not compiled' % pattern[i:])
            i, can_repeat = i + 1, False
            continue
        if c in '^$':
            i, can_repeat = i + 1, False
            continue
        if c == '.' or c in LITERAL_CHARS:
            i, can_repeat = i + 1, True
            continue
        raise Refusal(node, 'the character %r in the pattern %r is not compiled' % (c, pattern))
    if depth:
        raise Refusal(node, 'the pattern %r does not parse' % pattern)
    try:
        re.compile(pattern)
    except re.error as e:
        raise Refusal(node, 'the pattern %r does not parse: %s' % (pattern, e)) from None


def replacement(node, repl):
    """A re.sub replacement as Postgres writes it: \\1 and \\g<1> become \\1; other backslashes
    and '&' (which is plain in Python) are refused to keep the two readings equal."""
    out, i = [], 0
    while i < len(repl):
        c = repl[i]
        if c == '\\':
            m = re.match(r'\\([1-9])|\\g<([1-9])>', repl[i:])
            if not m:
                raise Refusal(node, 'the replacement %r is not compiled (only \\1 to \\9)' % repl)
            out.append('\\' + (m.group(1) or m.group(2)))
            i += m.end()
            continue
        if c == '&' or c in '{}':
            raise Refusal(node, 'the replacement %r is not compiled' % repl)
        out.append(c)
        i += 1
    return ''.join(out)


def regex_replace(node, name_sql, pattern, repl):
    """re.sub(pattern, repl, name) as SQL."""
    check_pattern(node, pattern)
    return 'regexp_replace(%s, %s, %s, %s)' % (name_sql, quote_literal(pattern),
                                             quote_literal(replacement(node, repl)), "'g'")


def literal_replace(node, name_sql, old, new):
    """name.replace(old, new) as SQL (Python inserts new between characters for an empty old;
    Postgres does nothing, so that is refused)."""
    if not old:
        raise Refusal(node, 'replace() of an empty string is not compiled')
    return 'replace(%s, %s, %s)' % (name_sql, quote_literal(old), quote_literal(new))


def case_change(name_sql, method):
    """lower() or upper() (equal to Python's on ASCII names)."""
    return '%s(%s)' % (method, name_sql)

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
