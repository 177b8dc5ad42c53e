"""The mage_ai decorators register block functions where the runner finds them, and block
files import them through Mage's `if 'x' not in globals()` preamble."""

import types
import unittest

import support  # noqa: F401  (sys.path)
from mage_ai.data_preparation import decorators
from pg_pipeline_runtime import context
from pg_pipeline_runtime.runner import Request

BLOCK = '''
if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test

@transformer
def transform(data, *args, **kwargs):
    return data

@test
def test_output(output, *args) -> None:
    assert output is not None
'''


def a_context():
    """A RunContext for a minimal request."""
    request = Request({'kind': 'transformer', 'block': 'b', 'source': ''})
    return context.RunContext(None, request, None)


class DecoratorTest(unittest.TestCase):

    def test_bare_decorator_returns_the_function_and_registers_it(self):
        ctx = a_context()
        with context.running(ctx):
            def f():
                return 1
            self.assertIs(decorators.data_loader(f), f)
        self.assertEqual(ctx.registry.of_kind('data_loader'), [f])

    def test_called_decorator_registers_too(self):
        ctx = a_context()
        with context.running(ctx):
            @decorators.callback('success')
            def on_done(*args, **kwargs):
                pass
        self.assertEqual(ctx.registry.of_kind('callback'), [on_done])

    def test_every_mage_decorator_exists(self):
        for name in ('data_loader', 'transformer', 'data_exporter', 'custom', 'sensor', 'test',
                     'condition', 'callback', 'on_success', 'on_failure'):
            self.assertTrue(callable(getattr(decorators, name)), name)

    def test_block_file_in_a_fresh_namespace_imports_ours(self):
        ctx = a_context()
        module = types.ModuleType('block')
        with context.running(ctx):
            exec(compile(BLOCK, 'transformers/b.py', 'exec'), module.__dict__)
        self.assertEqual([f.__name__ for f in ctx.registry.of_kind('transformer')], ['transform'])
        self.assertEqual([f.__name__ for f in ctx.registry.of_kind('test')], ['test_output'])

    def test_registrations_outside_a_run_do_not_reach_a_run(self):
        decorators.custom(lambda: None)
        ctx = a_context()
        self.assertEqual(ctx.registry.of_kind('custom'), [])

    def test_unknown_names_say_pg_pipeline_does_not_support_them(self):
        import mage_ai.io.config
        with self.assertRaisesRegex(AttributeError, r'mage_ai.io.config.S3 is not supported by pg_pipeline'):
            mage_ai.io.config.S3
        with self.assertRaisesRegex(AttributeError, 'mage_ai.data_preparation.decorators.streaming_source'):
            decorators.streaming_source


if __name__ == '__main__':
    unittest.main()
