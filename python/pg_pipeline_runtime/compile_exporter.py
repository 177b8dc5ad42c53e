"""Data exporters: `Postgres.with_config(ConfigFileLoader(config_path, config_profile))
.export(df, schema, table, index=False, if_exists=...)`, inside `with ... as loader:` or not,
with literals or local constants, become a native exporter publishing the block's one
upstream. The profile must mean this database (an io_config entry with "pg_pipeline_remote":
true is another server, and that block stays Python).

Mage's export lower-cases column names (so does the Python path unless case_sensitive=True or
the run says lowercase_columns: false); the native block says so with a rename_columns step.
"""

import ast
import re

from .compile_base import Const, Refusal, describe, keywords_of, no_starred, not_a_shape
from .compile_values import Evaluator

IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
EXPORT_OPTIONS = {'df', 'schema_name', 'table_name', 'index', 'if_exists', 'case_sensitive'}
IF_EXISTS = ('replace', 'append', 'fail')


class Upstream:
    """The exporter's input DataFrame (its first parameter), as given."""


class RepoPath:
    """get_repo_path()"""


class ConfigPath:
    """path.join(get_repo_path(), '<file>')"""


class ConfigFile:
    """ConfigFileLoader(config_path, profile)"""

    def __init__(self, profile):
        self.profile = profile


class Connection:
    """Postgres.with_config(ConfigFileLoader(...)): a connection for one profile."""

    def __init__(self, profile):
        self.profile = profile


class ExporterEvaluator(Evaluator):
    """Reads a @data_exporter function."""

    def __init__(self, *args):
        super().__init__(*args)
        self.exports = []  # (call node, target dict, lowercase)

    def module_call(self, node, path):
        """get_repo_path, path.join, ConfigFileLoader, Postgres.with_config."""
        no_starred(node)
        if path == 'mage_ai.settings.repo.get_repo_path' and not node.args and not node.keywords:
            return RepoPath()
        if path == 'os.path.join' and len(node.args) == 2 and not node.keywords:
            base, name = [self.value(a) for a in node.args]
            if isinstance(base, RepoPath) and isinstance(name, Const) and isinstance(name.value, str):
                return ConfigPath()
        if path == 'mage_ai.io.config.ConfigFileLoader':
            return self.config_file(node)
        if path == 'mage_ai.io.postgres.Postgres.with_config' and len(node.args) == 1 and not node.keywords:
            config = self.value(node.args[0])
            if isinstance(config, ConfigFile):
                return Connection(config.profile)
        return super().module_call(node, path)

    def config_file(self, node):
        """ConfigFileLoader(filepath[, profile]) with a constant profile (Mage's default: 'default')."""
        keywords = keywords_of(node, {'filepath', 'profile'})
        args = list(node.args) + [keywords[k] for k in ('filepath', 'profile') if k in keywords]
        if len(node.args) + len(keywords) != len(args) or not 1 <= len(args) <= 2:
            raise Refusal(node, 'ConfigFileLoader(filepath, profile) is compiled only with both given once')
        where = self.value(args[0])
        profile = self.value(args[1]) if len(args) == 2 else Const('default')
        if not isinstance(where, ConfigPath):
            raise Refusal(args[0], 'the io_config path %s is not compiled (path.join(get_repo_path(), '
                                   "'io_config.yaml') is)" % describe(args[0]))
        if not isinstance(profile, Const) or not isinstance(profile.value, str):
            raise Refusal(args[-1], 'the io_config profile must be a constant string to compile')
        remote = (self.request.get('io_config') or {}).get(profile.value) or {}
        if remote.get('pg_pipeline_remote') is True:
            raise Refusal(args[-1], "the io_config profile '%s' is another server "
                                   '(pg_pipeline_remote); exports there stay Python' % profile.value)
        return ConfigFile(profile.value)

    def method_call(self, node, holder, name):
        """loader.export(...)."""
        if isinstance(holder, Connection) and name == 'export':
            return self.export(node, holder)
        return super().method_call(node, holder, name)

    def export(self, node, connection):
        """loader.export(df, schema_name, table_name, index=False, if_exists=...)."""
        no_starred(node)
        keywords = keywords_of(node, EXPORT_OPTIONS)
        names = ['df', 'schema_name', 'table_name', 'index', 'if_exists']
        if len(node.args) > len(names):
            raise not_a_shape(node)
        given = dict(zip(names, node.args))
        for key, value in keywords.items():
            if key in given:
                raise Refusal(value, 'export() gets %s twice' % key)
            given[key] = value
        if 'df' not in given or not isinstance(self.value(given['df']), Upstream):
            raise Refusal(given.get('df', node), "only exports of the block's input DataFrame, as "
                                                 'given, are compiled')
        values = {k: self.value(v) for k, v in given.items() if k != 'df'}
        for key, value in values.items():
            if not isinstance(value, Const):
                raise Refusal(given[key], 'export(%s=...) must be a constant to compile' % key)
        values = {k: v.value for k, v in values.items()}
        schema, table = values.get('schema_name'), values.get('table_name')
        for key, name in (('schema_name', schema), ('table_name', table)):
            if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or len(name) > 63:
                raise Refusal(given.get(key, node), 'export() to %s %r is not compiled: a literal '
                                                    'name of ASCII letters, digits and underscores '
                                                    'is' % (key, name))
        if values.get('index', False) is not False:
            raise Refusal(given['index'], 'export(index=True) writes the index; it is not compiled')
        if_exists = values.get('if_exists', 'replace')
        if if_exists not in IF_EXISTS:
            raise Refusal(given.get('if_exists', node), 'export(if_exists=%r) is not compiled' % (if_exists,))
        case_sensitive = values.get('case_sensitive', False)
        if not isinstance(case_sensitive, bool):
            raise Refusal(given['case_sensitive'], 'case_sensitive must be True or False')
        lowercase = not case_sensitive and self.request.get('lowercase_columns', True) is not False
        self.exports.append((node, {'schema': schema, 'table': table, 'if_exists': if_exists},
                             lowercase, connection.profile))
        return Const(None)

    def statement(self, statement):
        """Also `with Postgres.with_config(...) as loader:`."""
        if isinstance(statement, ast.With):
            self.with_statement(statement)
            return
        super().statement(statement)

    def with_statement(self, statement):
        """with Postgres.with_config(...) as loader: <body>."""
        if len(statement.items) != 1:
            raise not_a_shape(statement)
        item = statement.items[0]
        connection = self.value(item.context_expr)
        if not isinstance(connection, Connection):
            raise Refusal(item.context_expr, 'with %s is not compiled' % describe(item.context_expr))
        if item.optional_vars is not None:
            self.bind(item.optional_vars, connection)
        for inner in statement.body:
            self.statement(inner)


def compile_exporter(request, block_file, fn, log):
    """The native block of a @data_exporter, or raises Refusal."""
    from .compile_module import parameters
    upstream = list(request.get('upstream') or [])
    names, vararg, kwarg = parameters(fn, len(upstream))
    if len(upstream) != 1 or len(names) != 1:
        raise Refusal(fn, 'only exporters of exactly one upstream block, taken as the first '
                          'parameter, are compiled')
    evaluator = ExporterEvaluator(request, block_file, fn, log)
    evaluator.bind_parameters(names, [Upstream()], vararg, kwarg)
    returned, value = evaluator.run_body(fn.body)
    if not (isinstance(value, Const) and value.value is None):
        raise Refusal(returned, 'an exporter that returns a value is not compiled')
    if len(evaluator.exports) != 1:
        raise Refusal(evaluator.exports[1][0] if evaluator.exports else fn,
                      'only exporters that export exactly once are compiled')
    _, target, lowercase, profile = evaluator.exports[0]
    block = {'type': 'data_exporter', 'target': target}
    notes = ["exports through the io_config profile '%s', which means this database" % profile]
    if lowercase:
        block['rename_columns'] = [{'expression': 'lower(name)'}]
        notes.append('rename_columns: column names are lower-cased as Mage exports them')
    return block, notes
