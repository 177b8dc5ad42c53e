"""The block file's top level: which statements the compiler accepts outside the block function
(imports it knows, Mage's `if 'x' not in globals()` preamble, plain literal constants, the
decorated functions), what each imported name is, and the block function and its @test
functions. Anything else at the top level runs when Python loads the file, so it keeps the block
in Python.
"""

import ast

from .compile_base import Const, Module, Refusal, describe, is_docstring, is_literal, literal_value

# Modules a block may import: importing them does nothing a compiled block would miss.
KNOWN_MODULES = {'pandas', 'numpy', 'io', 'os', 'os.path', 'requests', 're', 'datetime', 'typing',
                 'json', 'math'}

# The mage_ai names pg_pipeline's stand-in provides (python/mage_ai); importing another one fails
# in Python, so a file importing one is not compiled either.
MAGE_NAMES = {
    'mage_ai.data_preparation.decorators': {'data_loader', 'transformer', 'data_exporter', 'custom',
                                            'sensor', 'test', 'condition', 'callback',
                                            'on_success', 'on_failure'},
    'mage_ai.io.config': {'ConfigFileLoader', 'ConfigKey'},
    'mage_ai.io.postgres': {'Postgres'},
    'mage_ai.settings.repo': {'get_repo_path'},
}

# The decorator each request kind's block function carries (as runner.DECORATOR_OF_KIND).
DECORATOR_OF_KIND = {'data_loader': 'data_loader', 'transformer': 'transformer',
                     'data_exporter': 'data_exporter', 'custom': 'custom'}
BLOCK_DECORATORS = {'data_loader', 'transformer', 'data_exporter', 'custom', 'sensor', 'condition'}


class BlockFile:
    """What the top level of a block file holds."""

    def __init__(self):
        self.names = {}        # name -> Const or Module
        self.functions = {}    # decorator -> [FunctionDef]
        self.tests = []        # the @test functions, in file order
        self.tree = None


def read_block_file(source, kind):
    """Parses source and checks its top level; returns a BlockFile, or raises Refusal."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        node = ast.Module(body=[], type_ignores=[])
        node.lineno, node.col_offset = e.lineno or 1, max((e.offset or 1) - 1, 0)
        raise Refusal(node, 'the file does not parse: %s' % e.msg) from None
    block = BlockFile()
    block.tree = tree
    for index, statement in enumerate(tree.body):
        if index == 0 and is_docstring(statement):
            continue
        read_statement(block, statement)
    decorator = DECORATOR_OF_KIND.get(kind)
    if decorator is None:
        raise Refusal(None, '%s blocks are not compiled' % kind)
    functions = block.functions.get(decorator, [])
    others = [d for d in block.functions if d != decorator]
    if others:
        fn = block.functions[others[0]][0]
        raise Refusal(fn, 'a @%s function in a %s block is not compiled' % (others[0], kind))
    if len(functions) != 1:
        raise Refusal(functions[1] if functions else None,
                      'a %s block needs exactly one @%s function to compile (it has %d)'
                      % (kind, decorator, len(functions)))
    return block, functions[0]


def read_statement(block, statement):
    """Accepts one top-level statement into block, or raises Refusal."""
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            check_module(statement, alias.name)
            if alias.asname:
                block.names[alias.asname] = Module(alias.name)
            else:  # `import os.path` binds os
                top = alias.name.split('.')[0]
                block.names[top] = Module(top)
    elif isinstance(statement, ast.ImportFrom):
        read_import_from(block, statement)
    elif isinstance(statement, ast.If) and is_preamble(statement):
        read_import_from(block, statement.body[0])
    elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
        read_constant(block, statement)
    elif isinstance(statement, ast.FunctionDef):
        read_function(block, statement)
    elif is_docstring(statement):
        pass
    else:
        raise Refusal(statement, 'top-level code (%s) runs when Python loads the file; it is not '
                                 'compiled' % describe(statement))


def check_module(node, name):
    """Refuses an import of a module the compiler does not know."""
    if name not in KNOWN_MODULES:
        raise Refusal(node, 'importing %s may do anything; only blocks that import pandas, numpy, '
                            'io, os, requests, re, datetime, typing, json, math and mage_ai are '
                            'compiled' % name)


def read_import_from(block, statement):
    """`from x import y [as z]` of a known module or a mage_ai name the stand-in provides."""
    module = statement.module or ''
    if statement.level:
        raise Refusal(statement, 'relative imports are not compiled')
    for alias in statement.names:
        if alias.name == '*':
            raise Refusal(statement, 'from %s import * is not compiled' % module)
        if module.startswith('mage_ai'):
            if alias.name not in MAGE_NAMES.get(module, ()):
                raise Refusal(statement, '%s.%s is not part of what pg_pipeline provides of mage_ai'
                              % (module, alias.name))
        else:
            check_module(statement, module)
        block.names[alias.asname or alias.name] = Module(module + '.' + alias.name)


def is_preamble(statement):
    """Mage's `if 'x' not in globals(): from mage_ai.data_preparation.decorators import x`."""
    test = statement.test
    return (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.NotIn)
            and isinstance(test.left, ast.Constant) and isinstance(test.left.value, str)
            and isinstance(test.comparators[0], ast.Call)
            and isinstance(test.comparators[0].func, ast.Name)
            and test.comparators[0].func.id == 'globals' and not test.comparators[0].args
            and not statement.orelse and len(statement.body) == 1
            and isinstance(statement.body[0], ast.ImportFrom)
            and statement.body[0].module == 'mage_ai.data_preparation.decorators')


def read_constant(block, statement):
    """NAME = <literal> at the top level (also annotated)."""
    if isinstance(statement, ast.AnnAssign):
        targets, value = [statement.target], statement.value
    else:
        targets, value = statement.targets, statement.value
    if value is None or not is_literal(value):
        raise Refusal(statement, 'top-level code (%s) runs when Python loads the file; only plain '
                                 'literal constants are compiled' % describe(statement))
    for target in targets:
        if not isinstance(target, ast.Name):
            raise Refusal(target, 'top-level assignment to %s is not compiled' % describe(target))
        block.names[target.id] = Const(literal_value(value))


class Helper:
    """An undecorated function of one parameter whose body is only assignments to names and a
    return (`def camel_to_snake(name): name = re.sub(...); return ....lower()`): a transformer
    evaluates its body where it is called (compile_transform.py), as an expression of its
    argument; anywhere else calling it keeps the block in Python."""

    def __init__(self, fn):
        self.fn = fn
        self.parameter = fn.args.args[0].arg
        body = fn.body[1:] if is_docstring(fn.body[0]) else fn.body
        self.assignments = body[:-1]
        self.result = body[-1].value


def read_helper(fn):
    """A Helper for fn, or a Refusal saying which part of it is not compiled."""
    a = fn.args
    if a.posonlyargs or a.kwonlyargs or a.defaults or a.kw_defaults or a.vararg or a.kwarg \
            or len(a.args) != 1:
        raise Refusal(fn, 'function %s: only helper functions of one plain parameter are compiled; '
                          'this one keeps the block in Python' % fn.name)
    body = fn.body[1:] if is_docstring(fn.body[0]) else fn.body
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise Refusal(fn, 'function %s: a helper function is compiled only when it ends with a '
                          'return of a value' % fn.name)
    for statement in body[:-1]:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise Refusal(statement, 'function %s: a helper function is compiled only when its body '
                                     'assigns names and returns (%s is not)'
                          % (fn.name, describe(statement)))
    return Helper(fn)


def read_function(block, fn):
    """A decorated function (the block function, by its decorator, or a @test) or a helper."""
    if not fn.decorator_list:
        block.names[fn.name] = read_helper(fn)
        return
    if len(fn.decorator_list) != 1 or not isinstance(fn.decorator_list[0], ast.Name):
        raise Refusal(fn, 'function %s: only functions with one Mage decorator (@transformer, '
                          '@test, ...) or none (a helper) are compiled' % fn.name)
    decorator = fn.decorator_list[0].id
    if decorator == 'test':
        block.tests.append(fn)
    elif decorator in BLOCK_DECORATORS:
        block.functions.setdefault(decorator, []).append(fn)
    else:
        raise Refusal(fn.decorator_list[0], '@%s functions are not compiled' % decorator)
    block.names.pop(fn.name, None)


def assigned_names(fn):
    """Every name the function assigns: Python makes each local for the whole function."""
    names = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
    return names


def parameters(fn, upstream_count):
    """The block function's parameters: ([positional names], *args name, **kwargs name), checked
    against what the runner passes (the upstream outputs positionally, the rest as keywords)."""
    a = fn.args
    if a.posonlyargs or a.kwonlyargs or a.defaults or a.kw_defaults:
        raise Refusal(fn, 'function %s: defaults and keyword-only parameters are not compiled'
                      % fn.name)
    names = [p.arg for p in a.args]
    if len(names) > upstream_count:
        raise Refusal(fn.args.args[upstream_count],
                      'function %s: parameter %s gets no upstream output (the block has %d '
                      'upstream blocks)' % (fn.name, names[upstream_count], upstream_count))
    return names, a.vararg.arg if a.vararg else None, a.kwarg.arg if a.kwarg else None
