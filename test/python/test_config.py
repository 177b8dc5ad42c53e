"""ConfigFileLoader: env_var() rendered before the YAML is parsed, unset variables reported by
name when their setting is read, and the run's io_config entry laid over the file's profile."""

import os
import tempfile
import unittest

import support  # noqa: F401  (sys.path)
from mage_ai.io.config import ConfigError, ConfigFileLoader, ConfigKey, render_env_vars
from mage_ai.io.postgres import Postgres
from pg_pipeline_runtime import context
from pg_pipeline_runtime.runner import Request

IO_CONFIG = '''version: 0.1.1
default:
  POSTGRES_DBNAME: postgres
dev:
  POSTGRES_CONNECT_TIMEOUT: 10
  POSTGRES_DBNAME: "{{ env_var('PGP_TEST_DBNAME') }}"
  POSTGRES_SCHEMA: "{{ env_var('PGP_TEST_SCHEMA', 'analytics') }}"
  POSTGRES_USER: "{{env_var("PGP_TEST_USER")}}"
  POSTGRES_PASSWORD: "{{ env_var('PGP_TEST_PASSWORD_NOT_SET') }}"
  POSTGRES_PORT: {{ env_var('PGP_TEST_PORT') }}
'''


def run_context(io_config=None, project_dir=None):
    """A RunContext whose request carries io_config and project_dir."""
    request = Request({'kind': 'data_exporter', 'block': 'e', 'source': '',
                       'io_config': io_config or {}, 'project_dir': project_dir})
    return context.RunContext(None, request, None)


class ConfigTest(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.folder.name, 'io_config.yaml')
        with open(self.path, 'w') as f:
            f.write(IO_CONFIG)
        self.saved = dict(os.environ)
        os.environ.update(PGP_TEST_DBNAME='ny_taxi', PGP_TEST_USER='root', PGP_TEST_PORT='5432')
        os.environ.pop('PGP_TEST_PASSWORD_NOT_SET', None)
        os.environ.pop('PGP_TEST_SCHEMA', None)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)
        self.folder.cleanup()

    def test_env_vars_are_rendered_before_parsing(self):
        loader = ConfigFileLoader(self.path, 'dev')
        self.assertEqual(loader['POSTGRES_DBNAME'], 'ny_taxi')
        self.assertEqual(loader[ConfigKey.POSTGRES_USER], 'root')
        self.assertEqual(loader['POSTGRES_PORT'], 5432)  # unquoted: YAML reads an integer
        self.assertEqual(loader['POSTGRES_CONNECT_TIMEOUT'], 10)

    def test_a_default_stands_in_for_an_unset_variable(self):
        self.assertEqual(ConfigFileLoader(self.path, 'dev')['POSTGRES_SCHEMA'], 'analytics')

    def test_an_unset_variable_is_named_when_its_setting_is_read(self):
        loader = ConfigFileLoader(self.path, 'dev')  # reading the other settings works
        with self.assertRaisesRegex(ConfigError, 'POSTGRES_PASSWORD uses environment variable '
                                                 'PGP_TEST_PASSWORD_NOT_SET, which is not set'):
            loader['POSTGRES_PASSWORD']
        with self.assertRaisesRegex(ConfigError, 'PGP_TEST_PASSWORD_NOT_SET'):
            loader.get(ConfigKey.POSTGRES_PASSWORD)

    def test_render_keeps_other_text(self):
        self.assertEqual(render_env_vars("a: {{ env_var('X') }} {{ other }}", {'X': '1'}),
                         'a: 1 {{ other }}')

    def test_an_unknown_profile_is_this_database_until_a_setting_is_read(self):
        loader = ConfigFileLoader(self.path, 'prod')  # Postgres.with_config needs no setting
        self.assertFalse(loader.pg_pipeline_remote)
        with self.assertRaisesRegex(ConfigError, 'profile "prod" is not defined .* no setting POSTGRES_HOST'):
            loader['POSTGRES_HOST']

    def test_the_runs_io_config_wins_and_marks_remote(self):
        ctx = run_context({'dev': {'pg_pipeline_remote': True, 'POSTGRES_DBNAME': 'other'}})
        with context.running(ctx):
            loader = ConfigFileLoader(self.path, 'dev')
        self.assertTrue(loader.pg_pipeline_remote)
        self.assertEqual(loader['POSTGRES_DBNAME'], 'other')
        self.assertEqual(loader['POSTGRES_USER'], 'root')

    def test_a_profile_without_the_mark_is_this_database(self):
        loader = ConfigFileLoader(self.path, 'dev')
        self.assertFalse(loader.pg_pipeline_remote)
        self.assertFalse(Postgres.with_config(loader).remote)

    def test_without_the_file_the_runs_io_config_is_used(self):
        ctx = run_context({'dev': {'POSTGRES_SCHEMA': 'ny_taxi'}}, project_dir=None)
        with context.running(ctx):
            loader = ConfigFileLoader('/nonexistent/io_config.yaml', 'dev')
        self.assertEqual(loader['POSTGRES_SCHEMA'], 'ny_taxi')

    def test_the_default_path_is_the_projects_io_config(self):
        with context.running(run_context(project_dir=self.folder.name)):
            from mage_ai.settings.repo import get_repo_path
            self.assertEqual(get_repo_path(), self.folder.name)
            self.assertEqual(ConfigFileLoader(profile='dev')['POSTGRES_DBNAME'], 'ny_taxi')

    def test_a_remote_profile_needs_its_password(self):
        ctx = run_context({'dev': {'pg_pipeline_remote': True, 'POSTGRES_HOST': '127.0.0.1'}})
        with context.running(ctx):
            loader = Postgres.with_config(ConfigFileLoader(self.path, 'dev'))
            with self.assertRaisesRegex(ConfigError, 'PGP_TEST_PASSWORD_NOT_SET'):
                loader.open()

    def test_a_remote_profile_needs_a_host(self):
        ctx = run_context({'dev': {'pg_pipeline_remote': True}})
        with context.running(ctx):
            loader = Postgres.with_config(ConfigFileLoader(self.path, 'dev'))
            with self.assertRaisesRegex(ConfigError, 'needs POSTGRES_HOST'):
                loader.open()


if __name__ == '__main__':
    unittest.main()
